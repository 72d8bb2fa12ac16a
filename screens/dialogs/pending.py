"""The pending changes, field by field: what OK will write."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from storage import Change, ChangeKind
from workbench.describe import field_label

from ..render.literal import shown

KIND_STYLE = {ChangeKind.ADDED: "bold green", ChangeKind.EDITED: "bold yellow", ChangeKind.DELETED: "bold red"}


def value(item: Any) -> str:
    if item is None:
        return "—"
    if isinstance(item, list | tuple):
        return ", ".join(shown(v) for v in item) or "(none)"
    return shown(item, 200)


def render(changes: list[Change]) -> Text:
    text = Text()
    if not changes:
        text.append("Nothing is pending: what you see is what is saved.", style="dim")
        return text
    for index, change in enumerate(changes):
        if index:
            text.append("\n")
        text.append(f"{change.kind.value.upper():<8}", style=KIND_STYLE[change.kind])
        text.append(shown(change.connection.name, 60), style="bold")
        text.append("\n")
        if change.kind is ChangeKind.DELETED:
            text.append("  removed on OK, with its secrets in the vault\n", style="dim")
            continue
        for field in change.fields():
            text.append(f"  {field_label(field.path)}\n", style="cyan")
            if change.kind is ChangeKind.EDITED:
                text.append("    - ", style="red")
                text.append(value(field.before) + "\n", style="red")
            text.append("    + ", style="green")
            text.append(value(field.after) + "\n", style="green")
    text.rstrip()
    return text


class PendingModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,p,q", "close", "Close", id="pending.close"),
    ]

    def __init__(self, changes: list[Change]) -> None:
        super().__init__(classes="dialog-screen")
        self._changes = changes

    def compose(self) -> ComposeResult:
        count = len(self._changes)
        with Vertical(classes="dialog wide"):
            yield Label(f"Pending changes · {count}", classes="dialog-title")
            with VerticalScroll(classes="dialog-details", id="pending-diff"):
                yield Static(render(self._changes))
            yield Label(
                "escape closes · ctrl+s in the manager saves them all, escape there discards them",
                classes="dialog-hint",
            )

    def action_close(self) -> None:
        self.dismiss(None)
