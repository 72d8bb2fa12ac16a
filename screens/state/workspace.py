"""What the console works on: one data directory, its pending changes, and the clock.

The connection manager's OK commits `changes`; Cancel discards them. Everything else reads through here: the
dashboard and the tables show the connections as they will be after OK, each with the newest verification result
(a result recorded by this console or by another process since the changes were opened).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from storage import (
    Change,
    ChangeKind,
    Changeset,
    CommitInProgressError,
    CommitResult,
    Home,
    NotFoundError,
    StorageError,
    backend_of,
)
from workbench.checks.events import Summary
from workbench.model import CertificateInfo, Connection, VerificationSummary, name_key


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Workspace:
    def __init__(
        self, home: Home, *, now: Callable[[], datetime] = _utc_now, lab: bool = False, tz: tzinfo | None = None
    ) -> None:
        self.home = home
        self.now = now
        self.tz = tz  # None: the machine's local time
        self.lab = lab  # the data directory is a demo's, verified against the embedded lab
        self.changes: Changeset = home.changeset()
        # Results that arrived while a commit held the changes, kept once it has ended.
        self._late: list[tuple[Connection, VerificationSummary]] = []

    # ------------------------------------------------------------------ reading

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    @property
    def vault_mode(self) -> str:
        """How secrets are kept, as the header says it, read without unlocking the vault."""
        backend = backend_of(self.home.path)
        if backend is None:
            return "no vault yet"
        return {"keyring": "OS keyring", "key-file": "key file", "passphrase": "passphrase"}[backend.value]

    def connections(self) -> list[Connection]:
        """As they will be after OK, each with the newest recorded verification."""
        try:
            stored = {c.id: c.last_verification for c in self.home.store.snapshot().connections}
        except StorageError:
            stored = {}
        result = []
        for connection in self.changes.connections():
            newest = _newest(connection.last_verification, stored.get(connection.id))
            result.append(
                connection if newest is connection.last_verification else replace(connection, last_verification=newest)
            )
        return result

    def connection(self, connection_id: str) -> Connection:
        found = self.find(connection_id)
        if found is None:
            raise NotFoundError(f"No connection with id {connection_id}")
        return found

    def gone_from_store(self, connection_id: str) -> bool:
        """A connection this workspace took from the store that the store no longer holds (removed by another
        session, and not seen here yet); False for one added here and not saved."""
        if self.changes.pending(connection_id) is ChangeKind.ADDED:
            return False
        try:
            return all(c.id != connection_id for c in self.home.store.snapshot().connections)
        except StorageError:
            return False

    def find(self, connection_id: str) -> Connection | None:
        """The connection as it will be after OK; None when it is gone or marked for deletion."""
        return next((c for c in self.connections() if c.id == connection_id), None)

    def stored_as(self, connection: Connection) -> bool:
        """Whether the store holds `connection` under its name now (so a CLI command naming it works before OK)."""
        try:
            stored = self.home.store.snapshot().connections
        except StorageError:
            return False
        key = name_key(connection.name)
        return any(c.id == connection.id and name_key(c.name) == key for c in stored)

    def pending(self, connection_id: str) -> ChangeKind | None:
        return self.changes.pending(connection_id)

    def deleted(self) -> list[Connection]:
        """Connections marked for deletion (still shown, struck through, until OK)."""
        return [c.connection for c in self.changes.changes() if c.kind is ChangeKind.DELETED]

    @property
    def dirty(self) -> bool:
        return self.changes.dirty

    @property
    def saving(self) -> bool:
        """OK's commit is in flight: the pending changes cannot be changed until it has ended."""
        return self.changes.committing

    def pending_changes(self) -> list[Change]:
        return self.changes.changes()

    def certificates(self) -> list[CertificateInfo]:
        try:
            stored = list(self.home.store.snapshot().certificates)
        except StorageError:
            stored = []
        return stored + [
            c for c in self.changes.staged_certificates() if c.thumbprint not in {s.thumbprint for s in stored}
        ]

    # ------------------------------------------------------------------ writing

    def reload(self) -> None:
        """Start over from what the store holds now; pending changes are dropped."""
        self.changes = self.home.changeset()

    def refresh(self) -> None:
        """Pick up what another process saved meanwhile, when nothing is pending here. The secrets and
        certificates held for a connection not staged yet (an open wizard's) are kept."""
        if not self.changes.dirty:
            held = self.changes
            self.reload()
            self.changes.keep_held(held)

    def commit(self) -> CommitResult:
        """OK: every pending change in one write (see `Changeset.commit`); a result that arrived meanwhile is
        kept afterwards, with the connection as saved or as still pending."""
        try:
            return self.changes.commit()
        finally:
            late, self._late = self._late, []
            for connection, record in late:
                # A connection that changed or went meanwhile: the result was about something no longer there.
                with suppress(StorageError):
                    self._keep(connection, record)

    def record(self, connection: Connection, summary: Summary) -> VerificationSummary:
        """Keep a verification result: on the stored connection when what was verified is what is stored, or
        with the pending edit when what was verified is what OK will save."""
        from workbench.verification import summary_record

        record = summary_record(summary, self.now())
        try:
            self._keep(connection, record)
        except CommitInProgressError:
            self._late.append((connection, record))
        return record

    def _keep(self, connection: Connection, record: VerificationSummary) -> None:
        pending = self.changes.pending(connection.id)
        if pending is None:
            self.home.store.record_verifications({connection.id: record})
        elif pending is not ChangeKind.DELETED:
            staged = self.changes.get(connection.id)
            if replace(staged, last_verification=None) == replace(connection, last_verification=None):
                # What was verified is what OK will save: the result goes with it.
                self.changes.edit(replace(staged, last_verification=record))


def _newest(a: VerificationSummary | None, b: VerificationSummary | None) -> VerificationSummary | None:
    if a is None or b is None:
        return a or b
    return a if a.at >= b.at else b
