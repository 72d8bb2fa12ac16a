"""Manage server connections: the table, pending changes marked, OK commits them all in one write, Cancel
discards them. Nothing reaches the disk before OK."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static

from storage import (
    LOCK_WAIT,
    BusyError,
    ChangeKind,
    CommitInProgressError,
    ConflictError,
    NameTakenError,
    StorageError,
)
from workbench.describe import field_label, location_of
from workbench.model import CertificateCredential, Connection, ConnectionKind, M365Settings

from ..chrome import WorkbenchScreen
from ..dialogs.common import ConfirmModal
from ..render.literal import literal, shown
from ..render.status import summary_mark
from ..widgets.inputs import LineInput
from ..widgets.tables import selected_key

MARKERS = {
    ChangeKind.ADDED: ("A", "bold green"),
    ChangeKind.EDITED: ("E", "bold yellow"),
    ChangeKind.DELETED: ("D", "bold red"),
}


COLUMNS = (
    (" ", "mark"),
    ("St", "status"),
    ("Name", "name"),
    ("Kind", "kind"),
    ("Location", "location"),
    ("Auth", "auth"),
    ("Last verified", "last"),
    ("Tenant or server", "target"),
)


def auth_of(connection: Connection) -> str:
    """The authentication in a few characters: "secret", "cert 7CCC…", "Kerberos", "Basic" or "NTLM"."""
    settings = connection.settings
    if isinstance(settings, M365Settings):
        if isinstance(settings.credential, CertificateCredential):
            return f"cert {settings.credential.thumbprint[:4]}…"
        return "secret" if settings.credential.secret_ref else "secret ✘"
    return settings.powershell_auth.label


def tenant_or_server(connection: Connection) -> str:
    settings = connection.settings
    if isinstance(settings, M365Settings):
        return settings.tenant_id
    return settings.server or f"autodiscover {settings.admin_upn.rpartition('@')[2]}"


class ManagerScreen(WorkbenchScreen):
    TRAIL = "Dashboard › Manage server connections"
    HELP_TEXT = (
        "Every connection of this data directory. n starts a new one and enter edits the selected one (the "
        "wizard). Changes are pending until OK (ctrl+s) saves them all in one "
        "write; Cancel (escape) discards them. delete marks the selected connection for deletion and delete again "
        "takes the mark away. Pending rows are marked A (added), E (edited) or D (deleted). v verifies the "
        "selected connection as it stands, pending changes included; u drops the selected connection's pending "
        "change."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "app.new_connection", "New", id="manager.new", tooltip="A new connection (the wizard)"),
        Binding("enter", "edit", "Edit", id="manager.edit", tooltip="Edit the selected connection (the wizard)"),
        Binding("delete", "toggle_delete", "Delete", id="manager.delete", tooltip="Mark for deletion (again: undo)"),
        Binding(
            "u",
            "revert",
            "Undo change",
            id="manager.revert",
            show=False,
            tooltip="Drop the selected connection's pending change",
        ),
        Binding("v", "verify", "Verify", id="manager.verify", tooltip="Verify the selected connection"),
        Binding("p", "app.pending", "Pending", id="manager.pending", tooltip="The pending changes, field by field"),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="manager.filter",
            show=False,
            tooltip="Filter the table by name, kind or server",
        ),
        # OK and Cancel are buttons that name their keys: the footer keeps its room for the others.
        Binding(
            "ctrl+s", "ok", "OK (save)", id="manager.ok", priority=True, show=False, tooltip="Save every pending change"
        ),
        Binding(
            "escape", "cancel", "Cancel", id="manager.cancel", show=False, tooltip="Discard pending changes and go back"
        ),
    ]

    def body(self) -> ComposeResult:
        yield LineInput(
            placeholder="filter: name, kind, server or tenant (escape clears)", id="filter", classes="hidden"
        )
        table: DataTable[Text] = DataTable(id="manager", cursor_type="row", zebra_stripes=True)
        yield table
        with Horizontal(id="manager-buttons", classes="button-row"):
            yield Static(id="manager-status")
            yield Button("OK  ctrl+s", id="ok", variant="primary")
            yield Button("Cancel  esc", id="cancel")

    def __init__(self, select: str | None = None) -> None:
        super().__init__()
        self._select = select  # the connection the cursor starts on (one the wizard just added or edited)
        self._saving = False  # OK's commit is under way (from the key press to its report)

    def select(self, connection_id: str) -> None:
        """Put the cursor on a connection (after the wizard's Finish)."""
        self._select = connection_id
        self.request_refresh()

    def on_mount(self) -> None:
        table = self.query_one("#manager", DataTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        self.redraw()
        table.focus()

    # ------------------------------------------------------------------ drawing

    def redraw(self) -> None:
        super().redraw()
        space = self.workbench.workspace
        space.refresh()
        needle = self.query_one("#filter", Input).value.strip().casefold()
        table = self.query_one("#manager", DataTable)
        selected = self._select or self._selected_id()
        self._select = None
        table.clear()
        now = space.now()
        shown_rows = 0
        rows = space.connections() + space.deleted()
        for connection in sorted(rows, key=lambda c: c.name.casefold()):
            cells = self._cells(connection, now)
            if needle and not any(needle in cell.plain.casefold() for cell in cells[2:]):
                continue
            table.add_row(*cells, key=connection.id)
            shown_rows += 1
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        pending = len(space.pending_changes())
        status = Text()
        status.append(f" {shown_rows} of {len(rows)} connection{'s' if len(rows) != 1 else ''}")
        if pending:
            status.append(f" · {pending} pending: p shows them", style="bold")
        else:
            status.append(" · no pending changes", style="dim")
        self.query_one("#manager-status", Static).update(status)

    def _cells(self, connection: Connection, now: object) -> list[Text]:
        space = self.workbench.workspace
        pending = space.pending(connection.id)
        marker, marker_style = MARKERS.get(pending, (" ", "")) if pending else (" ", "")
        style = "strike dim" if pending is ChangeKind.DELETED else ""
        glyph, when = summary_mark(connection.last_verification, space.now())
        kind = "M365" if connection.kind is ConnectionKind.M365 else "onprem"
        return [
            Text(marker, style=marker_style),
            glyph,
            literal(connection.name, 24, style),
            Text(kind, style=style),
            literal(location_of(connection), 14, style),
            Text(auth_of(connection), style=style),
            Text(when, style=style or "dim"),
            literal(tenant_or_server(connection), 38, style),
        ]

    def _selected_id(self) -> str | None:
        return selected_key(self.query_one("#manager", DataTable))

    # ------------------------------------------------------------------ keys

    def action_toggle_delete(self) -> None:
        selected = self._selected_id()
        if selected is None:
            return
        space = self.workbench.workspace
        if space.pending(selected) is ChangeKind.DELETED:
            self._undelete(selected)
        else:
            space.changes.delete(selected)
        self.workbench.changed()

    def _undelete(self, connection_id: str) -> None:
        """Take the deletion mark away: the connection is back as it was before `delete` (with any pending edit)."""
        try:
            self.workbench.workspace.changes.undelete(connection_id)
        except NameTakenError as error:
            self.workbench.tell("Cannot undo the deletion", str(error))

    def action_revert(self) -> None:
        selected = self._selected_id()
        if selected is None or self.workbench.workspace.pending(selected) is None:
            self.notify("Nothing is pending for this connection.", markup=False)
            return
        try:
            self.workbench.workspace.changes.revert(selected)
        except NameTakenError as error:
            self.workbench.tell("Cannot undo this change", str(error))
            return
        self.workbench.changed()

    def action_verify(self) -> None:
        from .verification import VerificationScreen

        connection = self._selected_connection()
        if connection is not None:
            self.app.push_screen(VerificationScreen.start(self.workbench, connection, via=self.TRAIL))

    @on(DataTable.RowSelected, "#manager")
    def action_edit(self) -> None:
        connection = self._selected_connection()
        if connection is not None:
            self.workbench.edit_connection(connection)

    def _selected_connection(self) -> Connection | None:
        """The selected connection as it will be after OK; None (and why) when it is marked for deletion."""
        selected = self._selected_id()
        if selected is None:
            return None
        space = self.workbench.workspace
        if space.pending(selected) is ChangeKind.DELETED:
            self.notify("This connection is marked for deletion; press delete to undo first.", severity="warning")
            return None
        return space.connection(selected)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filtered(self) -> None:
        self.request_refresh()  # once per frame, however fast the keys (or a paste) change the filter

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#manager", DataTable).focus()

    # A dialog's answer is delivered through this screen's message queue, so whatever waits for one runs in a
    # worker, never in the key's own handler (which would hold the queue while it waits).

    @on(Button.Pressed, "#ok")
    def action_ok(self) -> None:
        if self._saving:  # set before the worker starts: two presses in one frame are one save
            self.notify(str(CommitInProgressError()), markup=False)
            return
        self._saving = True
        self._commit()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self._saving:
            self.notify(str(CommitInProgressError()), markup=False)
            return
        self._cancel()

    @work(group="commit", exit_on_error=False)
    async def _commit(self) -> None:
        """Commit every pending change in one write; a refusal is explained and loses nothing. While it waits
        for the store, a dialog in front says so and takes the keys: the changes stay as shown."""
        try:
            await self._save()
        finally:
            self._saving = False

    async def _save(self) -> None:
        import asyncio

        space = self.workbench.workspace
        if not space.dirty:
            self.dismiss()
            return
        orphaned = self._orphaned_apps()
        saving = SavingModal(len(space.pending_changes()))
        self.app.push_screen(saving)
        try:
            result = await asyncio.to_thread(space.commit)
        except StorageError as error:
            saving.close()
            await self._refused(error)
            return
        except BaseException:
            saving.close()
            raise
        saving.close()
        parts = [
            f"{n} {what}"
            for n, what in ((result.added, "added"), (result.edited, "edited"), (result.deleted, "deleted"))
            if n
        ]
        from ..dialogs.app_cleanup import AppCleanupModal, offer_certificate_removal, removed_certificates_note

        self.notify("Saved: " + ", ".join(parts) + "." + removed_certificates_note(result), markup=False)
        self.workbench.changed()
        for connection in orphaned:  # deleted, and no remaining connection uses their app: offer to delete it
            await self.workbench.ask(AppCleanupModal(connection, self.workbench.timeout))
        await offer_certificate_removal(self.workbench, result.unused_certificates)
        self.dismiss()

    async def _refused(self, error: StorageError) -> None:
        """Why nothing was saved, and what to do; the pending changes stay."""
        if isinstance(error, CommitInProgressError):
            return  # the commit already in flight reports its own result
        if isinstance(error, ConflictError):
            await self._conflict(str(error))
        elif isinstance(error, NameTakenError):
            self.workbench.tell("Nothing was saved", f"{error} Rename one of them, then press OK again.")
        elif isinstance(error, BusyError):
            self.workbench.tell("Nothing was saved", error.retry_with("Press OK again in a moment"))
        else:
            self.workbench.tell("Nothing was saved", str(error))

    def _orphaned_apps(self) -> list[Connection]:
        """Automatically registered connections being deleted whose app no remaining connection uses (one per app)."""
        from workbench.registration import unique_name_for
        from workbench.registration.flow import uses_app

        space = self.workbench.workspace
        registered = [
            c for c in space.deleted() if isinstance(c.settings, M365Settings) and c.settings.app_registration
        ]
        if not registered:
            return []
        try:
            ours = unique_name_for(space.home.installation_id())
        except StorageError:
            return []  # without the installation id nobody can tell whose app it is: nothing is offered
        remaining = space.connections()
        found: dict[tuple[str, str], Connection] = {}
        for connection in registered:
            s = connection.settings
            if not isinstance(s, M365Settings) or s.app_registration is None:
                continue
            name, tenant = s.app_registration.unique_name, s.tenant_id.lower()
            # Only this installation's own app, and only when no remaining connection to that tenant uses it.
            if name == ours and not any(uses_app(c, name, tenant) for c in remaining):
                found.setdefault((name, tenant), connection)
        return list(found.values())

    async def _conflict(self, message: str) -> None:
        space = self.workbench.workspace
        mine = {change.connection.id for change in space.pending_changes()}
        details = []
        for change in space.changes.outside_changes():
            if change.connection.id not in mine:
                continue  # saved elsewhere, but not in the way of these changes
            edited = change.kind is ChangeKind.EDITED
            fields = ", ".join(field_label(f.path) for f in change.fields()[:6]) if edited else ""
            what = {ChangeKind.ADDED: "added", ChangeKind.EDITED: "changed", ChangeKind.DELETED: "deleted"}[change.kind]
            details.append((shown(change.connection.name, 40), f"{what} elsewhere" + (f": {fields}" if fields else "")))
        question = (
            f"{message}\n\nKeep: your pending changes stay; select the connection named below and press u to drop "
            "just your change to it, then OK again. Reload: show the store as it is now and drop all "
            f"{len(space.pending_changes())} pending change(s)."
        )
        reload = await self.workbench.ask(
            ConfirmModal("Another session changed the store", question, details, yes="Reload", no="Keep my changes")
        )
        if reload:
            space.reload()
            self.workbench.changed()

    @work(exclusive=True, group="commit", exit_on_error=False)
    async def _cancel(self) -> None:
        box = self.query_one("#filter", Input)
        if self.focused is box or box.value:
            box.value = ""
            box.add_class("hidden")
            self.query_one("#manager", DataTable).focus()
            return
        space = self.workbench.workspace
        pending = len(space.pending_changes())
        if pending:
            answer = await self.workbench.ask(
                ConfirmModal(
                    "Cancel",
                    f"Discard {pending} pending change{'s' if pending != 1 else ''}? "
                    + ("None of them has been saved." if pending != 1 else "It has not been saved."),
                    yes="Discard",
                    no="Keep editing",
                )
            )
            if not answer:
                return
            space.changes.discard()
        self.workbench.changed()
        self.dismiss()


class SavingModal(ModalScreen[None]):
    """In front while OK's commit runs (usually for an instant; up to the store lock's wait when another
    workbench is saving): the pending changes cannot be changed meanwhile, and every key says so."""

    def __init__(self, count: int) -> None:
        super().__init__(classes="dialog-screen")
        self._count = count
        self._told = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Saving", classes="dialog-title")
            yield Static(
                f"Saving {self._count} pending change{'s' if self._count != 1 else ''}. If another workbench is "
                f"saving to the same store, this waits for it, at most {LOCK_WAIT:g} s.",
                classes="dialog-question",
                markup=False,
            )

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if self._told:  # once is enough: more toasts would only cover the dialog
            self.app.bell()
            return
        self._told = True
        self.notify(str(CommitInProgressError()), markup=False)

    def close(self) -> None:
        """Gone once the commit has ended, with anything opened over it meanwhile (help)."""
        if self in self.app.screen_stack:
            self.pop_until_active()
            self.dismiss(None)
