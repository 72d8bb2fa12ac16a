"""Staged changes to the connections: what the connection manager's OK commits and Cancel discards.

Nothing touches the disk until `commit()`. Secrets entered while editing, and certificates imported for a
connection, are held in memory (keys as `Secret`s) and reach the vault and the store only when the commit
happens, and only if a connection being saved uses them; a cancelled manager or wizard leaves no trace. While
staged, they can be used to verify the connection before it is saved (`staged_secret`, `staged_certificate`).
The commit is one locked transaction with one atomic write, and it refuses to overwrite a connection someone
else re-configured meanwhile. While a commit runs (it may wait seconds for another process's lock), the changeset
is frozen: every change is refused with `CommitInProgressError`, so what is saved is exactly what was pending when
the commit began, and nothing staged meanwhile is cleared unsaved. A verification recorded meanwhile is not a
configuration change: it never makes a commit fail, and the newer summary is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from workbench.model import (
    CertificateCredential,
    CertificateInfo,
    Connection,
    M365Settings,
    Secret,
    VerificationSummary,
    connection_to_document,
    name_key,
)

from .certstore import key_ref
from .errors import CommitInProgressError, ConflictError, NameTakenError, NotFoundError
from .store import Store
from .vault import Vault, new_ref

RECORD_FIELDS = ("last_verification",)  # results of a verification, not configuration


class ChangeKind(StrEnum):
    ADDED = "added"
    EDITED = "edited"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str  # dotted, e.g. "settings.tenant_id"
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    before: Connection | None
    after: Connection | None

    @property
    def connection(self) -> Connection:
        current = self.after or self.before
        assert current is not None
        return current

    def fields(self) -> list[FieldChange]:
        """Field-level differences, for the "pending changes" view. Vault references show as changed, not as
        values (there is nothing secret in them, but nothing useful either)."""
        before = _flatten(connection_to_document(self.before)) if self.before else {}
        after = _flatten(connection_to_document(self.after)) if self.after else {}
        changes = []
        for key in sorted(before.keys() | after.keys()):
            if key in {"updated", "created", "id"} or key.split(".")[0] in RECORD_FIELDS:
                continue
            old, new = before.get(key), after.get(key)
            if old != new:
                if key.endswith("_ref"):
                    old, new = ("(set)" if old else None), ("(new value)" if new else None)
                changes.append(FieldChange(key, old, new))
        return changes


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def configuration(connection: Connection | None) -> Connection | None:
    """The connection without what verifying it records: what a conflict is judged on."""
    return replace(connection, last_verification=None) if connection is not None else None


def _newest(a: VerificationSummary | None, b: VerificationSummary | None) -> VerificationSummary | None:
    if a is None or b is None:
        return a or b
    return a if a.at >= b.at else b


def certificate_of(connection: Connection) -> str | None:
    settings = connection.settings
    if isinstance(settings, M365Settings) and isinstance(settings.credential, CertificateCredential):
        return settings.credential.thumbprint
    return None


@dataclass(frozen=True, slots=True)
class CommitResult:
    added: int
    edited: int
    deleted: int
    certificates: int = 0


class Changeset:
    def __init__(self, store: Store, vault_opener: Callable[[], Vault]) -> None:
        """`vault_opener` is a zero-argument callable returning the vault; it is called only when a commit
        actually has secrets to write or delete, so listing and renaming never unlock the vault."""
        self._store = store
        self._open_vault = vault_opener
        snapshot = store.snapshot()
        self._base = {c.id: c for c in snapshot.connections}
        self._base_certificates = {c.thumbprint for c in snapshot.certificates}
        # Held by every change and for a whole commit; readers never take it (a commit swaps in new dicts
        # rather than emptying the ones a reader may be iterating).
        self._guard = threading.Lock()
        self._committing = False
        self._empty()

    def _empty(self) -> None:
        self._staged: dict[str, Connection | None] = {}  # id -> new state (None: deleted)
        self._secrets: dict[str, Secret] = {}
        self._certificates: dict[str, tuple[CertificateInfo, Secret]] = {}
        self._names: dict[str, str] | None = None
        self._before_delete: dict[str, Connection] = {}  # what `undelete` brings back

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """One change at a time, and none while a commit is in flight (refused, never waited for: the console
        makes changes on its UI thread)."""
        if not self._guard.acquire(blocking=False):
            raise CommitInProgressError()
        try:
            yield
        finally:
            self._guard.release()

    @property
    def committing(self) -> bool:
        """A commit is in flight (waiting for the store's lock, or writing)."""
        return self._committing

    # -------------------------------------------------------------- staging

    def stage_secret(self, value: Secret) -> str:
        """Hold a secret for the commit; returns the vault reference to put on the connection."""
        ref = new_ref()
        with self._changing():
            self._secrets[ref] = value
        return ref

    def staged_secret(self, ref: str) -> Secret | None:
        """A secret entered in this changeset and not saved yet (for verifying before OK)."""
        return self._secrets.get(ref)

    def stage_certificate(self, info: CertificateInfo, key_pem: Secret) -> CertificateInfo:
        """Hold an imported or generated certificate until a connection that uses it is committed."""
        with self._changing():
            self._certificates.setdefault(info.thumbprint, (info, key_pem))
            return self._certificates[info.thumbprint][0]

    def staged_certificate(self, thumbprint: str) -> tuple[CertificateInfo, Secret] | None:
        return self._certificates.get(thumbprint.upper())

    def staged_certificates(self) -> list[CertificateInfo]:
        return [info for info, _ in self._certificates.values()]

    def _current(self) -> dict[str, Connection]:
        current = dict(self._base)
        for connection_id, state in self._staged.items():
            if state is None:
                current.pop(connection_id, None)
            else:
                current[connection_id] = state
        return current

    def connections(self) -> list[Connection]:
        """The connections as they will be after the commit, sorted by name."""
        return sorted(self._current().values(), key=lambda c: name_key(c.name))

    def _name_index(self) -> dict[str, str]:
        """name key -> id after the commit; kept up to date by add/edit/delete, so that importing thousands of
        connections checks each name once, not against every other one."""
        if self._names is None:
            self._names = {name_key(c.name): c.id for c in self._current().values()}
        return self._names

    def get(self, name_or_id: str) -> Connection:
        current = self._current()
        if name_or_id in current:
            return current[name_or_id]
        found = self._name_index().get(name_key(name_or_id))
        if found is None:
            raise NotFoundError(f"No connection named '{name_or_id}'")
        return current[found]

    def _state(self, connection_id: str) -> Connection | None:
        return self._staged[connection_id] if connection_id in self._staged else self._base.get(connection_id)

    def _check_name(self, connection: Connection) -> None:
        owner = self._name_index().get(name_key(connection.name))
        if owner is not None and owner != connection.id:
            raise NameTakenError(connection.name)

    def _rename(self, before: Connection | None, after: Connection | None) -> None:
        names = self._name_index()
        if before is not None and names.get(name_key(before.name)) == before.id:
            del names[name_key(before.name)]
        if after is not None:
            names[name_key(after.name)] = after.id

    def add(self, connection: Connection) -> None:
        with self._changing():
            if connection.id in self._base or self._staged.get(connection.id) is not None:
                raise ValueError(f"connection id {connection.id} already exists")
            self._check_name(connection)
            self._staged[connection.id] = connection
            self._rename(None, connection)

    def edit(self, connection: Connection) -> None:
        with self._changing():
            exists = self._state(connection.id)
            if exists is None:
                raise NotFoundError(f"No connection with id {connection.id} to edit")
            self._check_name(connection)
            self._staged[connection.id] = connection
            self._rename(exists, connection)

    def delete(self, connection_id: str) -> None:
        with self._changing():
            exists = self._state(connection_id)
            if exists is not None:
                self._before_delete[connection_id] = exists
            if connection_id not in self._base:
                if self._staged.pop(connection_id, None) is None:
                    raise NotFoundError(f"No connection with id {connection_id} to delete")
            else:
                self._staged[connection_id] = None
            self._rename(exists, None)

    def undelete(self, connection_id: str) -> None:
        """Take back a deletion: the connection is as it was just before `delete`, pending edit included."""
        with self._changing():
            restored = self._before_delete.pop(connection_id, None)
            if restored is None or self._state(connection_id) is not None:
                raise NotFoundError(f"No deleted connection with id {connection_id} to bring back")
            try:
                self._check_name(restored)
            except NameTakenError:
                self._before_delete[connection_id] = restored
                raise
            if self._base.get(connection_id) == restored:
                del self._staged[connection_id]
            else:
                self._staged[connection_id] = restored
            self._rename(None, restored)

    def revert(self, connection_id: str) -> None:
        """Drop what is pending for one connection: it is as stored again (an added one is gone)."""
        with self._changing():
            if connection_id not in self._staged:
                return
            before = self._state(connection_id)
            base = self._base.get(connection_id)
            if base is not None:
                owner = self._name_index().get(name_key(base.name))
                if owner is not None and owner != connection_id:
                    raise NameTakenError(base.name)
            del self._staged[connection_id]
            self._before_delete.pop(connection_id, None)
            self._rename(before, base)

    def outside_changes(self) -> list[Change]:
        """What another process saved since this changeset was opened: each connection whose stored
        configuration differs from the one this changeset started from (verification results aside)."""
        current = {c.id: c for c in self._store.snapshot().connections}
        found = []
        for connection_id in sorted(self._base.keys() | current.keys()):
            before, after = self._base.get(connection_id), current.get(connection_id)
            if configuration(before) == configuration(after):
                continue
            kind = ChangeKind.ADDED if before is None else ChangeKind.DELETED if after is None else ChangeKind.EDITED
            found.append(Change(kind, before, after))
        return found

    def pending(self, connection_id: str) -> ChangeKind | None:
        if connection_id not in self._staged:
            return None
        if self._staged[connection_id] is None:
            return ChangeKind.DELETED
        return ChangeKind.EDITED if connection_id in self._base else ChangeKind.ADDED

    def changes(self) -> list[Change]:
        result = []
        for connection_id, state in self._staged.items():
            before = self._base.get(connection_id)
            if state is None and before is not None:
                result.append(Change(ChangeKind.DELETED, before, None))
            elif state is not None and before is None:
                result.append(Change(ChangeKind.ADDED, None, state))
            elif state is not None and before is not None and state != before:
                result.append(Change(ChangeKind.EDITED, before, state))
        return sorted(result, key=lambda change: name_key(change.connection.name))

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes())

    @property
    def dirty(self) -> bool:
        return bool(self.changes())

    def discard(self) -> None:
        with self._changing():
            self._empty()

    # -------------------------------------------------------------- commit

    def commit(self) -> CommitResult:
        with self._changing():
            self._committing = True
            try:
                return self._commit()
            finally:
                self._committing = False

    def _commit(self) -> CommitResult:
        changes = self.changes()
        if not changes:
            self._empty()
            return CommitResult(0, 0, 0)
        kept_refs = {ref for c in changes if c.after for ref in c.after.secret_refs}
        new_secrets = {ref: value for ref, value in self._secrets.items() if ref in kept_refs}
        used = {t for c in changes if c.after and (t := certificate_of(c.after))}
        new_certificates = [
            self._certificates[t] for t in sorted(used) if t in self._certificates and t not in self._base_certificates
        ]
        new_secrets |= {key_ref(info.thumbprint): key for info, key in new_certificates}
        dropped_refs = {ref for c in changes if c.before for ref in c.before.secret_refs} - kept_refs
        vault: Vault | None = self._open_vault() if new_secrets or dropped_refs else None
        if vault is not None:
            vault.put_many(new_secrets)  # first: a connection must never point at a secret that is not there
        try:
            with self._store.transaction() as txn:
                fresh = {c.connection.id: txn.connection(c.connection.id) for c in changes}
                self._check_conflicts(changes, fresh, txn.names())
                written: list[Connection] = []
                for change in changes:
                    if change.after is not None:
                        current = fresh[change.after.id]
                        newest = _newest(current.last_verification if current else None, change.after.last_verification)
                        written.append(replace(change.after, last_verification=newest))
                txn.remove_connections(c.connection.id for c in changes if c.after is None)
                txn.put_connections(written)
                for info, _ in new_certificates:
                    txn.put_certificate(info)
        except BaseException:
            if vault is not None:
                vault.delete_many(new_secrets)
            raise
        if vault is not None:
            vault.delete_many(dropped_refs)
            self._prune(vault)
        result = CommitResult(
            added=sum(c.kind is ChangeKind.ADDED for c in changes),
            edited=sum(c.kind is ChangeKind.EDITED for c in changes),
            deleted=sum(c.kind is ChangeKind.DELETED for c in changes),
            certificates=len(new_certificates),
        )
        self._base_certificates = self._base_certificates | {info.thumbprint for info, _ in new_certificates}
        removed = {change.connection.id for change in changes if change.after is None}
        kept = {i: c for i, c in self._base.items() if i not in removed}
        self._base = kept | {c.id: c for c in written}
        self._empty()
        return result

    def _prune(self, vault: Vault) -> None:
        """Secrets no connection uses any more (a killed process's leftovers) go with the next commit that
        writes the vault anyway. Keyring vaults keep no write times, so only file vaults are pruned."""
        prune = getattr(vault, "prune", None)
        if prune is None:
            return
        live = {ref for c in self._store.snapshot().connections for ref in c.secret_refs}
        prune(live)

    def _check_conflicts(
        self, changes: list[Change], fresh: Mapping[str, Connection | None], names: Mapping[str, str]
    ) -> None:
        """Refuse changes to what someone else re-configured meanwhile, and names that would clash."""
        for change in changes:
            current = fresh.get(change.connection.id)
            if change.before is not None and configuration(current) != configuration(change.before):
                what = "deleted" if current is None else "changed"
                raise ConflictError(
                    f"'{change.before.name}' was {what} by another workbench session after you opened it; "
                    "nothing was saved. Reopen the connection manager to see the current state."
                )
            if change.before is None and current is not None:
                raise ConflictError(f"A connection with id {current.id} already exists; nothing was saved")
        final = dict(names)
        for change in changes:  # names leaving first, so that two connections may swap names in one commit
            if change.before is not None:
                final.pop(name_key(change.before.name), None)
            current = fresh.get(change.connection.id)
            if current is not None:
                final.pop(name_key(current.name), None)
        for change in changes:
            if change.after is None:
                continue
            key = name_key(change.after.name)
            if key in final and final[key] != change.after.id:
                raise NameTakenError(change.after.name)
            final[key] = change.after.id
