"""Staged changes to the connections: what the connection manager's OK commits and Cancel discards.

Nothing touches the disk until `commit()`. Secrets entered while editing are held in memory (as `Secret`s) and
reach the vault only when the commit happens; a cancelled manager leaves no trace. The commit is one locked
transaction with one atomic write, and it refuses to overwrite a connection someone else changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from workbench.model import Connection, Secret, connection_to_document, name_key

from .errors import ConflictError, NameTakenError, NotFoundError
from .store import Store
from .vault import Vault, new_ref


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
            if key in {"updated", "created", "id"}:
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


@dataclass(frozen=True, slots=True)
class CommitResult:
    added: int
    edited: int
    deleted: int


class Changeset:
    def __init__(self, store: Store, vault_opener: Callable[[], Vault]) -> None:
        """`vault_opener` is a zero-argument callable returning the vault; it is called only when a commit
        actually has secrets to write or delete, so listing and renaming never unlock the vault."""
        self._store = store
        self._open_vault = vault_opener
        self._base = {c.id: c for c in store.snapshot().connections}
        self._staged: dict[str, Connection | None] = {}  # id -> new state (None: deleted)
        self._secrets: dict[str, Secret] = {}

    # -------------------------------------------------------------- staging

    def stage_secret(self, value: Secret) -> str:
        """Hold a secret for the commit; returns the vault reference to put on the connection."""
        ref = new_ref()
        self._secrets[ref] = value
        return ref

    def connections(self) -> list[Connection]:
        """The connections as they will be after the commit, sorted by name."""
        current = dict(self._base)
        for connection_id, state in self._staged.items():
            if state is None:
                current.pop(connection_id, None)
            else:
                current[connection_id] = state
        return sorted(current.values(), key=lambda c: name_key(c.name))

    def get(self, name_or_id: str) -> Connection:
        key = name_key(name_or_id)
        for connection in self.connections():
            if connection.id == name_or_id or name_key(connection.name) == key:
                return connection
        raise NotFoundError(f"No connection named '{name_or_id}'")

    def _check_name(self, connection: Connection) -> None:
        key = name_key(connection.name)
        for other in self.connections():
            if other.id != connection.id and name_key(other.name) == key:
                raise NameTakenError(connection.name)

    def add(self, connection: Connection) -> None:
        if connection.id in self._base or self._staged.get(connection.id) is not None:
            raise ValueError(f"connection id {connection.id} already exists")
        self._check_name(connection)
        self._staged[connection.id] = connection

    def edit(self, connection: Connection) -> None:
        exists = self._staged[connection.id] if connection.id in self._staged else self._base.get(connection.id)
        if exists is None:
            raise NotFoundError(f"No connection with id {connection.id} to edit")
        self._check_name(connection)
        self._staged[connection.id] = connection

    def delete(self, connection_id: str) -> None:
        if connection_id not in self._base:
            if self._staged.pop(connection_id, None) is None:
                raise NotFoundError(f"No connection with id {connection_id} to delete")
            return
        self._staged[connection_id] = None

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
        self._staged.clear()
        self._secrets.clear()

    # -------------------------------------------------------------- commit

    def commit(self) -> CommitResult:
        changes = self.changes()
        if not changes:
            self.discard()
            return CommitResult(0, 0, 0)
        kept_refs = {ref for c in changes if c.after for ref in c.after.secret_refs}
        new_secrets = {ref: value for ref, value in self._secrets.items() if ref in kept_refs}
        dropped_refs = {ref for c in changes if c.before for ref in c.before.secret_refs} - kept_refs
        vault: Vault | None = self._open_vault() if new_secrets or dropped_refs else None
        if vault is not None:
            vault.put_many(new_secrets)  # first: a connection must never point at a secret that is not there
        try:
            with self._store.transaction() as txn:
                final = self._check_conflicts(changes, {c.id: c for c in txn.before.connections})
                for change in changes:
                    if change.after is None:
                        txn.remove_connection(change.connection.id)
                    else:
                        txn.put_connection(change.after)
        except BaseException:
            if vault is not None:
                vault.delete_many(new_secrets)
            raise
        if vault is not None:
            vault.delete_many(dropped_refs)
        result = CommitResult(
            added=sum(c.kind is ChangeKind.ADDED for c in changes),
            edited=sum(c.kind is ChangeKind.EDITED for c in changes),
            deleted=sum(c.kind is ChangeKind.DELETED for c in changes),
        )
        self._base = final
        self.discard()
        return result

    def _check_conflicts(self, changes: list[Change], fresh: dict[str, Connection]) -> dict[str, Connection]:
        """Refuse changes to what someone else changed meanwhile; returns the state after the commit."""
        for change in changes:
            current = fresh.get(change.connection.id)
            if change.before is not None and current != change.before:
                what = "deleted" if current is None else "changed"
                raise ConflictError(
                    f"'{change.before.name}' was {what} by another workbench session after you opened it; "
                    "nothing was saved. Reopen the connection manager to see the current state."
                )
            if change.before is None and current is not None:
                raise ConflictError(f"A connection with id {current.id} already exists; nothing was saved")
        final = {c.id: c for c in fresh.values()}
        for change in changes:
            if change.after is None:
                final.pop(change.connection.id, None)
            else:
                final[change.after.id] = change.after
        seen: dict[str, str] = {}
        for connection in final.values():
            key = name_key(connection.name)
            if key in seen and seen[key] != connection.id:
                raise NameTakenError(connection.name)
            seen[key] = connection.id
        return final
