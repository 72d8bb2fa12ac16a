"""Text from users, files and servers on screen: never markup, never a control sequence, never a wall.

Every label, cell and notification that shows a connection name, a UPN, a server name, an error text or a
certificate field goes through `literal()`: the result is a `rich.text.Text` (which Textual never parses as
markup) of the `workbench.text.visible` form of the value, cut to a length that fits where it is shown.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from workbench.text import visible


def shown(value: object, limit: int | None = None) -> str:
    """The value as one safe line: escapes for control and invisible characters, cut with an ellipsis to at most
    `limit` terminal cells (a CJK character or an emoji takes two)."""
    text = visible(str(value))
    if limit is not None and cell_len(text) > limit:
        kept = set_cell_size(text, max(limit - 1, 0)).rstrip(" ") if limit > 1 else ""
        return kept + "…"
    return text


def shown_apart(values: list[str], limit: int) -> list[str]:
    """Each value as `shown(value, limit)`, except that values which would then look the same (two names that
    differ only at their end) keep their end instead: "Cont…ction 1", "Cont…ction 2"."""
    cut = [shown(v, limit) for v in values]
    seen: dict[str, set[str]] = {}
    for value, short in zip(values, cut, strict=True):
        seen.setdefault(short, set()).add(value)
    return [_middle(v, limit) if len(seen[c]) > 1 else c for v, c in zip(values, cut, strict=True)]


def _middle(value: str, limit: int) -> str:
    """The value cut in its middle to at most `limit` cells: its start, "…", and as much of its end as fits."""
    text = visible(value)
    if cell_len(text) <= limit or limit < 5:
        return shown(value, limit)
    head = set_cell_size(text, (limit - 1) * 2 // 5).rstrip(" ")
    room = limit - 1 - cell_len(head)
    tail = ""
    for char in reversed(text):
        if cell_len(char + tail) > room:
            break
        tail = char + tail
    return f"{head}…{tail}"


def literal(value: object, limit: int | None = None, style: str = "") -> Text:
    """`shown(value)` as a Text: Textual draws it as it is."""
    return Text(shown(value, limit), style=style, no_wrap=limit is not None, overflow="ellipsis")


def paragraph(value: object, style: str = "") -> Text:
    """A multi-line text from outside (a raw error, a command) laid out as it is, wrapped by the widget."""
    return Text(visible(str(value), multiline=True), style=style)
