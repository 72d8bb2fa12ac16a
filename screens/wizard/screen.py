"""The connection wizard: one screen, the step list on the left, the current step on the right, Back / Next
(Finish) / Cancel at the bottom (alt+b, alt+n, escape).

The state is one reactive draft (`WizardDraft`); each step is a small widget bound to it. Every change re-runs the
core's rules and shows their message under the field (once the admin has typed there, or tried Next); Next is
enabled only when the step is valid. The Configuration step verifies the connection in the embedded verification
view, with the same keys as the verification screen (troubleshoot, actions, r, R); Finish hands the connection to
the manager as a pending change, which OK saves. A new connection, or the edit of a stored one (same id; secrets
unchanged unless replaced).
"""

from __future__ import annotations

import getpass
import threading
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Button, ContentSwitcher, DataTable, Input, Static

from storage import NameTakenError
from workbench.certificates import LoadedCertificate
from workbench.checks.events import Status
from workbench.drafts import DraftInvalid
from workbench.model import (
    CertificateCredential,
    CertificateInfo,
    Connection,
    M365Settings,
    OnPremSettings,
    Secret,
    name_key,
)
from workbench.registration import (
    Admin,
    DeviceCode,
    Registrar,
    RegistrationPlan,
    SignInError,
)
from workbench.text import visible

from ..dialogs import ConfirmModal
from ..literal import paragraph, shown
from ..live import LiveVerification
from ..verification import VerificationHost, VerificationView
from .draft import Context, Step, WizardDraft
from .fields import Field
from .registration import PlanStep, RegistrationState, RegistrationStep, SignInStep
from .steps import (
    ApplicationStep,
    ConfigurationStep,
    CredentialsStep,
    LocationStep,
    ServerStep,
    StepPane,
)

STEP_PANES: dict[Step, type[StepPane]] = {
    Step.LOCATION: LocationStep,
    Step.REGISTRATION: RegistrationStep,
    Step.SIGN_IN: SignInStep,
    Step.PLAN: PlanStep,
    Step.APPLICATION: ApplicationStep,
    Step.SERVER: ServerStep,
    Step.CREDENTIALS: CredentialsStep,
    Step.CONFIGURATION: ConfigurationStep,
}
TICK = 0.5  # seconds: how often the Configuration step looks at its verification (Finish, the learned name)


def local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return ""


