"""What the screens may ask of the console they run in, as a typed protocol.

Screens and dialogs reach the running `WorkbenchApp` through `console(node)` instead of importing `screens.app`:
the app imports every screen to push it, so a screen importing the app back would close an import circle around
it. `screens.app` checks that `WorkbenchApp` satisfies this protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.notifications import SeverityLevel
    from textual.screen import Screen
    from textual.signal import Signal
    from textual.worker import Worker

    from workbench.browse import Directory
    from workbench.checks.board import Board
    from workbench.checks.engine import Confirm
    from workbench.checks.events import Summary
    from workbench.model import Connection, Secret
    from workbench.registration import Registrar, RegistrationRequest, RegistrationRun

    from .state.live import LiveVerification
    from .state.workspace import Workspace
    from .wizard.fill import LabValues

T = TypeVar("T")


class Notifies(Protocol):
    """Anything that shows a notification: the console, a screen, a widget (Textual's `notify`)."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...


class Console(Notifies, Protocol):
    """The console's services: the workspace and its change signal, verifications, dialogs, the clipboard."""

    workspace: Workspace
    home_label: str | None
    workspace_changed: Signal[None]
    timeout: float
    clock: Callable[[], float]
    lab_values: LabValues | None
    registrar_factory: Callable[[RegistrationRequest, str], Registrar] | None

    @property
    def local_user(self) -> str: ...

    def changed(self) -> None: ...

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
    ) -> LiveVerification: ...

    def forget(self, live: LiveVerification) -> None: ...

    def keep_result(self, connection: Connection, summary: Summary) -> Worker[None]: ...

    async def browse(self, connection: Connection) -> Directory: ...

    async def try_secret(self, connection: Connection, secret: Secret, check: str) -> str | None: ...

    def edit_connection(self, connection: Connection) -> None: ...

    def worker_failed(self, event: Worker.StateChanged) -> None: ...

    async def ask(self, screen: Screen[T]) -> T | None: ...

    def tell(self, title: str, message: str, details: Iterable[tuple[str, str]] = ()) -> None: ...

    def copy(self, text: str, what: str = "Command") -> None: ...


def console(node: DOMNode) -> Console:
    """The console `node` runs in."""
    return cast("Console", node.app)
