"""After OK deleted an automatically registered connection: offer to delete its Entra app too.

Deleting it needs an admin: a new device-code sign-in, right here (the code large, `c` copies it). Or later: the
exact Graph call and portal path, copyable. Offered only for an app no remaining connection uses.

The certificate registration made for the app left the personal store with OK already (the commit removes it,
key included, once no connection uses it). A certificate imported by hand that OK left unused is offered for
removal here, never removed silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from storage import CommitResult, InUseError, NotFoundError, StorageError
from storage.changeset import certificate_of
from workbench.clouds import endpoints_for
from workbench.model import CertificateInfo, Connection, M365Settings
from workbench.registration import (
    DeviceCode,
    Registrar,
    RegistrationRequest,
    SignInError,
    delete_application,
    removal_command,
    removal_instructions,
)
from workbench.text import visible

from ..console import Console, console
from ..render.literal import literal, paragraph
from ..render.signin import sign_in_address
from .common import AnsweredModal, ConfirmModal


class AppCleanupModal(AnsweredModal[None]):
    state: reactive[str] = reactive("asking", init=False, repaint=False)
    """asking, signing-in, deleting, done or failed: what the buttons offer follows it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "delete_now", "Delete now", id="cleanup.delete"),
        Binding("c", "copy", "Copy", id="cleanup.copy", tooltip="The sign-in code, else the PowerShell line"),
        Binding("escape", "later", "Later", id="cleanup.later"),
    ]

    def __init__(self, connection: Connection, timeout: float) -> None:
        super().__init__(classes="dialog-screen")
        settings = connection.settings
        assert isinstance(settings, M365Settings) and settings.app_registration is not None
        self.connection = connection
        self.settings = settings
        self.registration = settings.app_registration
        self.timeout = timeout
        graph_url = endpoints_for(settings).graph_url
        self.instructions = removal_instructions(graph_url, settings.app_registration, settings.cloud)
        self.command = removal_command(graph_url, settings.app_registration.app_object_id, settings.cloud)
        self.code: DeviceCode | None = None
        self._registrar: Registrar | None = None

    @property
    def workbench(self) -> Console:
        return console(self)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Delete its Entra app too?", classes="dialog-title")
            with VerticalScroll(classes="dialog-details"):
                yield Static(
                    self._question(
                        "is still in the tenant, and no other connection uses it. Delete it now (an admin signs in "
                        "with a code: Global Administrator or Privileged Role Administrator), or later:"
                    ),
                    classes="dialog-question",
                    id="cleanup-question",
                )
                yield Static("", id="cleanup-state")  # the code to enter, then the outcome: seen first
                yield Static(paragraph("\n".join(self.instructions)), id="cleanup-later")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Delete now  d", id="delete", variant="warning")
                yield Button("Copy  c", id="copy")
                yield Button("Later  esc", id="later", variant="primary")

    def _question(self, state: str) -> Text:
        question = Text("'")
        question.append_text(literal(self.connection.name, 60))
        question.append(f"' was registered automatically. Its app (unique name {self.registration.unique_name}) ")
        question.append(state)
        return question

    def _show(self, message: Text | str) -> None:
        self.query_one("#cleanup-state", Static).update(message)

    @on(Button.Pressed, "#delete")
    def action_delete_now(self) -> None:
        if self.state not in ("asking", "failed") or not self.answerable():
            return
        s = self.settings
        request = RegistrationRequest(
            app_account=s.app_account,
            cloud=s.cloud,
            custom_endpoints=s.custom_endpoints,
            ca_bundle=s.ca_bundle,
            tenant_id=s.tenant_id,
            existing=self.connection,
            public_client_id=None,  # the connection's own sign-in client, if it has one
        )
        # The app is the connection's own: no installation id needed to find it.
        self._registrar = Registrar(request, installation_id="", timeout=self.timeout)
        self.state = "signing-in"
        self._show(Text("Asking Entra ID for a code…", style="dim"))
        self._delete(self._registrar)

    class Code(Message):
        """The code the admin enters to sign in."""

        def __init__(self, code: DeviceCode) -> None:
            super().__init__()
            self.code = code

    class Deleting(Message):
        """The admin signed in: the app is being deleted."""

        def __init__(self, upn: str) -> None:
            super().__init__()
            self.upn = upn

    class Done(Message):
        """The app is gone (or was already)."""

        def __init__(self, said: str) -> None:
            super().__init__()
            self.said = said

    @work(thread=True, exclusive=True, group="cleanup", exit_on_error=False)
    def _delete(self, registrar: Registrar) -> None:
        """Worker thread: sign in, then delete the app (each step bounded by the code's life or the timeout).
        Closing the dialog cancels the worker: the wait for the admin ends, and what it would say goes nowhere."""
        worker = get_current_worker()
        try:
            self.post_message(self.Code(registrar.start_sign_in()))
            admin = registrar.wait_for_admin(lambda: worker.is_cancelled)
            self.post_message(self.Deleting(admin.upn))
            with registrar.bound():  # closing the dialog (or the console) ends it at once
                deleted = delete_application(registrar.session, self.registration.unique_name)
        finally:
            registrar.close()
        self.post_message(
            self.Done(
                f"Deleted the app {deleted.app_id} ('{deleted.display_name}'); Entra keeps it restorable for 30 days."
                if deleted
                else "The tenant holds no such app any more: nothing to delete."
            )
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The sign-in or Graph refused, the network failed: said here, with the way to do it later."""
        error = event.worker.error
        if event.state is not WorkerState.ERROR or not isinstance(error, Exception):
            return
        if isinstance(error, SignInError):
            self._failed(error.message)
        else:
            self._failed(f"The app was not deleted: {visible(str(error))}")

    def on_app_cleanup_modal_code(self, message: Code) -> None:
        self.code = message.code
        text = Text("Open ", style="dim")
        text.append_text(sign_in_address(message.code))
        text.append(" and enter the code  ", style="dim")
        text.append(" ".join(message.code.user_code), style="bold reverse")
        text.append("\nc copies the code; escape stops waiting.", style="dim")
        self._show(text)

    def on_app_cleanup_modal_deleting(self, message: Deleting) -> None:
        self.state = "deleting"
        self._show(Text(f"Signed in as {visible(message.upn)}; deleting the app…", style="dim"))

    def _failed(self, message: str) -> None:
        self.state = "failed"
        self.code = None
        self._show(Text("✘ ", style="red").append_text(literal(message)).append("\nd tries again.", style="dim"))

    def on_app_cleanup_modal_done(self, message: Done) -> None:
        self.code = None
        self._show(Text("✔ ", style="green").append_text(literal(message.said)))
        self.state = "done"

    def watch_state(self, state: str) -> None:
        self.query_one("#delete", Button).disabled = state not in ("asking", "failed")
        if state == "done":
            # What the dialog said before is no longer true: the app is gone, there is nothing to delete later.
            self.query_one("#cleanup-question", Static).update(self._question("is no longer in the tenant."))
            self.query_one("#cleanup-later").display = False
            self.query_one("#copy", Button).display = False
            later = self.query_one("#later", Button)
            later.label = "Close  esc"
            later.focus()

    @on(Button.Pressed, "#copy")
    def action_copy(self) -> None:
        if self.code is not None:
            self.workbench.copy(self.code.user_code, "Sign-in code")
        elif self.state == "done":
            self.notify("The app is deleted: there is nothing to copy.", markup=False)
        else:
            self.workbench.copy(self.command, "PowerShell command")

    @on(Button.Pressed, "#later")
    def action_later(self) -> None:
        self.dismiss(None)

    def on_unmount(self) -> None:
        """Gone (Later, or the console quitting): the sign-in (its worker is cancelled with the dialog) and what it
        has in flight end now, so that no thread of it holds up the console's exit."""
        if self._registrar is not None:
            self._registrar.close()


def removed_certificates_note(result: CommitResult) -> str:
    """What the commit took out of the personal store with the connections it deleted (registration's own)."""
    removed = result.removed_certificates
    if not removed:
        return ""
    names = ", ".join(c.thumbprint for c in removed)
    plural = "s" if len(removed) != 1 else ""
    return f" Removed the certificate{plural} {names} registration made for the app, with the private key{plural}."


async def offer_certificate_removal(workbench: Console, unused: Sequence[CertificateInfo]) -> None:
    """Certificates imported by hand that no connection uses after OK: Remove takes them and their keys out of the
    personal store, Keep (the default) leaves them for Choose certificate…. One a connection uses meanwhile (a
    pending one here, or one another session saved) stays."""
    if not unused:
        return
    plural = len(unused) != 1
    question = (
        f"No connection uses {'these certificates' if plural else 'this certificate'} any more. "
        f"{'They were' if plural else 'It was'} imported by hand, so nothing is removed unless you say so: Remove "
        f"deletes {'them' if plural else 'it'} and the private key{'s' if plural else ''} from the personal store; "
        f"Keep leaves {'them' if plural else 'it'} for Choose certificate…."
    )
    details = [(c.thumbprint, c.subject) for c in unused]
    title = f"Remove {len(unused)} unused certificate{'s' if plural else ''}?"
    if not await workbench.ask(ConfirmModal(title, question, details, yes="Remove", no="Keep")):
        return
    staged = {t for c in workbench.workspace.connections() if (t := certificate_of(c))}
    removed = 0
    for info in unused:
        if info.thumbprint in staged:
            continue  # a pending connection chose it meanwhile
        try:
            await asyncio.to_thread(workbench.workspace.home.certificates.remove, info.thumbprint)
        except (InUseError, NotFoundError):
            continue  # put to use, or removed, by another session meanwhile
        except StorageError as error:
            workbench.tell("The certificate was not removed", str(error))
            return
        removed += 1
    if not removed:
        workbench.notify("Nothing was removed: a connection uses the certificate again.", markup=False)
        return
    workbench.notify(
        f"Removed {removed} certificate{'s' if removed != 1 else ''} and the private key{'s' if removed != 1 else ''}.",
        markup=False,
    )
    workbench.changed()
