"""The console's full pages: the dashboard, the connection manager, the fleet and a verification."""
