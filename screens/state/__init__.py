"""What the console works on and runs, without a widget: the workspace (data directory, pending changes, clock) and a
verification as the console runs it."""
