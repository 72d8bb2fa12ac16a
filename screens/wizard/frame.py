"""The wizard's frame around the step shown: the step list on the left, and the button row (a status line, Back,
Next or Finish, Cancel) at the bottom. Both show what the wizard hands them; they decide nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Static

from ..dialogs.common import ConfirmModal
from .draft import Step


class StepList(Static):
    """Every step of the draft's path: done ones ticked (✔ valid, ✘ not), the current one highlighted, the ones
    ahead dimmed."""

    DEFAULT_CSS = """
    StepList { width: 25; height: 1fr; border: round $primary; border-title-color: $text-primary;
        padding: 0 0 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "Steps"

    def show(self, steps: Sequence[Step], index: int, valid: Callable[[Step], bool]) -> None:
        text = Text()
        for number, step in enumerate(steps):
            if number == index:
                text.append("▸ ", style="bold")
                text.append(step.heading, style="bold reverse")
            elif number < index:
                ok = valid(step)
                text.append("✔ " if ok else "✘ ", style="green" if ok else "red")
                text.append(step.heading)
            else:
                text.append("  ")
                text.append(step.heading, style="dim")
            text.append("\n")
        self.update(text)


def status_line(step: Step, errors: dict[str, str], *, lab: bool) -> Text | str:
    """What the button row says while a step before Configuration is shown: what keeps Next disabled, or the lab's
    shortcut."""
    if errors and step in (Step.SIGN_IN, Step.PLAN):
        return Text(next(iter(errors.values())), style="dim")
    if errors:
        count = len(errors)
        return Text(f"{count} field{'s' if count != 1 else ''} to complete", style="dim")
    if lab:
        return Text("ctrl+l: the lab's values", style="dim")
    return ""


class ButtonRow(Horizontal):
    """The status line, then Back, Next (Apply on an unapplied plan, Finish on the last step) and Cancel."""

    DEFAULT_CSS = """
    ButtonRow #wizard-status { width: 1fr; height: 3; content-align: left middle; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="wizard-status")
        yield Button("Back  alt+b", id="back")
        yield Button("Next  alt+n", id="next", variant="primary")
        yield Button("Cancel  esc", id="cancel")

    def show(self, next_label: str, *, can_back: bool, can_next: bool, status: Text | str) -> None:
        next_button = self.query_one("#next", Button)
        next_button.label = f"{next_label}  alt+n"
        next_button.disabled = not can_next
        self.query_one("#back", Button).disabled = not can_back
        self.query_one("#wizard-status", Static).update(status)


def leave_dialog(editing: bool, tenant: str, removal: list[tuple[str, str]]) -> ConfirmModal:
    """Cancel's question once something was entered; `tenant` and `removal` say what a registration left in the
    tenant and how to remove it, as Quit says it."""
    entered = "Your edits are" if editing else "What you entered is"
    return ConfirmModal(
        "Cancel",
        f"Leave the wizard? {entered} discarded; nothing was saved.{tenant}",
        removal,
        yes="Discard",
        no="Keep editing",
    )
