"""The connection wizard: one screen, the step list on the left, the current step on the right, Back / Next
(Finish) / Cancel at the bottom (alt+b, alt+n, escape).

The state is one reactive draft (`WizardDraft`); each step is a small widget bound to it, which posts
`StepPane.Changed` as the admin types. Every change re-runs the core's rules and shows their message under the
field (once the admin has typed there, or tried Next); Next is enabled only when the step is valid. The step shown
follows the reactive `index`. Automatic registration's sign-in and plan run in `RegistrationFlow`; the
Configuration step verifies the connection in the embedded verification view, with the same keys as the
verification screen (troubleshoot, fixes, r, R); Finish hands the connection to the manager as a pending change,
which OK saves. A new connection, or the edit of a stored one (same id; secrets unchanged unless replaced).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Button, ContentSwitcher, Input

from storage import NameTakenError
from workbench.registration import Registrar, RegistrationRequest

from ..chrome import WorkbenchScreen
from ..render.literal import shown
from ..state.live import LiveVerification
from ..widgets.verification import VerificationView
from .application import ApplicationStep
from .configuration import ConfigurationStep, DraftVerificationPanel
from .credentials import CredentialsStep
from .draft import Context, Step, WizardDraft
from .facts import WorkspaceFacts
from .fields import Field
from .frame import ButtonRow, StepList, leave_dialog, status_line
from .registration import PlanStep, RegistrationStep, SignInStep
from .registration_flow import RegistrationFlow, RegistrationState, registrar_for
from .steps import LocationStep, ServerStep, StepPane

FORM_STEPS: dict[Step, type[StepPane]] = {  # the steps that need only the draft
    Step.LOCATION: LocationStep,
    Step.REGISTRATION: RegistrationStep,
    Step.SERVER: ServerStep,
}


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return ""


class WizardScreen(WorkbenchScreen):
    HELP_TEXT = (
        "A new connection (or the edit of one), step by step. Each field says what is wrong as you type; Next "
        "(alt+n) is enabled once the step is valid, Back (alt+b) keeps every value, Cancel (escape) asks first when "
        "something was entered. The Configuration step verifies the connection: enter on a check troubleshoots it, "
        "r re-runs it, R re-runs all. Finish (once no check failed) adds the connection to Manage server "
        "connections as a pending change; OK there saves it."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        # priority: an input field would otherwise take alt+n as the letter n
        Binding(
            "alt+b,alt+left",
            "back",
            "Back",
            id="wizard.back",
            priority=True,
            show=False,  # the Back button names its key (and the footer has no room for it at 80 columns)
            key_display="alt+b",
            tooltip="The previous step (every value is kept); alt+← does the same",
        ),
        # Most terminals and tmux send alt+b as ESC b, which Textual reads as ctrl+left: in the wizard that is Back
        # everywhere, text fields included (where it would otherwise move one word left).
        Binding("ctrl+left", "back", "Back", id="wizard.back-esc-b", priority=True, show=False),
        Binding(
            "alt+n",
            "next",
            "Next/Finish",
            id="wizard.next",
            priority=True,
            show=False,  # as the Next button says
            tooltip="The next step, or Finish on the last",
        ),
        Binding("escape", "cancel", "Cancel", id="wizard.cancel", show=False, tooltip="Leave the wizard (asks first)"),
        Binding("ctrl+l", "fill", "Fill from lab", id="wizard.fill", tooltip="Fill this step with the lab's values"),
        Binding("c", "copy_code", "Copy code", id="wizard.copy-code", tooltip="Copy the sign-in code (OSC 52)"),
        # The Configuration step's verification panel runs them, wherever the focus is on the step.
        Binding("r", "rerun", "Re-run", id="wizard.rerun", tooltip="Re-run the selected check"),
        Binding("R", "rerun_all", "Re-run all", id="wizard.rerun-all", tooltip="Re-run every check"),
    ]
    DEFAULT_CSS = """
    WizardScreen #wizard { height: 1fr; }
    WizardScreen #wizard-pane { width: 1fr; height: 1fr; border: round $primary; border-title-color: $text-primary;
        border-title-style: bold; }
    """

    draft: reactive[WizardDraft | None] = reactive(None, init=False, always_update=True)
    index: reactive[int] = reactive(0, init=False)  # the step shown (of `draft.steps()`): see `watch_index`

    def __init__(self, draft: WizardDraft, *, via: str = "Dashboard") -> None:
        super().__init__()
        self.set_reactive(WizardScreen.draft, draft)
        self.via = via
        self._initial = draft.signature()
        self._typed: set[str] = set()  # fields whose message shows (typed in, or revealed by Next)
        self._facts = WorkspaceFacts()
        self.flow = RegistrationFlow(self._make_registrar, lambda: self.workbench.clock())
        self._configuration: ConfigurationStep | None = None

    # ------------------------------------------------------------------ frame

    @property
    def wizard_draft(self) -> WizardDraft:
        draft = self.draft
        assert draft is not None
        return draft

    def trail(self) -> str:
        draft = self.wizard_draft
        if draft.editing is not None:
            return f"{self.via} › Edit '{shown(draft.editing.name, 40)}'"
        return f"{self.via} › New connection"

    def body(self) -> ComposeResult:
        with Horizontal(id="wizard"):
            yield StepList(id="wizard-steps")
            with ContentSwitcher(id="wizard-pane", initial=f"step-{Step.LOCATION.value}"):
                yield LocationStep(self.wizard_draft)  # the others are mounted when first reached
        yield ButtonRow(id="wizard-buttons", classes="button-row")
        yield self.flow

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:  # back from a dialog: a certificate may have been imported meanwhile
            self._facts.read(self.workbench.workspace, self.wizard_draft.id)
            self.mutate_reactive(WizardScreen.draft)

    async def on_mount(self) -> None:
        self._facts.read(self.workbench.workspace, self.wizard_draft.id)
        await self._enter_step()

    def _arrange_steps(self) -> None:
        """The step list gives way to the step below 70 columns, and to the verification's details below 100."""
        needed = 100 if self.step is Step.CONFIGURATION else 70
        self.query_one("#wizard-steps").display = self.size.width >= needed

    def on_resize(self) -> None:
        self._arrange_steps()

    # ------------------------------------------------------------------ the rules

    def context(self) -> Context:
        state = self.registration
        current = state.key == self.wizard_draft.registration_key()
        return self._facts.context(
            self.workbench.workspace.now(),
            signed_in=current and state.admin is not None,
            planned=current and state.plan is not None,
        )

    @property
    def step(self) -> Step:
        steps = self.wizard_draft.steps()
        return steps[min(self.index, len(steps) - 1)]

    def _has_pane(self, step: Step) -> bool:
        return bool(self.query(f"#step-{step.value}"))

    def pane(self, step: Step | None = None) -> StepPane:
        return self.query_one(f"#step-{(step or self.step).value}", StepPane)

    def on_step_pane_changed(self, message: StepPane.Changed) -> None:
        """The draft changed (the field's message shows from now on): everything is checked again."""
        if message.field is not None:
            self._typed.add(message.field)
        self.mutate_reactive(WizardScreen.draft)

    def on_step_pane_reveal(self, message: StepPane.Reveal) -> None:
        self._reveal(message.fields)

    def _reveal(self, fields: Iterable[str]) -> None:
        """The messages of `fields` show from now on (Next, or Browse, found them wrong)."""
        self._typed.update(fields)
        self._validate()

    def watch_draft(self) -> None:
        if self.is_mounted:
            self._validate()

    def _validate(self) -> None:
        """The rules' messages under the fields typed in, the step list, the buttons and the status line."""
        draft = self.wizard_draft
        context = self.context()
        step = self.step
        errors = draft.step_errors(step, context)
        if not self._has_pane(step):
            return
        for field in self.pane(step).query(Field):
            field.show(errors.get(field.field) if field.field in self._typed else None)
        self.query_one(StepList).show(draft.steps(), self.index, lambda other: draft.step_valid(other, context))
        pane = self.query_one("#wizard-pane", ContentSwitcher)
        pane.border_title = f"{step.heading} · {self.index + 1} of {len(draft.steps())}"
        buttons = self.query_one(ButtonRow)
        if step is Step.CONFIGURATION:
            ready, note = self._finish_state()
            buttons.show("Finish", can_back=True, can_next=ready, status=Text(note, style="" if ready else "dim"))
            return
        applying = step is Step.PLAN and not self._plan_applied()
        status = status_line(step, errors, lab=self.workbench.lab_values is not None)
        buttons.show("Apply" if applying else "Next", can_back=self.index > 0, can_next=not errors, status=status)

    def redraw_step(self, step: Step | None = None) -> None:
        """Show the draft (and what registration found) in a step: on entering it, after a fill, a pick, a fix."""
        self.pane(step).redraw()

    # ------------------------------------------------------------------ moving

    def _plan_applied(self) -> bool:
        """Whether the plan shown was applied (and verified, or is being): Next then shows its results again."""
        return self._configuration is not None and self._configuration.applied()

    def _verified(self) -> bool:
        """Whether the Configuration step's verification ended and no check failed."""
        live = self._live
        return live is not None and live.board.summary is not None and not live.board.summary.failed

    def _new_pane(self, step: Step) -> StepPane:
        draft = self.wizard_draft
        if step is Step.SIGN_IN:
            return SignInStep(draft, self.flow, self.workbench.lab_values)
        if step is Step.PLAN:
            return PlanStep(draft, self.flow, self._plan_applied, self._verified)
        if step is Step.APPLICATION:
            return ApplicationStep(draft, self.workbench, self._facts.certificates)
        if step is Step.CREDENTIALS:
            return CredentialsStep(draft, self.workbench, self.context)
        if step is Step.CONFIGURATION:
            self._configuration = ConfigurationStep(draft, self.workbench, self.flow, self.context)
            return self._configuration
        return FORM_STEPS[step](draft)

    async def watch_index(self) -> None:
        await self._enter_step()

    async def _enter_step(self) -> None:
        step = self.step
        if not self._has_pane(step):  # each step is composed when first reached: the wizard opens at once
            await self.query_one("#wizard-pane", ContentSwitcher).add_content(self._new_pane(step))
        # The verification's details need the width: below 100 columns the step list gives way to it.
        self._arrange_steps()
        self.query_one("#wizard-pane", ContentSwitcher).current = f"step-{step.value}"
        self.pane(step).enter()
        self._validate()
        focus = self.pane(step).first_focus()
        if focus is not None:
            focus.focus()
        self.refresh_bindings()

    def action_next(self) -> None:
        if self.step is Step.CONFIGURATION:
            self._finish()
            return
        errors = self.wizard_draft.step_errors(self.step, self.context())
        if errors:
            self._reveal(errors)
            first = next(iter(errors))
            for field in self.pane().query(Field):
                if field.field == first and field.control.focusable:
                    field.control.focus()
                    break
            self.notify(f"{len(errors)} field(s) need attention before the next step.", severity="warning")
            return
        self.index += 1

    def action_back(self) -> None:
        if self.index == 0:
            return
        if self.step is Step.CONFIGURATION and self._configuration is not None:
            self._configuration.cancel()
        self.index -= 1

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        """enter in a field moves on, as in a form (Next when the step is valid, else the first problem)."""
        if self.step is not Step.CONFIGURATION:
            self.action_next()

    @property
    def entered(self) -> bool:
        """Whether anything was entered since the wizard opened (leaving then asks first)."""
        return self.wizard_draft.signature() != self._initial

    def left_in_tenant(self) -> tuple[str, list[tuple[str, str]]]:
        """What this wizard's registration left in the tenant (the Quit dialog says it, and how to remove it)."""
        return self.registration.left_in_tenant(running=self._live is not None and self._live.running)

    def action_cancel(self) -> None:
        if self.step is Step.CONFIGURATION and self._configuration is not None and self._configuration.cancel():
            self.notify("Verification cancelled. escape again leaves the wizard.", markup=False)
            return
        if not self.entered:
            self.dismiss(None)
            return
        self._confirm_cancel()

    @work(exclusive=True, group="wizard-cancel")
    async def _confirm_cancel(self) -> None:
        tenant, removal = self.left_in_tenant()
        if await self.workbench.ask(leave_dialog(self.wizard_draft.editing is not None, tenant, removal)):
            self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_code":
            return self.step is Step.SIGN_IN and self.registration.code is not None
        if action == "fill":
            return self.workbench.lab_values is not None
        if action == "back":
            return self.index > 0
        if action in {"rerun", "rerun_all"}:
            return self._panel() is not None
        return True

    def _panel(self) -> DraftVerificationPanel | None:
        """The Configuration step's verification panel, while that step is shown with its verification."""
        if self.step is not Step.CONFIGURATION:
            return None
        panels = self.query(DraftVerificationPanel)
        return panels.first() if panels else None

    def action_rerun(self) -> None:
        panel = self._panel()
        if panel is not None:
            panel.action_rerun()

    def action_rerun_all(self) -> None:
        panel = self._panel()
        if panel is not None:
            panel.action_rerun_all()

    def action_fill(self) -> None:
        lab = self.workbench.lab_values
        if lab is None:
            return
        pane = self.pane()
        said = pane.fill(lab)
        self.redraw_step()
        self._typed.update(field.field for field in pane.query(Field))
        self.mutate_reactive(WizardScreen.draft)
        self.notify(said, markup=False)

    # ------------------------------------------------------------------ automatic registration

    @property
    def registration(self) -> RegistrationState:
        """What automatic registration found so far (the sign-in, the plan, the run)."""
        return self.flow.state

    def _make_registrar(self, request: RegistrationRequest) -> Registrar:
        return registrar_for(request, self.workbench, self._facts.certificates, self.wizard_draft.editing)

    def on_registration_flow_changed(self) -> None:
        for step in (Step.SIGN_IN, Step.PLAN):
            if self._has_pane(step):
                self.redraw_step(step)
        self.mutate_reactive(WizardScreen.draft)

    @on(Button.Pressed, "#copy-code")
    def action_copy_code(self) -> None:
        code = self.registration.code
        if code is not None:
            self.workbench.copy(code.user_code, "Sign-in code")

    # ------------------------------------------------------------------ configuration and Finish

    @property
    def _live(self) -> LiveVerification | None:
        """The Configuration step's verification (None before it started)."""
        return self._configuration.live if self._configuration is not None else None

    def shown_name(self) -> str:
        """The name field: what the admin typed, else the proposed name."""
        return self.wizard_draft.shown_name(self.context())

    def on_configuration_step_progress(self) -> None:
        self._validate()

    def _finish_state(self) -> tuple[bool, str]:
        """Whether Finish may save, and the status line that says why (not)."""
        if self._configuration is None:
            return False, "Not verified yet."
        return self._configuration.finish_state()

    def _finish(self) -> None:
        ready, note = self._finish_state()
        if not ready or self._configuration is None:
            self._reveal(("name",))
            self.notify(note, severity="warning", markup=False)
            return
        connection = self._configuration.to_save()
        if connection is None:
            return
        if self.wizard_draft.unchanged(connection):
            summary = self.live.board.summary
            if connection.last_verification is not None and summary is not None:  # it verified the stored one
                self.workbench.keep_result(connection, summary)
            self.notify("Nothing was changed: there is nothing to save.", markup=False)
            self.dismiss(None)
            return
        changes = self.workbench.workspace.changes
        try:
            (changes.edit if self.wizard_draft.editing is not None else changes.add)(connection)
        except NameTakenError as error:
            self.workbench.tell("Choose another name", str(error))
            return
        self.workbench.changed()
        self.dismiss(connection.id)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ what tests read

    @property
    def live(self) -> LiveVerification:
        """The Configuration step's verification (once it started)."""
        live = self._live
        assert live is not None, "the Configuration step has not verified yet"
        return live

    @property
    def view(self) -> VerificationView:
        return self.query_one(VerificationView)
