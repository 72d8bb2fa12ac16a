"""The wizard's automatic-registration steps: Application registration (automatic or manual), Sign in (a device
code, shown large, with the time left), and Plan (the dry run read from the tenant, applied by Next).

The sign-in and the plan run in worker threads through the core's `Registrar` (`registration_flow.py`);
`RegistrationState` is what they have found so far (nothing here touches the tenant before the admin presses
Apply on the Plan step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, Checkbox, RadioSet, Static

from workbench.model import Registration
from workbench.registration import DeviceCode

from ..render.literal import literal
from ..render.signin import sign_in_address
from .draft import Step, WizardDraft
from .fields import Choice
from .registration_flow import RegistrationFlow, RegistrationState
from .steps import StepPane, lab_cloud, set_radio

if TYPE_CHECKING:
    from .fill import LabValues


DUPLICATES_NOTE = (
    "An admin signs in with a code (any browser), checks the plan, then the app is created with its own "
    "certificate and consented permissions. Registering again updates the same app: never a duplicate."
)
MANUAL_NOTE = "An app you registered in Entra ID: the next step asks for its IDs and its credential."


class RegistrationStep(StepPane):
    STEP = Step.REGISTRATION
    INTRO = "Which app the workbench signs in as."

    def fields(self) -> ComposeResult:
        automatic = self.draft.automatic
        with RadioSet(id="registration", compact=True):
            yield Choice("Automatic registration (recommended)", value=automatic)
            yield Choice("Manual registration (an app you registered)", value=not automatic)
        yield Static("", id="registration-note", classes="intro")
        with Vertical(id="automatic-box"):
            yield Checkbox("Sign in and register again (repairs permissions, new certificate)", id="reregister")
            yield self.text_field("reg-app-account")
            yield self.text_field("reg-tenant-id")
            yield self.text_field("public-client-id")

    def redraw(self) -> None:
        draft = self.draft
        set_radio(self.query_one("#registration", RadioSet), 0 if draft.automatic else 1)
        self.redraw_text_fields()
        box = self.query_one("#reregister", Checkbox)
        if box.value != draft.reregister:
            with box.prevent(Checkbox.Changed):
                box.value = draft.reregister
        self._arrange()

    def _arrange(self) -> None:
        draft = self.draft
        self.query_one("#automatic-box").display = draft.automatic
        self.query_one("#reregister").display = draft.automatic and draft.registered_automatically
        # The account and tenant of a registered app stay as registered unless it is registered again.
        for name in ("#reg-field-app-account", "#reg-field-tenant-id", "#field-public_client_id"):
            self.query_one(name).display = draft.registering
        self.query_one("#registration-note", Static).update(DUPLICATES_NOTE if draft.automatic else MANUAL_NOTE)

    @on(RadioSet.Changed, "#registration")
    def _registration(self, event: RadioSet.Changed) -> None:
        self.draft.m365.registration = (Registration.AUTOMATIC if event.index == 0 else Registration.MANUAL).value
        self._arrange()
        self.changed(None)

    @on(Checkbox.Changed, "#reregister")
    def _reregister(self, event: Checkbox.Changed) -> None:
        self.draft.reregister = event.value
        self._arrange()
        self.changed(None)

    def fill(self, lab: LabValues) -> str:
        draft = self.draft
        lab_cloud(draft, lab)
        draft.m365.registration = Registration.AUTOMATIC.value
        draft.m365.app_account = lab.app_account
        self.changed(None)
        return "Automatic registration in the lab tenant, with its application account (the lab approves the code)."


class SignInStep(StepPane):
    STEP = Step.SIGN_IN
    INTRO = "Sign in as a Global Administrator or Privileged Role Administrator, in any browser on any device."
    DEFAULT_CSS = """
    SignInStep #code-box { height: auto; width: auto; min-width: 24; border: tall $accent; padding: 0 2;
        text-style: bold; content-align: center middle; margin-bottom: 1; }
    SignInStep #sign-in-state { height: auto; margin-bottom: 1; }
    """

    def fields(self) -> ComposeResult:
        yield Static("", id="sign-in-url")
        yield Static("", id="code-box")
        yield Static("", id="sign-in-state")
        with Horizontal(classes="inline"):
            yield Button("Copy code  c", id="copy-code", compact=True)
            yield Button("New code", id="new-code", compact=True)

    seconds_left: reactive[int] = reactive(0, init=False)  # the code's time left, counted down each second

    def __init__(self, draft: WizardDraft, flow: RegistrationFlow, lab: LabValues | None = None) -> None:
        super().__init__(draft)
        self.flow = flow  # the wizard's sign-in and plan
        self.registration = flow.state  # what the sign-in found so far
        self.time_left = flow.code_seconds_left  # the code's seconds left, on the app's clock
        self.lab = lab  # the demo's lab (it approves its own codes), else None

    def enter(self) -> None:
        """A sign-in starts, unless an admin signed in (or is being waited for) with the answers as they are."""
        self.flow.sign_in_if_needed(self.draft.registration_request(), self.draft.registration_key())
        super().enter()

    @on(Button.Pressed, "#new-code")
    def new_code(self) -> None:
        """A new code: whatever sign-in was waiting stops, and what it found is forgotten."""
        self.flow.restart_sign_in(self.draft.registration_request(), self.draft.registration_key())

    def on_mount(self) -> None:
        self.set_interval(1.0, self._count_down)

    def _count_down(self) -> None:
        if self.display and self.registration.waiting:
            self.seconds_left = self.time_left()

    def first_focus(self) -> Widget | None:
        return self.query_one("#copy-code", Button)

    def redraw(self) -> None:
        self.seconds_left = self.time_left()
        self.show(self.registration)

    def watch_seconds_left(self) -> None:
        if self.is_mounted:
            self.query_one("#sign-in-state", Static).update(self.state_text(self.registration))

    def show(self, state: RegistrationState) -> None:
        self.registration = state
        code = state.code
        url = Text("1. Open  ", style="dim")
        url.append_text(sign_in_address(code) if code else Text("…", style="dim"))
        url.append("\n2. Enter the code:", style="dim")
        self.query_one("#sign-in-url", Static).update(url)
        box = self.query_one("#code-box", Static)
        box.update(Text(" ".join(code.user_code) if code else "· · ·", style="bold"))
        box.display = code is not None or state.waiting
        self.query_one("#copy-code", Button).disabled = code is None
        self.query_one("#sign-in-state", Static).update(self.state_text(state))

    def state_text(self, state: RegistrationState) -> Text:
        if state.admin is not None:
            text = Text("✔ Signed in as ", style="green")
            text.append_text(literal(state.admin.upn))
            text.append(f" ({', '.join(state.admin.roles)}), tenant {state.admin.tenant_id}. alt+n shows the plan.")
            return text
        if state.error is not None:
            text = Text("✘ ", style="red")
            text.append_text(literal(state.error.message))
            text.append("\nNew code starts again.", style="dim")
            return text
        if state.code is not None:
            left = self.seconds_left
            text = Text(
                f"Waiting for the sign-in… the code expires in {left // 60}:{left % 60:02d}. New code starts over.",
                style="dim",
            )
            approval = self.demo_approval(state.code)
            if approval:
                text.append(f"\n{approval}", style="bold")
            return text
        return Text("Asking Entra ID for a code…", style="dim")

    def demo_approval(self, code: DeviceCode) -> str:
        """In `workbench demo`, for a code the lab gave: that the lab approves it by itself ("" otherwise)."""
        lab = self.lab
        if lab is None or lab.auto_approve is None or code.authority_host != urlsplit(lab.authority_host).netloc:
            return ""
        seconds = f"{lab.auto_approve:g} second{'s' if lab.auto_approve != 1 else ''}"
        return f"Demo: the lab approves this code by itself after about {seconds}; nothing to open."


class PlanStep(StepPane):
    STEP = Step.PLAN
    INTRO = "What applying will create or change in the tenant. Nothing has been written yet."
    APPLIED = "What applying this plan created or changed in the tenant: it has been applied and verified."
    AGAIN = (
        "What applying will change in the tenant. The app registered earlier in this wizard is already in the tenant; "
        "nothing of this plan has been written yet."
    )
    DEFAULT_CSS = """
    PlanStep #plan-rows { height: auto; }
    """

    def fields(self) -> ComposeResult:
        yield Static("", id="plan-rows")

    def __init__(
        self, draft: WizardDraft, flow: RegistrationFlow, applied: Callable[[], bool], verified: Callable[[], bool]
    ) -> None:
        super().__init__(draft)
        self.flow = flow  # the wizard's sign-in and plan
        self.registration = flow.state  # the plan once read
        self.applied = applied  # whether this plan was applied (the Configuration step knows): Next re-applies nothing
        self.verified = verified  # whether the Configuration step's verification ended and passed

    def enter(self) -> None:
        """The plan is read from the tenant, unless the one shown was applied and verified (it stays)."""
        self.flow.prepare_plan(applied=self.verified())
        super().enter()

    def first_focus(self) -> Widget | None:
        return self  # the arrow keys scroll the plan

    def redraw(self) -> None:
        self.show(self.registration)

    def show(self, state: RegistrationState) -> None:
        self.registration = state
        applied = self.applied()
        intro = self.APPLIED if applied else self.AGAIN if state.created else self.INTRO
        self.query_one(".intro", Static).update(intro)
        rows = self.query_one("#plan-rows", Static)
        if state.plan_error is not None:
            rows.update(Text("✘ ", style="red").append_text(literal(state.plan_error)))
            return
        plan = state.plan
        if plan is None:
            rows.update(Text("Reading what the tenant holds…", style="dim"))
            return
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(ratio=1)
        for label, value in plan.overview():
            shown = literal(value)
            shown.overflow = "fold"  # an ID is one long word: all of it, over two lines if need be
            table.add_row(literal(label), shown)
        heading = Text("\nPermissions (application permissions, consented for the organisation)", style="bold")
        permissions = Table.grid(padding=(0, 1))
        permissions.add_column(no_wrap=True)
        permissions.add_column(ratio=1)
        for permission, granted in plan.permission_states():
            what = literal(permission.label)
            what.append(" (already granted)" if granted else "", style="dim")
            what.append(f"\nto {permission.reason}", style="dim")
            permissions.add_row(Text(" ✔" if granted else " +", style="green" if granted else "bold"), what)
        footer = Text(
            "\nalt+n shows its verification again; Back changes the answers."
            if applied
            else "\nalt+n applies the plan; Back changes the answers.",
            style="dim",
        )
        rows.update(Group(table, heading, permissions, footer))
