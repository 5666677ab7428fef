"""accountability plugin."""
