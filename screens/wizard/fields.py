"""A labelled field of the wizard: the label and its hint (wrapped, never cut), the control, and a line under it
for the validator's message (or a warning). Compact controls, so that a step fits at 80×24."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Label, RadioButton, Static

from ..render.literal import literal


class Field(Vertical):
    """First the label (bold) and a short hint (dim), wrapped when narrow. Then the control. Last, only while
    there is one: the validator's message or a warning."""

    DEFAULT_CSS = """
    Field { height: auto; margin-bottom: 1; }
    Field > .field-label { height: auto; width: 100%; }
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
        head = Text(self.label, style="bold")  # wraps: a hint cut at 80 columns would hide what it is for
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


class Choice(RadioButton):
    """A radio button whose label wraps (Textual's is one line, cut with "…" at 80 columns)."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self.render().wrap(width)))
