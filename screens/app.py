"""The console's shell: one data directory, its pending changes, the screens, the keys every screen shares.

`WorkbenchApp(home=...)` takes the data directory (a `storage.Home` or a path), so tests and the demo run on
temporary ones. Slow client libraries (msal, exchangelib, pypsrp) are imported only when a verification starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from storage import Home, prompt_on_loop
from workbench.checks.board import Board
from workbench.checks.events import Summary
from workbench.model import Connection, Secret

from .chrome import WorkbenchScreen
from .console import Console
from .dialogs.common import ConfirmModal, HelpModal, MessageModal, SecretModal
from .state.live import LiveVerification, Source
from .state.workspace import Workspace

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from workbench.browse import Directory
    from workbench.checks.engine import Confirm
    from workbench.registration import Registrar, RegistrationRequest, RegistrationRun

    from .wizard import LabValues

T = TypeVar("T")

log = logging.getLogger(__name__)

CONTAINED_MAX = 20  # defects contained in one session before the console gives up and exits as Textual would


class Recorded(Message):
    """A verification's result was recorded (or could not be): the workspace changed."""


class WorkbenchApp(App[None]):
    TITLE = "Exchange Connection Workbench"
    CSS_PATH = "workbench.tcss"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+q", "quit", "Quit", id="app.quit", priority=True, tooltip="Quit (asks first when changes are pending)"
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="The keys of this screen"),
        Binding("ctrl+c", "help_quit", "Quit?", id="app.ctrl-c", show=False, system=True),
    ]

    def __init__(
        self,
        home: Home | Path,
        *,
        now: Callable[[], datetime] | None = None,
        lab: bool = False,
        tz: tzinfo | None = None,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        source_factory: Callable[[Connection, Confirm], Source] | None = None,
        lab_values: LabValues | None = None,
        local_user: str | None = None,
        browser: Callable[[Connection], Awaitable[Directory]] | None = None,
        new_id: Callable[[], str] | None = None,
        registrar: Callable[[RegistrationRequest, str], Registrar] | None = None,
        log_file: Path | None = None,
        home_label: str | None = None,
    ) -> None:
        super().__init__()
        from .paste_guard import install

        install()  # a paste is text, never keys (Textual's parser reissues what follows an ESC in a paste)
        self.log_file = log_file  # where WORKBENCH_LOG's records go while the console runs (None: not logging)
        # What the masthead calls the data directory (None: its path). Snapshots run each in a temporary
        # directory of its own and show one fixed name.
        self.home_label = home_label
        if isinstance(home, Path):
            home = Home(home, passphrase_prompt=self._passphrase_from_dialog)
        kwargs: dict[str, Any] = {"lab": lab, "tz": tz}
        if now is not None:
            kwargs["now"] = now
        self.workspace = Workspace(home, **kwargs)
        self.timeout = timeout
        self.clock = clock  # monotonic seconds, for running times (tests freeze it)
        self._source_factory = source_factory
        self.lab_values = lab_values  # the demo's fill-in (ctrl+l in the wizard); None outside the demo
        self._local_user = local_user
        self._browser = browser
        self._new_id = new_id
        # Makes the `Registrar` of automatic registration (request, installation id); snapshots script one.
        self.registrar_factory = registrar
        self._open: weakref.WeakSet[LiveVerification] = weakref.WeakSet()  # started, maybe not closed yet
        self._ui_loop: asyncio.AbstractEventLoop | None = None
        self._contained = 0
        # "The workspace changed" (a save, a pending change, a recorded result): every screen that shows the
        # workspace subscribes when it mounts, and its subscription ends with it.
        self.workspace_changed: Signal[None] = Signal(self, "workspace-changed")

    def on_mount(self) -> None:
        self._ui_loop = asyncio.get_running_loop()
        if self.log_file is not None:
            from workbench.text import visible

            self.notify(
                f"Logging (WORKBENCH_LOG) to {visible(str(self.log_file))}, not over the console.",
                title="Log file",
                timeout=15,
                markup=False,
            )

    # ------------------------------------------------------------------ screens

    def get_default_screen(self) -> Screen[Any]:
        from .pages.dashboard import DashboardScreen

        return DashboardScreen()

    def action_manage(self) -> None:
        from .pages.manager import ManagerScreen

        if not isinstance(self.screen, ManagerScreen):
            self.push_screen(ManagerScreen())

    @property
    def local_user(self) -> str:
        """Whose name the wizard proposes as the admin's UPN (tests fix it)."""
        if self._local_user is None:
            from .wizard.screen import local_user

            self._local_user = local_user()
        return self._local_user

    def action_new_connection(self) -> None:
        """The wizard for a new connection; Finish takes it to the manager as a pending change."""
        import uuid

        from .wizard import WizardDraft, WizardScreen

        if any(isinstance(screen, WizardScreen) for screen in self.screen_stack):
            self.notify("A connection is being entered: Finish or cancel that wizard first.", severity="warning")
            return
        new_id = self._new_id() if self._new_id is not None else str(uuid.uuid4())
        via = getattr(self.screen, "TRAIL", "") or "Dashboard"
        self.push_screen(WizardScreen(WizardDraft(id=new_id), via=via), self._wizard_done)

    def edit_connection(self, connection: Connection) -> None:
        """The wizard, pre-filled from `connection`; Finish replaces it in place as a pending edit."""
        from .wizard import WizardDraft, WizardScreen

        if any(isinstance(screen, WizardScreen) for screen in self.screen_stack):
            self.notify("A connection is being entered: Finish or cancel that wizard first.", severity="warning")
            return
        via = getattr(self.screen, "TRAIL", "") or "Dashboard"
        self.push_screen(WizardScreen(WizardDraft.for_edit(connection), via=via), self._wizard_done)

    def _wizard_done(self, connection_id: str | None) -> None:
        from .pages.manager import ManagerScreen

        if connection_id is None:
            return
        if isinstance(self.screen, ManagerScreen):
            self.screen.select(connection_id)
        else:
            self.push_screen(ManagerScreen(select=connection_id))
        kind = self.workspace.pending(connection_id)
        what = "Edited" if kind is not None and kind.value == "edited" else "Added"
        self.notify(f"{what} as a pending change: OK (ctrl+s) saves it, Cancel discards it.", markup=False)

    def action_fleet(self) -> None:
        from .pages.fleet import FleetScreen

        connections = self.workspace.connections()
        if not connections:
            self.notify("There are no connections to verify yet.", severity="warning")
            return
        self.push_screen(FleetScreen(connections))

    def action_dashboard(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) == 2 and not isinstance(self.screen, type(self.get_default_screen())):
            self.pop_screen()

    def action_pending(self) -> None:
        from .dialogs.pending import PendingModal

        self.push_screen(PendingModal(self.workspace.pending_changes()))

    def action_help(self) -> None:
        """The keys of the screen in front (its own, then the console's), as their bindings describe them."""
        screen = self.screen
        keys: list[tuple[str, str]] = []
        own = screen.help_bindings() if isinstance(screen, WorkbenchScreen) else getattr(type(screen), "BINDINGS", [])
        for binding in [*own, *self.BINDINGS]:
            if isinstance(binding, Binding) and binding.description and not binding.system:
                keys.append((self.get_key_display(binding), binding.tooltip or binding.description))
        keys.append(("ctrl+p", "Find any command of the console"))
        title = getattr(screen, "TRAIL", "") or str(screen.title or self.TITLE)
        about = getattr(screen, "HELP_TEXT", "") or ""
        self.push_screen(HelpModal(title, about, keys))

    def action_command_palette(self) -> None:
        """The palette switches screens and starts actions: never over a dialog, whose answer would then be
        about something the palette changed meanwhile."""
        if isinstance(self.screen, ModalScreen):
            self.bell()
            self.notify("Answer the dialog first (escape closes it), then ctrl+p.", markup=False)
            return
        super().action_command_palette()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand("Dashboard", "Back to the dashboard", self.action_dashboard)
        yield SystemCommand("New connection", "The wizard for a new Exchange connection", self.action_new_connection)
        yield SystemCommand(
            "Manage server connections", "The table of connections: delete, verify, OK/Cancel", self.action_manage
        )
        yield SystemCommand("Verify all connections", "Verify every connection at once (fleet view)", self.action_fleet)
        yield SystemCommand(
            "Pending changes", "What OK in the connection manager will save, field by field", self.action_pending
        )
        yield SystemCommand("Help", "The keys of the current screen", self.action_help)
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        from storage import CommitInProgressError

        from .wizard import WizardScreen

        if self.workspace.saving:  # never "discard them?" about changes being written right now
            self.notify(str(CommitInProgressError()), markup=False)
            return
        entering = [s for s in self.screen_stack if isinstance(s, WizardScreen) and s.entered]
        pending = len(self.workspace.pending_changes())
        if entering:
            tenant, details = entering[0].left_in_tenant()
            question = f"A connection is being entered in the wizard and is not saved.{tenant} Quit and discard it" + (
                f", and {pending} pending change{'s' if pending != 1 else ''}?" if pending else "?"
            )
            self.push_screen(ConfirmModal("Quit", question, details, yes="Quit and discard", no="Stay"), self._quit_if)
            return
        if pending:
            question = (
                f"{pending} pending change{'s are' if pending != 1 else ' is'} not saved. Quit and discard "
                f"{'them' if pending != 1 else 'it'}? (To keep {'them' if pending != 1 else 'it'}: Stay, then ctrl+s "
                "in Manage server connections.)"
            )
            self.push_screen(ConfirmModal("Quit", question, yes="Quit and discard", no="Stay"), self._quit_if)
            return
        self.exit()

    def _quit_if(self, answer: bool | None) -> None:
        if answer:
            self.exit()

    def changed(self) -> None:
        """The workspace changed (a save, a pending change, a recorded result): every screen showing it redraws."""
        self.workspace_changed.publish(None)

    # ------------------------------------------------------------------ verification

    def verify(
        self,
        connection: Connection,
        confirm: Confirm | None = None,
        board: Board | None = None,
        timeout: float | None = None,
        *,
        record: bool = True,
        registration: RegistrationRun | None = None,
        owner: DOMNode | None = None,
    ) -> LiveVerification:
        """Start verifying `connection` as it stands in the workspace (a pending edit is verified as edited, with
        secrets staged but not saved). The result is recorded when the run ends, unless `record` is False (the
        wizard keeps its result with the connection it hands over). The run is a worker of `owner` (by default the
        console): it ends when `owner` is unmounted, or with `forget`."""
        from workbench.checks.engine import refuse

        if self._source_factory is not None:
            source = self._source_factory(connection, confirm or refuse)
        else:
            from workbench.verification import Verification, target_for

            target = target_for(self.workspace.home, connection, timeout or self.timeout, staged=self.workspace.changes)
            source = Verification(target, confirm or refuse, registration=registration)
        live = LiveVerification(
            connection,
            source,
            on_summary=self._record if record else None,
            board=board if board is not None else Board(self.clock),
        )
        self._open.add(live)
        live.start(owner if owner is not None else self)
        return live

    async def browse(self, connection: Connection) -> Directory:
        """The administrators and accepted domains of the organisation `connection` reaches (its password may
        be staged and not saved yet)."""
        if self._browser is not None:
            return await self._browser(connection)
        from workbench.browse import browse
        from workbench.verification import target_for

        return await browse(target_for(self.workspace.home, connection, self.timeout, staged=self.workspace.changes))

    async def try_secret(self, connection: Connection, secret: Secret, check: str) -> str | None:
        """Try a new client secret or password for `connection` before it is staged: why the server refused it
        (its code and title), or None when it did not (or, on a scripted console, could not be asked)."""
        if self._source_factory is not None:
            return None
        from workbench.secret_trial import refused, trial_check, try_secret
        from workbench.verification import target_for

        target = target_for(self.workspace.home, connection, self.timeout, staged=self.workspace.changes)
        result = await try_secret(target, secret, trial_check(connection, check))
        if result is None or not refused(result) or result.outcome.problem is None:
            return None
        return f"{result.outcome.problem.code}: {result.outcome.problem.title}"

    @property
    def _lives(self) -> list[LiveVerification]:
        """The verifications that run or can run again (started and not closed)."""
        return [live for live in self._open if not live.closed]

    def forget(self, live: LiveVerification) -> None:
        """End `live` before its owner goes (it was replaced)."""
        live.close()

    def _record(self, live: LiveVerification, summary: Summary) -> None:
        from workbench.checks.events import Status

        if summary.status is Status.CANCELLED:  # a run cut short says nothing new: the last real result stays
            self.changed()
            return
        self.keep_result(live.connection, summary)

    @work(thread=True, group="record", exit_on_error=False)
    def keep_result(self, connection: Connection, summary: Summary) -> None:
        """Record `summary` as `connection`'s last verification (on the stored connection, or with its pending
        edit when that is what was verified), off the UI's thread; the pages redraw when it is kept."""
        from storage import StorageError

        try:
            self.workspace.record(connection, summary)
        except StorageError as error:
            self.notify(f"The result was not recorded: {error}", severity="warning", markup=False)
        self.post_message(Recorded())

    def on_recorded(self) -> None:
        self.changed()

    async def on_unmount(self) -> None:
        for live in self._lives:  # before the workers go: a pump not started yet would release nothing
            live.close()

    # ------------------------------------------------------------------ the last resort

    def _handle_exception(self, error: Exception) -> None:
        """An exception nothing else handled ends a Textual app. With changes pending, that would lose them: the
        error is shown (literally, redacted, and logged) and the console goes on, so they can be saved."""
        pending = len(self.workspace.pending_changes())
        if not pending or not self.is_running or self._contained >= CONTAINED_MAX:
            super()._handle_exception(error)
            return
        self._contained += 1
        from textual.worker import WorkerFailed

        if isinstance(error, WorkerFailed) and isinstance(error.error, Exception):
            error = error.error  # what the worker raised, not Textual's wrapper around it
        self._show_error(error)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_failed(event)

    def worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported (the console's own, and those of the screens, which send
        theirs here unless they explain them themselves): shown literally, redacted, and logged; the console goes
        on. A worker's failure is the failure of one job, never of the console."""
        error = event.worker.error
        if event.state is not WorkerState.ERROR or not isinstance(error, Exception) or event.worker.exit_on_error:
            return  # (a worker that exits on error reaches `_handle_exception` instead)
        if self._contained >= CONTAINED_MAX:
            super()._handle_exception(error)
            return
        self._contained += 1
        self._show_error(error, event.worker.name)

    def _show_error(self, error: Exception, job: str = "") -> None:
        from workbench.redaction import redact

        pending = len(self.workspace.pending_changes())
        log.error(
            "Unexpected error%s, contained (%d pending change(s))", f" in {job}" if job else "", pending, exc_info=error
        )
        what = redact(f"{type(error).__name__}: {error}", limit=600)
        if pending:
            kept = (
                f"Your {pending} pending change{'s are' if pending != 1 else ' is'} kept: save "
                f"{'them' if pending != 1 else 'it'} with ctrl+s in Manage server connections (or discard with escape "
                "there), then restart the console."
            )
        else:
            kept = "Nothing pending was lost."
        self.tell(
            "Something went wrong",
            f"The console met an error it did not expect: {what}\n\n{kept} Please report the error with what you "
            "did just before.",
        )

    # ------------------------------------------------------------------ asking

    async def ask(self, screen: Screen[T]) -> T | None:
        """Show a dialog and wait for its answer, from any task on the UI's loop (not only from a worker)."""
        future: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()

        def answered(result: T | None) -> None:
            if not future.done():
                future.set_result(result)

        self.push_screen(screen, answered)
        return await future

    def tell(self, title: str, message: str, details: Iterable[tuple[str, str]] = ()) -> None:
        self.push_screen(MessageModal(title, message, tuple(details)))

    def copy(self, text: str, what: str = "Command") -> None:
        """Copy through OSC 52: the terminal puts it on the clipboard of the machine the admin sits at, over SSH
        and inside tmux (with `set-clipboard on`)."""
        self.copy_to_clipboard(text)
        self.notify(f"{what} copied to the clipboard ({len(text)} characters).", markup=False)

    def _passphrase_from_dialog(self) -> Secret:
        """The vault passphrase, asked for in a dialog on the UI's loop while a worker thread waits."""

        async def ask() -> Secret | None:
            return await self.ask(
                SecretModal("Vault passphrase", "The vault of this data directory is protected by a passphrase.")
            )

        loop = self._ui_loop
        if loop is None:
            from storage import VaultError

            raise VaultError("The vault passphrase can only be asked for while the console runs")
        return prompt_on_loop(loop, ask)()


def _is_a_console(app: WorkbenchApp) -> Console:
    """mypy checks here that the app offers everything the screens ask of it (`screens.console.Console`)."""
    return app
