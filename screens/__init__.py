"""The terminal console: the app shell, the dashboard, the connection manager, the verification and fleet
views, and their dialogs. Imports the core (`workbench`) and `storage`; nothing imports it but the CLI, lazily."""

from .app import WorkbenchApp

__all__ = ["WorkbenchApp"]
