"""rectification plugin."""
