"""The wizard's last step, Configuration: the connection's name, and its verification in the embedded
verification view (the same keys as the verification screen).

The step owns the verification it shows (`live`): on entering it verifies the draft's connection (or applies
automatic registration's confirmed plan), replaces the run on a restart or when a fix changed the draft (its
panel's `Adopt` and `Restart` stop here), forgets it when it goes. It watches the run, shows the name learned from
the tenant, and posts `ConfigurationStep.Progress` when what the wizard shows from it may change (Finish's state,
the step list). Under a registration that did not end well it says what exists in the tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from workbench.checks.events import Status
from workbench.drafts import Stamp
from workbench.model import Connection
from workbench.registration.apply import RegistrationRun

from ..render.literal import paragraph
from ..state.live import BoardChanged, LiveVerification
from ..widgets.verification import VerificationPanel
from .draft import Context, Step, WizardDraft
from .fields import TextField, set_value
from .registration_flow import RegistrationFlow, RegistrationState
from .steps import StepPane, build_or_say

if TYPE_CHECKING:
    from textual.widget import AwaitMount

    from ..console import Console


class DraftVerificationPanel(VerificationPanel, inherit_bindings=False):
    """The verification panel of a connection not saved yet. Its r and R are the wizard's own keys (they act
    wherever the focus is on the Configuration step, as the step's status line says); enter on a check
    troubleshoots it."""

    BINDINGS: ClassVar[list[BindingType]] = []
    SAVED_BY = "Finish, then OK in Manage server connections"


class ConfigurationStep(StepPane):
    STEP = Step.CONFIGURATION
    INTRO = ""
    DEFAULT_CSS = """
    ConfigurationStep { padding: 0; }
    ConfigurationStep > #name-row { height: auto; padding: 0 1; }
    ConfigurationStep > #configuration-note { height: auto; padding: 0 1; color: $text-muted; }
    ConfigurationStep > #verification-slot { height: 1fr; min-height: 6; }
    """

    class Progress(Message):
        """The verification moved on (started, ended, read the tenant's domain): Finish and the step list may
        change."""

    def __init__(
        self, draft: WizardDraft, workbench: Console, flow: RegistrationFlow, context: Callable[[], Context]
    ) -> None:
        super().__init__(draft)
        self.workbench = workbench
        self.flow = flow  # the wizard's registration (its confirmed plan is applied here)
        self.context = context  # what the rules need from outside the draft, as the wizard knows it now
        self.live: LiveVerification | None = None
        self.verified: Connection | None = None  # what `live` verifies (None: a registration's run)
        self._seen: tuple[object, ...] = ()  # the run's state when the step last looked

    def compose(self) -> ComposeResult:
        with Vertical(id="name-row"):
            yield self.text_field("name")
        yield Vertical(id="verification-slot")
        yield Static("", id="configuration-note")

    def fields(self) -> ComposeResult:
        return iter(())

    def on_show(self) -> None:
        self._look()  # what the run did while another step was shown

    @on(BoardChanged)
    def _board_changed(self, message: BoardChanged) -> None:
        if message.live is self.live:
            self._look()

    def on_unmount(self) -> None:
        if self.live is not None:
            self.workbench.forget(self.live)
            self.live = None

    @property
    def registration(self) -> RegistrationState:
        """What automatic registration found (and what a registration that failed left in the tenant)."""
        return self.flow.state

    def redraw(self) -> None:
        """The name field: what the admin typed, else the proposed name."""
        set_value(self.query_one("#name", Input), self.draft.shown_name(self.context()))

    def enter(self) -> None:
        self.redraw()
        self.start()
        self.redraw()  # the name the verification stands in with, once it started

    def first_focus(self) -> Widget | None:
        tables = self.query("#checks")
        return tables.first() if tables else self.query_one("#name", Input)

    def typed(self, spec: TextField, value: str) -> None:
        """The name is proposed (from what the checks learn) until the admin types one."""
        self.draft.name_follows_default = not value.strip()
        super().typed(spec, value)

    # ------------------------------------------------------------------ the verification

    def start(self) -> None:
        """On entering the step: verify the draft's connection (unless its results stand), or apply the confirmed
        plan of automatic registration."""
        if self.draft.registering:
            self._apply_plan()
            return
        connection = self._for_verification()
        if connection is not None:
            self.verify(connection)

    def _for_verification(self) -> Connection | None:
        """The connection to verify, named as the name field shows it (or a stand-in while that is not valid)."""
        context = self.context()
        stage = self.workbench.workspace.changes.stage_secret
        return build_or_say(self, self.draft, context, stage, name=self.draft.verification_name(context))

    def _apply_plan(self) -> None:
        """Apply the confirmed plan: the registration's checks, then the Exchange Online checks on its app."""
        state = self.registration
        registrar = state.registrar
        if registrar is None or state.plan is None or self.applied():
            return  # nothing to apply; or this plan was applied (or is being applied): Back and Next re-apply nothing
        changes = self.workbench.workspace.changes
        run: RegistrationRun | None = self.flow.start_run(
            lambda loaded: changes.stage_certificate(loaded.info, loaded.key_pem)
        )
        if run is None:
            return
        self.verified = None
        self.attach(self.workbench.verify(registrar.provisional(), record=False, registration=run))

    def cancel(self) -> bool:
        """Cancel the verification while it runs (False: none was running)."""
        live = self.live
        if live is None or not live.running:
            return False
        live.cancel()
        return True

    def verify(self, connection: Connection) -> None:
        """Verify `connection`, unless that is what was verified and its results stand."""
        live = self.live
        if (
            live is not None
            and not live.closed
            and self.verified is not None
            and self.verified.settings == connection.settings
            and not live.running
            and live.board.summary is not None
            and live.board.summary.status is not Status.CANCELLED
        ):
            return  # nothing changed since it was verified: the results stand
        self.verified = connection
        self.attach(self.workbench.verify(connection, record=False))

    def applied(self) -> bool:
        """Whether the registration's plan was applied here (or is being applied), and did not fail."""
        state, live = self.registration, self.live
        return (
            state.run is not None
            and state.run.plan is state.plan
            and live is not None
            and not live.closed
            and (live.running or (live.board.summary is not None and not live.board.summary.failed))
        )

    def attach(self, live: LiveVerification) -> None:
        """`live` replaces the step's verification (the one before is forgotten) in the same view."""
        if self.live is not None:
            self.workbench.forget(self.live)
        self.live = live
        live.listen(self)
        self._look()
        slot = self.query_one("#verification-slot")
        panels = slot.query(VerificationPanel)
        if panels:
            panels.first().live = live
        else:
            self.call_next(self._focus_checks_once, slot.mount(DraftVerificationPanel(live, id="verification-panel")))

    @on(VerificationPanel.Restart)
    def _restart(self, message: VerificationPanel.Restart) -> None:
        message.stop()
        self.restart(message.connection, message.timeout)

    @on(VerificationPanel.Adopt)
    def _adopt(self, message: VerificationPanel.Adopt) -> None:
        """A fix changed the connection (a pin, a CA bundle, a new secret): into the draft, and verified again."""
        message.stop()
        self.draft.adopt(message.settings)
        connection = self._for_verification()
        if connection is None:
            return
        self.notify(
            f"{message.what}; verifying again. It is saved with the connection (Finish, then OK).", markup=False
        )
        self.restart(connection)

    def restart(self, connection: Connection, timeout: float | None = None) -> None:
        """Verify `connection` again from the start on the same table (a registration: its own run again)."""
        if self.draft.registering and self.live is not None:
            self.live.rerun_all()  # the registration's own run: its checks again, the app it registered
            return
        old = self.live
        board = old.board if old is not None else None
        new = self.workbench.verify(connection, board=board, timeout=timeout, record=False)
        if old is not None:
            self.workbench.forget(old)
        self.live, self.verified = new, connection
        self.query_one(VerificationPanel).live = new

    def to_save(self) -> Connection | None:
        """What Finish hands to the manager: the registered connection, or the draft's (None, said, while a field is
        wrong); with this verification's record when it verified exactly that connection."""
        from workbench.verification import summary_record  # the verification engine: loaded when first needed

        live = self.live
        summary = live.board.summary if live is not None else None
        if summary is None:
            return None
        draft, space = self.draft, self.workbench.workspace
        if draft.registering:
            connection = self.registration.connection(Stamp(draft.id, space.now()), draft.shown_name(self.context()))
        else:
            connection = build_or_say(self, draft, self.context(), space.changes.stage_secret)
        if connection is None:
            return None
        if draft.registering or (self.verified is not None and self.verified.settings == connection.settings):
            connection = replace(connection, last_verification=summary_record(summary, space.now()))
        return connection

    def finish_state(self) -> tuple[bool, str]:
        """Whether Finish may save (no check failed, the name is valid), and the status line that says why (not)."""
        live = self.live
        return self.draft.finish_state(
            self.context(),
            started=live is not None,
            running=live is not None and live.running,
            summary=live.board.summary if live is not None else None,
            failed=live.board.counts().get(Status.FAILED, 0) if live is not None else 0,
        )

    async def _focus_checks_once(self, mounted: AwaitMount) -> None:
        await mounted  # the panel composes the view, which composes the table: the table exists once this is done
        self._focus_checks()

    def _focus_checks(self) -> None:
        """The checks take the keys (enter troubleshoots), as on the verification screen."""
        if self.display:
            for table in self.query("#checks"):
                table.focus()

    def _look(self) -> None:
        live = self.live
        if live is None or not self.display:
            return
        draft = self.draft
        board = live.board
        renamed = False
        tenant = board.rows.get("m365.tenant")
        if tenant is not None and tenant.result is not None:
            learned = tenant.result.outcome.facts.get("tenant_domain")
            if isinstance(learned, str) and learned and learned != draft.learned_domain:
                draft.learned_domain = learned
                renamed = draft.name_follows_default
        seen = (id(live), live.running, board.summary, draft.learned_domain)
        if seen != self._seen:  # only a change in the run can change what Finish says
            self._seen = seen
            if renamed:
                self.redraw()  # the proposed name follows the domain learned
            self.post_message(self.Progress())
            self._show_report()

    def _show_report(self) -> None:
        """Under a registration that did not end well: what exists in the tenant, how to finish or remove it."""
        state, live = self.registration, self.live
        report = ""
        if (
            self.draft.registering
            and state.run is not None
            and live is not None
            and not live.running
            and live.board.summary is not None
            and live.board.summary.failed
            and not state.run.ledger.empty
        ):
            report = "\n".join(state.run.report())
        self.query_one("#configuration-note", Static).update(paragraph(report))
