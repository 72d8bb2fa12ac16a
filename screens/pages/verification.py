"""The verification screen: every check of one verification, streaming in place (`VerificationPanel`), from
which each check is troubleshot, acted on and re-run (enter, r, R: the panel's keys). escape cancels a running
verification at once and, once stopped, goes back. A fix that changes the connection's settings makes them a
pending edit of the connection here, and the verification starts again with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from workbench.model import Connection, M365Settings, OnPremSettings

from ..chrome import WorkbenchScreen
from ..console import Console
from ..render.literal import shown
from ..state.live import LiveVerification
from ..widgets.verification import VerificationPanel, VerificationView


class VerificationScreen(WorkbenchScreen):
    HELP_TEXT = (
        "Every check of the verification, as it runs. enter opens the selected check's troubleshooting panel "
        "(cause, fixes with their exact commands, and the action the workbench can take for you). r re-runs the "
        "selected check with what it needs and what depends on it; R re-runs everything. escape cancels a "
        "running verification at once; pressed again, it goes back."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "m",
            "app.manage",
            "Manage",
            id="verify.manage",
            show=False,
            tooltip="Manage server connections (ctrl+s there saves what a fix made pending)",
        ),
        Binding(
            "escape",
            "cancel_or_back",
            "Cancel/back",
            id="verify.back",
            tooltip="Cancel a running verification; back when stopped",
        ),
    ]

    def __init__(
        self,
        live: LiveVerification,
        *,
        owned: bool = True,
        via: str = "Dashboard",
        on_restart: Callable[[LiveVerification, LiveVerification], None] | None = None,
    ) -> None:
        super().__init__()
        self.live = live
        self.owned = owned  # closed with the screen (a fleet keeps its own)
        self.via = via  # the breadcrumb up to here
        self.on_restart = on_restart  # the owner of a verification it does not own hears of its replacement

    @classmethod
    def start(cls, app: Console, connection: Connection, via: str = "Dashboard") -> VerificationScreen:
        return cls(app.verify(connection), via=via)

    def trail(self) -> str:
        return f"{self.via} › {shown(self.live.connection.name, 40)} › Verification"

    @classmethod
    def help_bindings(cls) -> list[BindingType]:
        return [*VerificationPanel.BINDINGS, *cls.BINDINGS]

    @property
    def view(self) -> VerificationView:
        return self.query_one(VerificationView)

    def body(self) -> ComposeResult:
        yield VerificationPanel(self.live, id="verification-panel")

    def on_mount(self) -> None:
        self.query_one("#checks", DataTable).focus()

    def on_unmount(self) -> None:
        if self.owned:
            self.workbench.forget(self.live)

    def action_cancel_or_back(self) -> None:
        if self.live.running:
            self.live.cancel()
            self.notify("Cancelled: unfinished checks are marked so. escape again goes back.", markup=False)
            return
        self.dismiss()

    @on(VerificationPanel.Adopt)
    def _adopt(self, message: VerificationPanel.Adopt) -> None:
        self.adopt(message.settings, message.what)

    @on(VerificationPanel.Restart)
    def _restart(self, message: VerificationPanel.Restart) -> None:
        self.restart(message.connection, message.timeout)

    def adopt(self, settings: M365Settings | OnPremSettings, what: str) -> None:
        """The connection with `settings` becomes a pending edit, and the verification starts again with it."""
        import dataclasses

        from storage.changeset import configuration

        app = self.workbench
        verified = self.live.connection
        current = app.workspace.find(verified.id)
        if current is not None and app.workspace.gone_from_store(verified.id):
            current = None  # removed by another session, not redrawn here yet
        if current is None or configuration(current) != configuration(verified):
            # The dialog's answer is about the connection as it was when it was verified.
            gone = (
                "no longer exists (deleted here or by another session, or marked for deletion)"
                if current is None
                else "has been changed since it was verified"
            )
            app.tell(
                "Nothing was changed",
                f"'{shown(verified.name, 60)}' {gone}, so this answer was not applied. Verify the connection as it "
                "is now and answer again.",
            )
            return
        edited = dataclasses.replace(verified, updated=app.workspace.now(), settings=settings)
        app.workspace.changes.edit(edited)
        app.changed()
        self.notify(f"{what} (pending until OK in Manage server connections). Verifying again.", markup=False)
        self.restart(edited)

    def restart(self, connection: Connection, timeout: float | None = None) -> None:
        """Verify the connection again from the start, as edited (a pin, a new secret), on the same table."""
        old = self.live
        new = self.workbench.verify(connection, board=old.board, timeout=timeout, owner=old.owner)
        if self.owned:
            self.workbench.forget(old)
        elif self.on_restart is not None:
            self.on_restart(old, new)  # the owner (the fleet) keeps the new one in the old one's place
        else:
            self.workbench.forget(old)
            self.owned = True
        self.live = new
        self.query_one(VerificationPanel).live = new
        for head in self.query("#masthead"):
            head.trail = self.trail()  # type: ignore[attr-defined]
        self.redraw()
