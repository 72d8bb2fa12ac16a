"""A paste is text, never key presses.

Textual's terminal parser (8.x) reads an ESC inside a bracketed paste as the start of a key sequence: what
follows it leaves the paste and is reissued as keys, so a pasted `ESC x ctrl+s` pressed ctrl+s (saving pending
changes) and `ESC Z ctrl+q y` quit and discarded them. This parser sits in front of Textual's: inside a bracketed
paste it rewrites every ESC that does not begin the end marker as its visible escape (`\\x1b`, as everything else
the console shows), so Textual's parser sees plain text up to the end marker and hands the whole paste over as one
`Paste` event. Keys outside a paste reach Textual's parser unchanged, at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser

from workbench.text import visible

ESC = "\x1b"
SHOWN_ESC = visible(ESC)


def _partial_end(text: str, marker: str) -> int:
    """How many characters at the end of `text` could be the beginning of `marker` (cut by a read)."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


class PasteGuardParser(XTermParser):
    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._pasting = False
        self._held = ""  # the end of a read that may be the start of the paste's end marker
        self._recent = ""  # the last characters passed on outside a paste (a start marker cut by a read)

    def feed(self, data: str) -> Iterable[Any]:
        if not data:  # the end of input
            return super().feed(data)
        return list(super().feed(self._guard(data))) if data else []

    def _guard(self, data: str) -> str:
        out: list[str] = []
        while data:
            if not self._pasting:
                seen = self._recent + data
                start = seen.find(BRACKETED_PASTE_START)
                if start == -1:
                    out.append(data)
                    self._recent = seen[-(len(BRACKETED_PASTE_START) - 1) :]
                    return "".join(out)
                cut = start + len(BRACKETED_PASTE_START) - len(self._recent)
                out.append(data[:cut])
                data, self._recent, self._pasting = data[cut:], "", True
                continue
            data, self._held = self._held + data, ""
            end = data.find(BRACKETED_PASTE_END)
            if end == -1:
                keep = _partial_end(data, BRACKETED_PASTE_END)
                body, self._held = data[: len(data) - keep], data[len(data) - keep :]
                out.append(body.replace(ESC, SHOWN_ESC))
                return "".join(out)
            out.append(data[:end].replace(ESC, SHOWN_ESC) + BRACKETED_PASTE_END)
            data, self._pasting = data[end + len(BRACKETED_PASTE_END) :], False
        return "".join(out)


def install() -> None:
    """Make the console's terminal driver read input through the guard (Textual's Linux driver builds its parser
    from this name when its input thread starts; the contract test fails if that changes)."""
    from textual.drivers import linux_driver

    setattr(linux_driver, "XTermParser", PasteGuardParser)  # noqa: B010  (not an exported name of the module)
