"""coverage plugin."""
