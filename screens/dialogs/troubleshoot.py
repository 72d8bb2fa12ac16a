"""The troubleshooting panel of one check: the problem's code and title, what happened (with the library's
redacted words, folded), the likely causes, the numbered fixes with their exact commands — one selected at a time,
shown selectable and copied with `c` — and the action the workbench can take itself, after a confirmation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Collapsible, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from workbench.checks.board import Row
from workbench.checks.events import Status
from workbench.checks.fix_commands import workbench_command
from workbench.checks.problems import ActionSpec, Fix, FixKind, Problem
from workbench.text import visible

from ..fixes import ACTION_LABELS, SUPPORTED
from ..render.literal import literal, paragraph, shown
from ..render.status import duration, mark

KIND_LABELS = {
    FixKind.POWERSHELL: "PowerShell",
    FixKind.PORTAL: "Portal",
    FixKind.GRAPH: "Graph",
    FixKind.SHELL: "Shell",
    FixKind.DNS: "DNS",
    FixKind.WORKBENCH: "Workbench",
    FixKind.ADVICE: "",
}
COPIED = {  # what `c` put on the clipboard, by the kind of fix
    FixKind.POWERSHELL: "PowerShell command",
    FixKind.PORTAL: "Portal path",
    FixKind.GRAPH: "Graph request",
    FixKind.SHELL: "Shell command",
    FixKind.DNS: "DNS records",
    FixKind.WORKBENCH: "Workbench command",
}


def fix_command(fix: Fix, connection: str, problem: Problem) -> str | None:
    """What the panel shows and `c` copies for a fix: its own command, or for an operation of the workbench the CLI
    line that does the same (for scripts and other machines). A command quotes values from servers as they came,
    escape sequences included; shown in a TextArea or pasted into a terminal they would act, so they are made
    visible (`\\x1b`) here, once, for both: the clipboard gets exactly what is shown."""
    if fix.kind is FixKind.WORKBENCH and fix.action is not None:
        command: str | None = workbench_command(fix.action, connection, problem)
    else:
        command = fix.command
    return visible(command, multiline=True) if command is not None else None


def fix_option(number: int, fix: Fix, problem: Problem) -> Text:
    text = Text()
    text.append(f"{number} ", style="bold")
    kind = KIND_LABELS[fix.kind]
    if kind:
        text.append(f"[{kind}] ", style="cyan")
    text.append_text(paragraph(fix.text))
    if fix.kind is FixKind.WORKBENCH and fix.action in SUPPORTED:
        key = "a or enter" if problem.action is not None and problem.action.kind is fix.action else "enter"
        text.append(f"  — {key}: {ACTION_LABELS[fix.action]}", style="bold yellow")
    return text


@dataclass(frozen=True)
class FixChoice:
    """What the admin chose in the panel: the workbench's own fix `spec` (after its confirmation), or (`spec`
    None) running the check again."""

    check: str
    spec: ActionSpec | None = None


class TroubleshootModal(ModalScreen[None]):
    """Shown over the screen whose check it explains, which hands it what it shows (the check's row, the
    connection's name, how a `workbench` command will work) and reads the admin's choices (`choices()`): the
    screen runs a fix, over this panel, and closes it once something was done; answered no, the panel stays."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "c", "copy", "Copy command", id="troubleshoot.copy", tooltip="Copy the selected fix's command (OSC 52)"
        ),
        Binding("a", "act", "Act", id="troubleshoot.act", tooltip="Let the workbench do the fix, after you confirm"),
        Binding("r", "rerun", "Re-run", id="troubleshoot.rerun", tooltip="Re-run this check and what depends on it"),
        Binding("escape", "close", "Close", id="troubleshoot.close"),
    ]

    def __init__(self, check: str, row: Row, connection_name: str, *, saved_by: str | None = None) -> None:
        """`saved_by`: what makes a `workbench` command naming the connection work, when the store does not hold
        it under that name yet (None: it does)."""
        super().__init__(classes="dialog-screen")
        self.check = check
        self.row = row
        self.connection_name = connection_name
        self.saved_by = saved_by
        self.problem: Problem | None = row.result.outcome.problem if row.result is not None else None
        self._choices: asyncio.Queue[FixChoice | None] = asyncio.Queue()

    async def choices(self) -> AsyncIterator[FixChoice]:
        """The admin's choices, one at a time, until the panel closes."""
        while (choice := await self._choices.get()) is not None:
            yield choice

    def on_unmount(self) -> None:
        self._choices.put_nowait(None)  # closed, however: no more choices

    def stale(self, row: Row) -> bool:
        """Whether `row` (the check as it is now) differs from what this panel shows: the check ended, or ran
        again, since the panel was drawn."""
        return row.result is not self._drawn

    async def show(self, row: Row) -> None:
        """Draw the panel again from `row`: a check that was running when the panel opened has ended."""
        self.row = row
        self.problem = row.result.outcome.problem if row.result is not None else None
        await self.recompose()
        self._focus_fixes()

    def compose(self) -> ComposeResult:
        row, problem = self.row, self.problem
        self._drawn = row.result
        outcome = row.result.outcome if row.result is not None else None
        title = Text()
        if problem is not None:
            title.append(f"{shown(problem.code, 40)} · ", style="bold")
            title.append_text(literal(problem.title, 120))
        else:
            title.append_text(literal(row.title, 60))
            title.append(" · ")
            title.append_text(mark(row.status.value if row.status else "running", word=True))
        with Vertical(classes="dialog panel", id="troubleshoot"):
            yield Label(title, classes="dialog-title")
            with VerticalScroll(id="troubleshoot-body"):
                happened = Text()
                happened.append("Check  ", style="bold")
                happened.append_text(literal(row.title))
                if row.result is not None:
                    happened.append(f"  ({duration(row.result.duration_ms)})", style="dim")
                happened.append("\nWhat happened  ", style="bold")
                happened.append_text(paragraph(outcome.detail if outcome else row.detail or "still running"))
                yield Static(happened, id="what-happened")
                if outcome is not None and outcome.raw_error:
                    with Collapsible(title="Raw error (redacted)", collapsed=True, id="raw-error"):
                        yield Static(paragraph(outcome.raw_error))
                if problem is not None:
                    if problem.causes:
                        causes = Text("Likely causes\n", style="bold")
                        for cause in problem.causes:
                            causes.append("  • ")
                            causes.append_text(paragraph(cause))
                            causes.append("\n")
                        causes.rstrip()
                        yield Static(causes, id="causes")
                    yield Label("Fixes (↑↓ choose · the command below is selectable · c copies it)", classes="section")
                    yield OptionList(
                        *[Option(fix_option(i, fix, problem), id=str(i)) for i, fix in enumerate(problem.fixes, 1)],
                        id="fixes",
                    )
            if problem is not None:
                # Outside the scrolling part: the selected fix's command is always shown whole, however much the
                # causes above it take.
                yield TextArea("", read_only=True, id="fix-command", soft_wrap=True, show_cursor=False, compact=True)
            yield Label(self._hint(), classes="dialog-hint")

    def _hint(self) -> Text:
        hint = Text(" ")
        action = self.action_spec
        if action is not None:
            hint.append(f"a {ACTION_LABELS[action.kind]}   ", style="bold yellow")
        hint.append("c copy   r re-run   esc close")
        return hint

    @property
    def action_spec(self) -> Any:
        problem = self.problem
        if problem is None or problem.action is None or problem.action.kind not in SUPPORTED:
            return None
        return problem.action if self._fixable() else None

    def on_mount(self) -> None:
        self._focus_fixes()

    def _focus_fixes(self) -> None:
        """The first fix selected (its command shown), the panel read from its top."""
        fixes = self.query("#fixes")
        if fixes:
            option_list = self.query_one("#fixes", OptionList)
            option_list.highlighted = 0
            option_list.focus(scroll_visible=False)
            self._show_command(0)
        self.query_one("#troubleshoot-body").scroll_home(animate=False)

    @on(OptionList.OptionHighlighted, "#fixes")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_command(event.option_index)
        if event.option_index > 0:  # choosing with ↑↓ brings the list of fixes into view (opening keeps the top)
            event.option_list.scroll_visible(animate=False)

    def _selected_fix(self) -> Fix | None:
        if self.problem is None or not self.problem.fixes:
            return None
        index = self.query_one("#fixes", OptionList).highlighted or 0
        return self.problem.fixes[index]

    def _command(self, fix: Fix, problem: Problem) -> str | None:
        """The fix's command as shown and copied. A `workbench` line names the connection: before it is saved
        under that name (the wizard, a pending add or rename) a comment line above it says when it will work."""
        command = fix_command(fix, self.connection_name, problem)
        if command is None or fix.kind is not FixKind.WORKBENCH:
            return command
        if self.saved_by is None:
            return command
        return f"# works once this connection is saved ({self.saved_by}):\n{command}"

    def _show_command(self, index: int) -> None:
        if self.problem is None or not self.problem.fixes:
            return
        fix = self.problem.fixes[index]
        command = self._command(fix, self.problem)
        box = self.query_one("#fix-command", TextArea)
        box.text = command if command is not None else "(advice: no command to run)"
        box.display = True

    def action_copy(self) -> None:
        fix = self._selected_fix()
        if fix is None or self.problem is None:
            self.notify("There is no command to copy here.", severity="warning")
            return
        command = self._command(fix, self.problem)
        if command is None:
            self.notify("This fix is advice: there is no command to copy.", severity="warning")
            return
        link = fix.kind is FixKind.GRAPH and command.startswith(("https://", "http://"))
        self.app.copy(command, "Link" if link else COPIED.get(fix.kind, "Command"))  # type: ignore[attr-defined]

    @on(OptionList.OptionSelected, "#fixes")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        """enter on a fix: the workbench does it when it can (with the problem's parameters when it is the
        problem's own action), otherwise its command is copied."""
        fix = self._selected_fix()
        if fix is None or fix.kind is not FixKind.WORKBENCH or fix.action not in SUPPORTED or not self._fixable():
            self.action_copy()
            return
        spec = self.action_spec
        if spec is not None and spec.kind is fix.action:
            self._run(spec)
        else:
            self._run(ActionSpec(fix.action))

    def _fixable(self) -> bool:
        return self.row.status is not None and self.row.status is not Status.PASSED

    def action_act(self) -> None:
        spec = self.action_spec
        if spec is None:
            self.notify("The workbench has no action of its own for this problem: use the fixes.", severity="warning")
            return
        self._run(spec)

    def _run(self, spec: ActionSpec) -> None:
        """The screen below runs the fix; its dialog opens over this panel: answered no (or escape), the admin is
        back here, on the same fix; once the workbench acted, the panel closes on the check running again."""
        self._choices.put_nowait(FixChoice(self.check, spec))

    def action_rerun(self) -> None:
        self._choices.put_nowait(FixChoice(self.check))

    def action_close(self) -> None:
        self.dismiss(None)
