"""ranking plugin."""
