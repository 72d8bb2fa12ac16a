"""The console's one-line input. Every text field is one (a test keeps it so): a paste, whatever it holds, becomes
one bounded line the admin can read.

Textual's own Input takes a paste's first line, but whole: a 1 MB line froze the console for minutes (every key
re-measured and re-rendered it), and escape sequences in it went to the terminal as they were. Here a paste keeps
its first line, shows control characters as escapes (`\\x1b`: nothing pasted acts on the terminal), and fits the
field's `max_length` (MAX_LINE unless the field asks for another); when anything was left out, a notification
says so.
"""

from __future__ import annotations

import re
from typing import Any

from textual import events
from textual.widgets import Input

from workbench.text import visible

MAX_LINE = 4096  # characters in a field that names no limit of its own (a path, a filter, a URL)
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # what str.splitlines breaks on


def first_line(text: str) -> tuple[str, bool]:
    """The text up to its first line break, and whether there was more after it."""
    match = _LINE_BREAK.search(text)
    if match is None:
        return text, False
    return text[: match.start()], bool(text[match.end() :].strip())


class LineInput(Input):
    """An Input whose value stays one bounded, printable line, however it was pasted."""

    def __init__(self, *args: Any, max_length: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, max_length=max_length or MAX_LINE, **kwargs)

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()
        if not event.text:
            return
        limit = self.max_length or MAX_LINE
        line, more_lines = first_line(event.text)
        shown = visible(line[: limit + 1])  # what is past the limit is cut anyway: escaping it costs for nothing
        start, end = sorted(self.selection)
        room = max(limit - (len(self.value) - (end - start)), 0)
        self.replace(shown[:room], start, end)
        notes = []
        if more_lines:
            notes.append("only its first line was kept")
        if len(shown) > room:
            notes.append(f"it was cut to fit the field ({limit:,} characters)")
        if shown != line[: limit + 1]:
            notes.append("its control characters show as escapes")
        if notes:
            self.notify("Pasted text: " + "; ".join(notes) + ".", severity="warning", markup=False)