class WizardScreen(VerificationHost):
    SAVED_BY = "Finish, then OK in Manage server connections"
    HELP_TEXT = (
        "A new connection (or the edit of one), step by step. Each field says what is wrong as you type; Next "
        "(alt+n) is enabled once the step is valid, Back (alt+b) keeps every value, Cancel (escape) asks first when "
        "something was entered. The Configuration step verifies the connection: enter on a check troubleshoots it, "
        "r re-runs it, R re-runs all. Finish (once no check failed) adds the connection to Manage server "
        "connections as a pending change; OK there saves it."
    )
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
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
        Binding("r", "rerun", "Re-run", id="wizard.rerun", tooltip="Re-run the selected check"),
        Binding("R", "rerun_all", "Re-run all", id="wizard.rerun-all", tooltip="Re-run every check"),
    ]
    DEFAULT_CSS = """
    WizardScreen #wizard { height: 1fr; }
    WizardScreen #wizard-steps { width: 25; height: 1fr; border: round $primary; border-title-color: $text-primary;
        padding: 0 0 0 1; }
    WizardScreen #wizard-pane { width: 1fr; height: 1fr; border: round $primary; border-title-color: $text-primary;
        border-title-style: bold; }
    WizardScreen #wizard-status { width: 1fr; height: 3; content-align: left middle; padding: 0 1; }
    """

    draft: reactive[WizardDraft | None] = reactive(None, init=False, always_update=True)
    index: reactive[int] = reactive(0, init=False)

    def __init__(self, draft: WizardDraft, *, via: str = "Dashboard") -> None:
        super().__init__()
        self.set_reactive(WizardScreen.draft, draft)
        self.via = via
        self._initial = draft.signature()
        self._typed: set[str] = set()  # fields whose message shows (typed in, or revealed by Next)
        self._live: LiveVerification | None = None
        self._verified: Connection | None = None
        self._certificates: list[CertificateInfo] = []
        self._names: set[str] = set()
        self._seen: tuple[object, ...] = ()  # the run's state when the Configuration step last looked
        self.registration = RegistrationState()  # automatic registration: the sign-in, the plan, the run
        self._code_shown_at = 0.0  # when the sign-in code arrived, on the app's clock (for the time left)

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
            yield Static(id="wizard-steps")
            with ContentSwitcher(id="wizard-pane", initial=f"step-{Step.LOCATION.value}"):
                yield LocationStep(self.wizard_draft)  # the others are mounted when first reached
        with Horizontal(id="wizard-buttons", classes="button-row"):
            yield Static(id="wizard-status")
            yield Button("Back  alt+b", id="back")
            yield Button("Next  alt+n", id="next", variant="primary")
            yield Button("Cancel  esc", id="cancel")

    def _read_workspace(self) -> None:
        """The certificates and the other connections' names, as the workspace holds them now."""
        space = self.workbench.workspace
        held = space.certificates()
        known = {c.thumbprint for c in held}
        self._certificates = held + [c for c in self._certificates if c.thumbprint not in known]
        own = self.wizard_draft.id
        self._names = {name_key(c.name) for c in space.connections() if c.id != own}

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:
            self._read_workspace()
            self.mutate_reactive(WizardScreen.draft)

    async def on_mount(self) -> None:
        self._read_workspace()
        self.query_one("#wizard-steps", Static).border_title = "Steps"
        self.set_interval(TICK, self._watch_verification)
        self.set_interval(1.0, self._tick_sign_in)
        await self._enter_step()

    def _arrange_steps(self) -> None:
        """The step list gives way to the step below 70 columns, and to the verification's details below 100."""
        needed = 100 if self.step is Step.CONFIGURATION else 70
        self.query_one("#wizard-steps").display = self.size.width >= needed

    def on_resize(self) -> None:
        self._arrange_steps()

    def on_unmount(self) -> None:
        self.registration.forget_sign_in()  # a sign-in still waiting stops within a second
        if self._live is not None:
            self.workbench.forget(self._live)
            self._live = None

    # ------------------------------------------------------------------ the rules

    def context(self) -> Context:
        certificates = {c.thumbprint: c for c in self._certificates}
        names = self._names
        state = self.registration
        current = state.key == self.wizard_draft.registration_key()
        return Context(
            now=self.workbench.workspace.now(),
            certificate=lambda thumbprint: certificates.get(thumbprint.upper()),
            name_taken=lambda name: name_key(name) in names,
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

    def draft_changed(self, field: str) -> None:
        """A step wrote to the draft: its field's message shows from now on, and everything is checked again."""
        self._typed.add(field)
        self.mutate_reactive(WizardScreen.draft)

    def steps_changed(self) -> None:
        """The kind changed: the steps after Server location are another set."""
        self.mutate_reactive(WizardScreen.draft)

    def watch_draft(self) -> None:
        if self.is_mounted:
            self._validate()

    def _validate(self) -> None:
        draft = self.wizard_draft
        context = self.context()
        step = self.step
        errors = draft.step_errors(step, context)
        if not self._has_pane(step):
            return
        for field in self.pane(step).query(Field):
            field.show(errors.get(field.field) if field.field in self._typed else None)
        self._paint_steps(context)
        self._paint_buttons(errors)

    def _paint_steps(self, context: Context) -> None:
        draft = self.wizard_draft
        text = Text()
        for number, step in enumerate(draft.steps()):
            if number == self.index:
                text.append("▸ ", style="bold")
                text.append(step.heading, style="bold reverse")
            elif number < self.index:
                valid = draft.step_valid(step, context)
                text.append("✔ " if valid else "✘ ", style="green" if valid else "red")
                text.append(step.heading)
            else:
                text.append("  ")
                text.append(step.heading, style="dim")
            text.append("\n")
        self.query_one("#wizard-steps", Static).update(text)
        pane = self.query_one("#wizard-pane", ContentSwitcher)
        pane.border_title = f"{self.step.heading} · {self.index + 1} of {len(draft.steps())}"

    def _paint_buttons(self, errors: dict[str, str]) -> None:
        last = self.step is Step.CONFIGURATION
        next_button = self.query_one("#next", Button)
        next_button.label = "Finish  alt+n" if last else "Apply  alt+n" if self.step is Step.PLAN else "Next  alt+n"
        self.query_one("#back", Button).disabled = self.index == 0
        status = self.query_one("#wizard-status", Static)
        if last:
            ready, note = self._finish_state()
            next_button.disabled = not ready
            status.update(Text(note, style="" if ready else "dim"))
            return
        next_button.disabled = bool(errors)
        if errors and self.step in (Step.SIGN_IN, Step.PLAN):
            status.update(Text(next(iter(errors.values())), style="dim"))
        elif errors:
            count = len(errors)
            status.update(Text(f"{count} field{'s' if count != 1 else ''} to complete", style="dim"))
        elif self.workbench.lab_values is not None:
            status.update(Text("ctrl+l: the lab's values", style="dim"))
        else:
            status.update("")

    # ------------------------------------------------------------------ moving

    async def _enter_step(self) -> None:
        step = self.step
        if not self._has_pane(step):  # each step is composed when first reached: the wizard opens at once
            await self.query_one("#wizard-pane", ContentSwitcher).add_content(STEP_PANES[step](self.wizard_draft))
        # The verification's details need the width: below 100 columns the step list gives way to it.
        self._arrange_steps()
        self.query_one("#wizard-pane", ContentSwitcher).current = f"step-{step.value}"
        if step is Step.CREDENTIALS:
            self.wizard_draft.propose_upn(self.workbench.local_user)
        if step is Step.SIGN_IN:
            self._sign_in_if_needed()
        if step is Step.PLAN:
            self._prepare_plan()
        pane = self.pane(step)
        pane.load()
        if step is Step.CONFIGURATION:
            self._start_verification()
            pane.load()
        self._validate()
        focus = pane.first_focus()
        if focus is not None:
            focus.focus()
        self.refresh_bindings()

    async def action_next(self) -> None:
        if self.step is Step.CONFIGURATION:
            self._finish()
            return
        errors = self.wizard_draft.step_errors(self.step, self.context())
        if errors:
            self._typed.update(errors)
            self._validate()
            first = next(iter(errors))
            for field in self.pane().query(Field):
                if field.field == first and field.control.focusable:
                    field.control.focus()
                    break
            self.notify(f"{len(errors)} field(s) need attention before the next step.", severity="warning")
            return
        self.index += 1
        await self._enter_step()

    async def action_back(self) -> None:
        if self.index == 0:
            return
        if self.step is Step.CONFIGURATION and self._live is not None and self._live.running:
            self._live.cancel()
        self.index -= 1
        await self._enter_step()

    @on(Button.Pressed, "#next")
    async def _next_pressed(self) -> None:
        await self.action_next()

    @on(Button.Pressed, "#back")
    async def _back_pressed(self) -> None:
        await self.action_back()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @property
    def entered(self) -> bool:
        """Whether anything was entered since the wizard opened (leaving then asks first)."""
        return self.wizard_draft.signature() != self._initial

    def left_in_tenant(self) -> tuple[str, list[tuple[str, str]]]:
        """What this wizard's registration left in the tenant (the Quit dialog says it, and how to remove it)."""
        return self.registration.left_in_tenant(running=self._live is not None and self._live.running)

    def action_cancel(self) -> None:
        if self.step is Step.CONFIGURATION and self._live is not None and self._live.running:
            self._live.cancel()
            self.notify("Verification cancelled. escape again leaves the wizard.", markup=False)
            return
        if not self.entered:
            self.dismiss(None)
            return
        self.run_worker(self._confirm_cancel(), exclusive=True, group="wizard-cancel")

    async def _confirm_cancel(self) -> None:
        editing = self.wizard_draft.editing is not None
        tenant, removal = self.left_in_tenant()
        leave = await self.workbench.ask(
            ConfirmModal(
                "Cancel",
                "Leave the wizard? " + ("Your edits are" if editing else "What you entered is") + " discarded; "
                "nothing was saved." + tenant,  # (and how to remove the app, as Quit says it)
                removal,
                yes="Discard",
                no="Keep editing",
            )
        )
        if leave:
            self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_code":
            return self.step is Step.SIGN_IN and self.registration.code is not None
        if action == "fill":
            return self.workbench.lab_values is not None
        if action in {"rerun", "rerun_all", "troubleshoot"}:
            return self.step is Step.CONFIGURATION and self._live is not None
        if action == "back":
            return self.index > 0
        return True

    def action_fill(self) -> None:
        lab = self.workbench.lab_values
        if lab is None:
            return
        pane = self.pane()
        said = pane.fill(lab)
        pane.load()
        for field in pane.query(Field):
            self._typed.add(field.field)
        self.mutate_reactive(WizardScreen.draft)
        self.notify(said, markup=False)

    # ------------------------------------------------------------------ certificates and browse

    def action_import_certificate(self) -> None:
        from .certificate import ImportCertificateModal

        self.app.push_screen(
            ImportCertificateModal(self.workbench.workspace.now, self.workbench.lab_values), self._imported
        )

    def _imported(self, loaded: LoadedCertificate | None) -> None:
        if loaded is None:
            return
        stored = {c.thumbprint for c in self.workbench.workspace.certificates()} - {
            c.thumbprint for c in self.workbench.workspace.changes.staged_certificates()
        }
        already = loaded.info.thumbprint in stored
        info = loaded.info
        if not already:
            info = self.workbench.workspace.changes.stage_certificate(loaded.info, loaded.key_pem)
        if all(c.thumbprint != info.thumbprint for c in self._certificates):
            self._certificates.append(info)
        draft = self.wizard_draft
        draft.use_certificate, draft.thumbprint = True, info.thumbprint
        self.pane().load()
        self.draft_changed("thumbprint")
        if already:
            self.notify(f"Certificate {info.thumbprint} is already in the personal store: it is used.", markup=False)
        else:
            self.notify(
                f"Certificate {info.thumbprint} imported: it joins the personal store when the connection is saved.",
                markup=False,
            )

    def action_choose_certificate(self) -> None:
        from .certificate import ChooseCertificateModal

        self.app.push_screen(ChooseCertificateModal(self._certificates, self.workbench.workspace.now()), self._chosen)

    def _chosen(self, thumbprint: str | None) -> None:
        if thumbprint is None:
            return
        draft = self.wizard_draft
        draft.use_certificate, draft.thumbprint = True, thumbprint
        self.pane().load()
        self.draft_changed("thumbprint")

    def action_browse(self) -> None:
        from .browse import BrowseModal

        draft = self.wizard_draft
        errors = draft.step_errors(Step.CREDENTIALS, self.context())
        if errors:
            self._typed.update(errors)
            self._validate()
            self.notify(
                "Browse signs in as the admin above: enter a valid UPN and its password first.", severity="warning"
            )
            return
        connection = self._build(name="browse")
        if connection is None:
            return
        domain = draft.onprem.admin_upn.rpartition("@")[2]
        self.app.push_screen(
            BrowseModal(lambda: self.workbench.browse(connection), draft.onprem.admin_upn, domain), self._browsed
        )

    def _browsed(self, upn: str | None) -> None:
        if upn is None:
            return
        draft = self.wizard_draft
        before = draft.onprem.admin_upn.strip()
        draft.onprem.admin_upn = upn
        if upn.casefold() != before.casefold() and draft.password is not None:
            # The password typed was the one Browse signed in with: it belongs to the other admin.
            draft.password = None
            self.pane().load()
            self.draft_changed("password")
            self.query_one("#password", Input).focus()
            self.notify(f"Administrator: {shown(upn)}. Enter this admin's password.", markup=False)
        else:
            self.pane().load()
            self.notify(f"Administrator: {shown(upn)}", markup=False)
        self.draft_changed("admin_upn")

    # ------------------------------------------------------------------ configuration

    def _stage(self, secret: Secret) -> str:
        return self.workbench.workspace.changes.stage_secret(secret)

    def _build(self, name: str | None = None) -> Connection | None:
        """The connection as the draft describes it (`name` stands in while the name field is not valid)."""
        try:
            return self.wizard_draft.build(self.context(), self._stage, name=name)
        except DraftInvalid as invalid:
            self.notify(f"Not ready: {invalid}", severity="warning", markup=False)
            return None

    def shown_name(self) -> str:
        """The name field: what the admin typed, else the proposed name."""
        return self.wizard_draft.shown_name(self.context())

    def _for_verification(self) -> Connection | None:
        """The connection to verify, named as the name field shows it (or a stand-in while that is not valid)."""
        return self._build(name=self.wizard_draft.verification_name(self.context()))

    def _start_verification(self) -> None:
        if self.wizard_draft.registering:
            self._start_registration()
            return
        connection = self._for_verification()
        if connection is None:
            return
        live = self._live
        if (
            live is not None
            and not live.closed
            and self._verified is not None
            and self._verified.settings == connection.settings
            and not live.running
            and live.board.summary is not None
            and live.board.summary.status is not Status.CANCELLED
        ):
            return  # nothing changed since it was verified: the results stand
        self._verified = connection
        self._show_live(self.workbench.verify(connection, record=False))

    def _show_live(self, live: LiveVerification) -> None:
        """`live` replaces the step's verification (the one before is forgotten) in the same view."""
        if self._live is not None:
            self.workbench.forget(self._live)
        self._live = self.live = live
        slot = self.query_one("#verification-slot")
        views = slot.query(VerificationView)
        if views:
            views.first().attach(live)
        else:
            slot.mount(VerificationView(live, id="verification"))
            self.call_after_refresh(self._focus_checks)

    def _focus_checks(self) -> None:
        """The checks take the keys (enter troubleshoots), as on the verification screen."""
        if self.step is Step.CONFIGURATION:
            for table in self.query("#checks"):
                table.focus()

    def _watch_verification(self) -> None:
        if self.step is not Step.CONFIGURATION or self._live is None:
            return
        draft = self.wizard_draft
        board = self._live.board
        tenant = board.rows.get("m365.tenant")
        if tenant is not None and tenant.result is not None:
            learned = tenant.result.outcome.facts.get("tenant_domain")
            if isinstance(learned, str) and learned and learned != draft.learned_domain:
                draft.learned_domain = learned
                if draft.name_follows_default:
                    self.pane().load()
        seen = (id(self._live), self._live.running, board.summary, draft.learned_domain)
        if seen != self._seen:  # only a change in the run can change what Finish says
            self._seen = seen
            self._validate()
            self._show_report()

    def _show_report(self) -> None:
        """Under a registration that did not end well: what exists in the tenant, how to finish or remove it."""
        state = self.registration
        live = self._live
        note = self.query("#configuration-note")
        if not note:
            return
        report = ""
        if (
            self.wizard_draft.registering
            and state.run is not None
            and live is not None
            and not live.running
            and live.board.summary is not None
            and live.board.summary.failed
            and not state.run.ledger.empty
        ):
            report = "\n".join(state.run.report())
        note.first(Static).update(paragraph(report))

    # ------------------------------------------------------------------ automatic registration

    def _sign_in_if_needed(self) -> None:
        state = self.registration
        if state.key == self.wizard_draft.registration_key() and (state.admin is not None or state.waiting):
            return
        self.restart_sign_in()

    def restart_sign_in(self) -> None:
        """A new code: whatever sign-in was waiting stops, and what it found is forgotten."""
        state = self.registration
        state.forget_sign_in()
        request = self.wizard_draft.registration_request()
        if request is None:
            return
        space = self.workbench.workspace
        certificates = {c.thumbprint: c for c in self._certificates}
        current = None
        draft = self.wizard_draft
        stored = draft.editing.settings if draft.editing is not None else None
        if (
            isinstance(stored, M365Settings)
            and stored.app_registration is not None
            and isinstance(stored.credential, CertificateCredential)
        ):  # an app registered automatically keeps its certificate (a manual app's stays with that app)
            current = certificates.get(stored.credential.thumbprint)
        factory = self.workbench.registrar_factory
        try:
            installation = space.home.installation_id()
            if factory is not None:
                registrar = factory(request, installation)
            else:
                registrar = Registrar(
                    request,
                    installation_id=installation,
                    connections=tuple(space.connections()),
                    certificate=lambda thumbprint: certificates.get(thumbprint.upper()),
                    current=current,
                    timeout=self.workbench.timeout,
                )
            registrar.refuse_foreign()
        except SignInError as error:
            state.error = error
            self._show_registration()
            return
        except Exception as error:  # noqa: BLE001  (a damaged installation id file says what to do)
            state.error = SignInError("failed", str(error))
            self._show_registration()
            return
        state.registrar, state.key, state.waiting = registrar, self.wizard_draft.registration_key(), True
        cancel = state.cancel
        self.run_worker(lambda: self._sign_in(registrar, cancel), thread=True, group="sign-in", name="sign-in")
        self._show_registration()

    def _sign_in(self, registrar: Registrar, cancel: threading.Event) -> None:
        """Worker thread: ask for a code, show it, wait for the admin (or `cancel`)."""
        try:
            code = registrar.start_sign_in()
            if cancel.is_set():
                return
            self.app.call_from_thread(self._code_arrived, registrar, code)
            admin = registrar.wait_for_admin(cancel.is_set)
        except SignInError as error:
            if not cancel.is_set():
                self.app.call_from_thread(self._signed_in, registrar, None, error)
            return
        except Exception as error:  # noqa: BLE001  (network trouble: said on the step, never a crash)
            if not cancel.is_set():
                failure = SignInError("failed", f"The sign-in failed: {visible(str(error))}", str(error))
                self.app.call_from_thread(self._signed_in, registrar, None, failure)
            return
        if not cancel.is_set():
            self.app.call_from_thread(self._signed_in, registrar, admin, None)

    def _code_arrived(self, registrar: Registrar, code: DeviceCode) -> None:
        state = self.registration
        if state.registrar is registrar:
            state.code = code
            self._code_shown_at = self.workbench.clock()
            self._show_registration()

    def _signed_in(self, registrar: Registrar, admin: Admin | None, error: SignInError | None) -> None:
        state = self.registration
        if state.registrar is not registrar:
            return
        state.waiting, state.admin, state.error = False, admin, error
        self._show_registration()
        self.mutate_reactive(WizardScreen.draft)

    def code_seconds_left(self) -> int:
        code = self.registration.code
        if code is None:
            return 0
        return max(0, int(code.lifetime - (self.workbench.clock() - self._code_shown_at)))

    def _prepare_plan(self) -> None:
        state = self.registration
        registrar = state.registrar
        if registrar is None or state.admin is None or state.planning:
            return
        live = self._live
        if (
            state.run is not None
            and state.run.plan is state.plan
            and live is not None
            and live.board.summary is not None
            and not live.board.summary.failed
        ):
            return  # applied and verified: the plan shown is what was applied, and Next shows its results again
        state.plan, state.plan_error, state.planning = None, None, True
        self.run_worker(lambda: self._plan(registrar), thread=True, group="plan", name="plan")

    def _plan(self, registrar: Registrar) -> None:
        try:
            plan = registrar.prepare()
        except Exception as error:  # noqa: BLE001  (said on the step)
            self.app.call_from_thread(self._planned, registrar, None, f"Cannot read the tenant: {error}")
            return
        self.app.call_from_thread(self._planned, registrar, plan, None)

    def _planned(self, registrar: Registrar, plan: RegistrationPlan | None, error: str | None) -> None:
        state = self.registration
        state.planning = False
        if state.registrar is not registrar:
            return
        state.plan, state.plan_error = plan, error
        self._show_registration()
        self.mutate_reactive(WizardScreen.draft)

    def _show_registration(self) -> None:
        for step, kind in ((Step.SIGN_IN, SignInStep), (Step.PLAN, PlanStep)):
            if self._has_pane(step):
                pane = self.pane(step)
                if isinstance(pane, kind):
                    pane.show(self.registration)

    def _tick_sign_in(self) -> None:
        if self.step is Step.SIGN_IN and self.registration.waiting and self._has_pane(Step.SIGN_IN):
            self._show_registration()

    def action_copy_code(self) -> None:
        code = self.registration.code
        if code is not None:
            self.workbench.copy(code.user_code, "Sign-in code")

    def _start_registration(self) -> None:
        """Apply the confirmed plan: the registration's checks, then the Exchange Online checks on its app."""
        state = self.registration
        registrar = state.registrar
        if registrar is None or state.plan is None:
            return
        live = self._live
        if (
            state.run is not None
            and state.run.plan is state.plan
            and live is not None
            and not live.closed
            and (live.running or (live.board.summary is not None and not live.board.summary.failed))
        ):
            return  # this plan was applied (or is being applied): going Back and Next again re-applies nothing
        changes = self.workbench.workspace.changes
        run = registrar.run(lambda loaded: changes.stage_certificate(loaded.info, loaded.key_pem))
        state.run = run
        self._verified = None
        self._show_live(self.workbench.verify(registrar.provisional(), record=False, registration=run))

    def _registered_connection(self) -> Connection | None:
        """The connection automatic registration produced, named as the name field says."""
        from dataclasses import replace

        from workbench import validate
        from workbench.drafts import Stamp
        from workbench.validate import FieldError

        state = self.registration
        if state.registrar is None or state.run is None or state.run.registered_settings() is None:
            return None
        draft = self.wizard_draft
        connection = state.registrar.connection(state.run, Stamp(draft.id, self.workbench.workspace.now()))
        try:
            name = validate.connection_name(self.shown_name())
        except FieldError:
            return None
        return replace(connection, name=name)

    def _finish_state(self) -> tuple[bool, str]:
        live = self._live
        if live is None:
            return False, "Not verified yet."
        board = live.board
        if live.running or board.summary is None:
            return False, "Verifying… Finish is enabled once no check has failed."
        status = board.summary.status
        failed = board.counts().get(Status.FAILED, 0)
        if status is Status.CANCELLED:
            return False, "Cancelled. R verifies again."
        if failed:
            return False, f"{failed} check(s) failed: enter on one shows why and how to fix it; r re-runs it."
        name_error = self.wizard_draft.step_errors(Step.CONFIGURATION, self.context()).get("name")
        if name_error:
            return False, "Choose another name (see above)."
        warned = " (with warnings)" if status is Status.WARNING else ""
        return True, f"Verified{warned}. Finish, then OK in the manager, saves it."

    def _finish(self) -> None:
        from dataclasses import replace

        from workbench.verification import summary_record

        ready, note = self._finish_state()
        if not ready:
            self._typed.add("name")
            self._validate()
            self.notify(note, severity="warning", markup=False)
            return
        registering = self.wizard_draft.registering
        connection = self._registered_connection() if registering else self._build()
        live = self._live
        if connection is None or live is None or live.board.summary is None:
            return
        space = self.workbench.workspace
        if registering or (self._verified is not None and self._verified.settings == connection.settings):
            connection = replace(connection, last_verification=summary_record(live.board.summary, space.now()))
        editing = self.wizard_draft.editing
        if editing is not None and replace(connection, updated=editing.updated, last_verification=None) == replace(
            editing, last_verification=None
        ):
            self.notify("Nothing was changed: there is nothing to save.", markup=False)
            self.dismiss(None)
            return
        try:
            if editing is not None:
                space.changes.edit(connection)
            else:
                space.changes.add(connection)
        except NameTakenError as error:
            self.workbench.tell("Choose another name", str(error))
            return
        self.workbench.changed()
        self.dismiss(connection.id)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ the verification host

    @on(DataTable.RowSelected, "#checks")
    def _row_selected(self) -> None:
        self.action_troubleshoot()

    def restart(self, connection: Connection, timeout: float | None = None) -> None:
        if self.wizard_draft.registering and self._live is not None:
            self._live.rerun_all()  # the registration's own run: its checks again, the app it registered
            return
        old = self._live
        board = old.board if old is not None else None
        new = self.workbench.verify(connection, board=board, timeout=timeout, record=False)
        if old is not None:
            self.workbench.forget(old)
        self._live = self.live = new
        self._verified = connection
        self.view.attach(new)

    def adopt(self, settings: M365Settings | OnPremSettings, what: str) -> None:
        self.wizard_draft.adopt(settings)
        connection = self._for_verification()
        if connection is None:
            return
        self.notify(f"{what}; verifying again. It is saved with the connection (Finish, then OK).", markup=False)
        self.restart(connection)

    @on(Input.Submitted)
    async def _submitted(self) -> None:
        """enter in a field moves on, as in a form (Next when the step is valid, else the first problem)."""
        if self.step is not Step.CONFIGURATION:
            await self.action_next()
