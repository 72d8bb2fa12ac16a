"""The console's own widgets: the one-line input every text field is, and the path input with completion."""
