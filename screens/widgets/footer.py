"""The key bar at the bottom of every page: Textual's footer, rebuilt only when what it shows changed.

Textual's footer rebuilds all its keys (unmounts and mounts a widget per key) whenever the screen's bindings may
have changed: on every focus move, every `check_action` refresh and every reactive declared with `bindings=True`.
Most of those leave the keys as they were: typing in a field, tabbing from one field to the next, a running check's
progress. Over SSH each rebuild is a relayout and a repaint of the whole bar; here it happens only when a key, its
description, its tooltip or whether it is enabled changed.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


def shown_keys(screen: Screen[Any], palette_key: str) -> tuple[Hashable, ...]:
    """What the footer shows of `screen`'s bindings: each shown key, its binding, whether it is enabled, its
    tooltip; and the command palette's key, which shows whatever its binding says."""
    return tuple(
        (key, active.binding, active.enabled, active.tooltip)
        for key, active in screen.active_bindings.items()
        if active.binding.show or key == palette_key
    )


class KeyFooter(Footer):
    """A footer that skips the rebuilds that would draw the same keys again."""

    _drawn: tuple[Hashable, ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            super().bindings_changed(screen)  # nothing is rebuilt now: the next change must not be skipped
            self._drawn = None
            return
        keys = shown_keys(screen, self.app.COMMAND_PALETTE_BINDING)
        if keys == self._drawn:
            return
        self._drawn = keys
        super().bindings_changed(screen)
