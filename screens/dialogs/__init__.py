"""Dialogs over a page: confirmations, secrets, paths, messages and help; the troubleshooting panel; the pending
changes; the offer to delete an app after its connection."""
