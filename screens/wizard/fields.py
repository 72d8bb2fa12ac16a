"""A labelled field of the wizard: the label, the control, and one line under it for the validator's message (or a
hint while the value is fine). Compact controls, so that a step fits at 80×24."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Label, Static

from ..literal import literal


class Field(Vertical):
    """Line 1: the label (bold) and a short hint (dim). Line 2: the control. Line 3, only while there is one: the
    validator's message or a warning."""

    DEFAULT_CSS = """
    Field { height: auto; margin-bottom: 1; }
    Field > .field-label { height: 1; width: 100%; }
    Field > .field-message { height: auto; display: none; }
    Field > .field-message.-error { color: $text-error; display: block; }
    Field > .field-message.-warning { color: $text-warning; display: block; }
    """

    def __init__(self, label: str, control: Widget, *, field: str, hint: str = "", id: str | None = None) -> None:
        super().__init__(id=id or f"field-{field}")
        self.field = field
        self.label = label
        self.control = control
        self.hint = hint

    def compose(self) -> ComposeResult:
        head = Text(self.label, style="bold", no_wrap=True, overflow="ellipsis")
        if self.hint:
            head.append(f"  {self.hint}", style="dim")
        yield Label(head, classes="field-label")
        yield self.control
        yield Static("", classes="field-message")

    def show(self, message: str | None, *, warning: str | None = None) -> None:
        """The validator's message (shown literally: it may quote what was typed), else a warning, else nothing."""
        line = self.query_one(".field-message", Static)
        line.set_class(message is not None, "-error")
        line.set_class(message is None and warning is not None, "-warning")
        if message is not None:
            line.update(Text("✘ ").append_text(literal(message)))
        elif warning is not None:
            line.update(Text("⚠ ").append_text(literal(warning)))
