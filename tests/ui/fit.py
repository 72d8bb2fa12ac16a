"""What "everything fits at 80x24" means, checked on a running console: no text on the screen is cut short
without an ellipsis, whether the widget itself cropped it (a label that does not wrap, a table cell narrower than
its value, a description one line high) or a container clipped the widget (a footer wider than the terminal).

The check reads what each visible widget rendered and compares it with the text the widget was given:
- a line whose last visible word is only the beginning of a word of that text was cut mid-word;
- a widget shown whole (not scrolled partly out of view) that rendered fewer words than it was given, with no
  ellipsis, lost the rest of its text;
- a table cell wider than its column must end in an ellipsis.
A word that is itself a whole word of the text ("the" cut from "then") is not caught as a mid-word cut.
"""

from __future__ import annotations

import re
from typing import Any

from rich.cells import cell_len
from textual.app import App
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, OptionList, Static, TextArea
from textual.widgets._footer import FooterKey
from textual.widgets._toggle_button import ToggleButton

WORD = re.compile(r"\w+")
TAIL = re.compile(r"\w+$")


def _words(text: str) -> set[str]:
    return set(WORD.findall(text))


def _given_text(widget: Widget) -> str | None:
    """The whole text a widget was asked to show, or None for widgets this check does not read."""
    if isinstance(widget, FooterKey):
        return f"{widget.key_display} {widget.description}"
    if isinstance(widget, ToggleButton | Button):
        return str(widget.label)
    if isinstance(widget, Static | Label):
        rendered = widget.render()
        if type(rendered).__name__ == "RichVisual":  # a Rich table or panel: laid out by Rich, not read here
            return None
        return str(rendered)
    if isinstance(widget, OptionList):
        return "\n".join(str(option.prompt) for option in widget.options)
    if isinstance(widget, TextArea):
        return widget.text
    return None


def _cut(visible: str, words: set[str]) -> str | None:
    """The cut word a visible line ends with, if it ends with one."""
    tail = TAIL.search(visible.rstrip())
    if tail is None or not visible.rstrip().endswith(tail.group()):
        return None
    word = tail.group()
    if word in words or not any(w.startswith(word) and len(w) > len(word) for w in words):
        return None
    return word


def _table_cuts(table: DataTable[Any], name: str) -> list[str]:
    """Cells wider than their column, shown without an ellipsis."""
    found = []
    padding = table.cell_padding
    for column in table.columns.values():
        room = column.get_render_width(table) - 2 * padding
        for row_key in list(table.rows)[: table.size.height]:
            value = table.get_cell(row_key, column.key)
            plain = value.plain if hasattr(value, "plain") else str(value)
            if cell_len(plain) > room and not plain.endswith("…"):
                line = f"{name}: column {str(column.label)!r} ({room} cells) cuts {plain!r}"
                found.append(line)
    return found


def cut_words(app: App[Any]) -> list[str]:
    """Every line of the screen in front (a dialog included) that ends in a cut word without an ellipsis."""
    found: list[str] = []
    screen = app.screen
    for widget, (region, clip) in screen._compositor.visible_widgets.items():
        name = f"{type(widget).__name__}#{widget.id or '?'} on {type(widget.screen).__name__}"
        if isinstance(widget, DataTable):
            found += _table_cuts(widget, name)
            continue
        given = _given_text(widget)
        if not given:
            continue
        words = _words(given)
        shown = region.intersection(clip)
        if not shown:
            continue
        left, right = shown.x - region.x, shown.right - region.x
        lines = widget.render_lines(Region(0, 0, region.width, region.height))
        if shown == region and not isinstance(widget, OptionList | TextArea):  # (those two scroll themselves)
            rendered = " ".join(line.text for line in lines)
            lost = sorted(words - _words(rendered), key=given.find)
            if lost and "…" not in rendered:
                found.append(f"{name}: {given!r} is shown without {' '.join(lost)!r}")
        for y in range(shown.y - region.y, shown.bottom - region.y):
            if y >= len(lines):
                break
            whole = lines[y].text
            visible = whole[left:right]
            word = _cut(visible, words)
            clipped = right < len(whole.rstrip()) and whole[right - 1 : right + 1].isalnum()
            if word is not None or clipped:
                found.append(f"{name}: {visible.strip()!r}")
    return found
