"""The connection store: TinyDB documents in one private JSON file, changed only inside locked transactions.

A store of an MSP's thousands of connections stays fast: the last state read or written is kept (its bytes, its
parsed data, each document's encoding, its decoded snapshot) and reused while the file still holds exactly those
bytes — a comparison, not a parse. A transaction decodes only what it touches, and writes by re-encoding only the
documents it changed. Crash-safety is unchanged: one lock, one fresh look at the file, one atomic replace.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path

from tinydb import TinyDB
from tinydb.table import Table

from workbench.model import (
    CertificateInfo,
    Connection,
    DocumentError,
    VerificationSummary,
    certificate_from_document,
    certificate_to_document,
    connection_from_document,
    connection_to_document,
    name_key,
)

from . import schema
from .errors import NotFoundError
from .files import ensure_private_dir, exclusive_lock, read_private, remove_orphans
from .storefile import Loaded, TransactionStorage, corrupt, parse

STORE_FILE = "workbench.json"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything in the store at one instant, decoded."""

    connections: tuple[Connection, ...]
    certificates: tuple[CertificateInfo, ...]

    def connection(self, name_or_id: str) -> Connection:
        key = name_key(name_or_id)
        for connection in self.connections:
            if connection.id == name_or_id or name_key(connection.name) == key:
                return connection
        raise NotFoundError(f"No connection named '{name_or_id}'")

    def certificate(self, thumbprint: str) -> CertificateInfo:
        for info in self.certificates:
            if info.thumbprint == thumbprint.upper():
                return info
        raise NotFoundError(f"No certificate with thumbprint {thumbprint} in the personal certificate store")


class Transaction:
    """Typed access to the store inside one locked transaction. `before` (the whole store decoded) is computed
    only when asked for; `connection()` and `names()` look at just what a commit needs."""

    def __init__(self, store: Store, db: TinyDB, storage: TransactionStorage) -> None:
        self._store = store
        self._storage = storage
        self.connections = db.table(schema.CONNECTIONS, cache_size=0)
        self.certificates = db.table(schema.CERTIFICATES, cache_size=0)

    @property
    def before(self) -> Snapshot:
        return self._store._decoded(self._storage.loaded)

    def _raw(self, table: str) -> dict[str, dict[str, object]]:
        return self._storage.loaded.data.get(table, {})

    def connection(self, connection_id: str) -> Connection | None:
        """One connection as the transaction found it."""
        decoded = self._storage.loaded.decoded
        for doc in self._raw(schema.CONNECTIONS).values():
            if doc.get("id") == connection_id:
                found: Connection = decoded[id(doc)]
                return found
        return None

    def names(self) -> dict[str, str]:
        """name key -> connection id, for every connection as the transaction found it (do not change it)."""
        return names_of(self._storage.loaded)

    def _current(self, table: Table) -> dict[str, dict[str, object]]:
        """The table as this transaction has changed it so far."""
        return self._storage.read().get(table.name, {})  # type: ignore[union-attr]

    def _put(self, table: Table, key: str, documents: list[dict[str, object]]) -> None:
        """Insert, or replace by `key`: one TinyDB update for the replacements, one insert for the new ones."""
        current = self._current(table)
        index = {doc.get(key): doc_id for doc_id, doc in current.items()}
        replacing = {str(doc[key]): doc for doc in documents if doc[key] in index}
        if replacing:
            # TinyDB updates documents in place, and the originals belong to the state this transaction started
            # from (kept for the next one): give it copies of just the documents it replaces.
            targets = {index[k] for k in replacing}
            data = self._storage.read()
            assert data is not None
            data[table.name] = {i: (dict(doc) if i in targets else doc) for i, doc in current.items()}

            def swap(doc: MutableMapping[str, object]) -> None:
                fresh = replacing[str(doc[key])]
                doc.clear()
                doc.update(fresh)

            table.update(swap, doc_ids=[int(i) for i in targets])
        new = [doc for doc in documents if doc[key] not in index]
        if new:
            table.insert_multiple(new)

    def put_connections(self, connections: Iterable[Connection]) -> None:
        documents = [connection_to_document(c) for c in connections]
        if documents:
            self._put(self.connections, "id", documents)

    def put_connection(self, connection: Connection) -> None:
        self.put_connections([connection])

    def remove_connections(self, connection_ids: Iterable[str]) -> None:
        wanted = set(connection_ids)
        doc_ids = [int(i) for i, doc in self._current(self.connections).items() if doc.get("id") in wanted]
        if doc_ids:
            self.connections.remove(doc_ids=doc_ids)

    def remove_connection(self, connection_id: str) -> None:
        self.remove_connections([connection_id])

    def put_certificate(self, info: CertificateInfo) -> None:
        self._put(self.certificates, "thumbprint", [certificate_to_document(info)])

    def remove_certificate(self, thumbprint: str) -> None:
        doc_ids = [int(i) for i, doc in self._current(self.certificates).items() if doc.get("thumbprint") == thumbprint]
        if doc_ids:
            self.certificates.remove(doc_ids=doc_ids)


_DECODERS = {
    schema.CONNECTIONS: connection_from_document,
    schema.CERTIFICATES: certificate_from_document,
}


def complete(path: Path, loaded: Loaded) -> None:
    """Decode every document of `loaded` not decoded yet; a damaged one stops everything (CorruptStoreError,
    naming the document and field). Documents already decoded — all of them, for a state this process read or
    wrote before — cost a lookup."""
    decoded = loaded.decoded
    try:
        for table, decoder in _DECODERS.items():
            for doc_id, doc in loaded.data.get(table, {}).items():
                if id(doc) not in decoded:
                    decoded[id(doc)] = decoder(doc, f"{table}/{doc_id}")
    except DocumentError as error:
        raise corrupt(path, read_private(path) or b"", str(error)) from None


def names_of(loaded: Loaded) -> dict[str, str]:
    if loaded.names is None:
        decoded = loaded.decoded
        connections = (decoded[id(doc)] for doc in loaded.data.get(schema.CONNECTIONS, {}).values())
        loaded.names = {name_key(c.name): c.id for c in connections}
    return loaded.names


def decode(path: Path, loaded: Loaded) -> Snapshot:
    complete(path, loaded)
    decoded = loaded.decoded
    connections = [decoded[id(doc)] for doc in loaded.data.get(schema.CONNECTIONS, {}).values()]
    certificates = [decoded[id(doc)] for doc in loaded.data.get(schema.CERTIFICATES, {}).values()]
    connections.sort(key=lambda c: name_key(c.name))
    certificates.sort(key=lambda c: (c.subject, c.not_after))
    return Snapshot(tuple(connections), tuple(certificates))


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        ensure_private_dir(path.parent)
        self._last: Loaded | None = None
        self._lock = threading.Lock()

    @classmethod
    def in_home(cls, home: Path) -> Store:
        return cls(home / STORE_FILE)

    def _read(self) -> Loaded:
        """The file's current state: the kept one when the bytes are the same, else parsed afresh."""
        content = read_private(self.path)
        with self._lock:
            last = self._last
        if (
            last is not None
            and content is not None
            and last.content == content
            and last.schema_version == schema.SCHEMA_VERSION
        ):
            return last
        loaded = parse(self.path, content)
        with self._lock:
            self._last = loaded
        return loaded

    def _decoded(self, loaded: Loaded) -> Snapshot:
        if loaded.snapshot is None:
            loaded.snapshot = decode(self.path, loaded)
        snapshot: Snapshot = loaded.snapshot
        return snapshot

    def snapshot(self) -> Snapshot:
        """A consistent read without the lock: writers replace the file atomically."""
        return self._decoded(self._read())

    def record_verifications(self, summaries: Mapping[str, VerificationSummary]) -> int:
        """Store the results of verifying saved connections (connection id -> summary), in one write. Only that
        field changes, on each connection as it is now on disk, whatever another session saved meanwhile; a
        connection deleted meanwhile is skipped, and an older result never replaces a newer one. Returns how many
        were recorded."""
        recorded = []
        with self.transaction() as txn:
            for connection_id, summary in summaries.items():
                current = txn.connection(connection_id)
                if current is None:
                    continue
                if current.last_verification is None or current.last_verification.at <= summary.at:
                    recorded.append(replace(current, last_verification=summary))
                else:
                    recorded.append(current)
            txn.put_connections(c for c in recorded if c.last_verification == summaries[c.id])
        return len(recorded)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Exclusive read-modify-write. Changes are written once, atomically, when the block ends normally."""
        with exclusive_lock(self.path):
            remove_orphans(self.path)
            loaded = self._read()
            complete(self.path, loaded)  # a hand-broken document is refused before anything changes
            storage = TransactionStorage(self.path, loaded)
            db = TinyDB(storage=lambda: storage)  # a fresh TinyDB: no stale caches or ids from earlier work
            yield Transaction(self, db, storage)
            storage.flush()
            written = storage.written
            if written is not None:
                # Carry over what is unchanged (same document objects), decode only what this transaction wrote.
                alive = {id(doc) for table in written.data.values() for doc in table.values()}
                written.decoded = {key: value for key, value in loaded.decoded.items() if key in alive}
                complete(self.path, written)
                if loaded.names is not None:  # the name index follows the same few changes
                    gone = [c for key, c in loaded.decoded.items() if key not in alive and isinstance(c, Connection)]
                    came = [c for key, c in written.decoded.items() if key not in loaded.decoded]
                    names = dict(loaded.names)
                    for c in gone:
                        if names.get(name_key(c.name)) == c.id:
                            del names[name_key(c.name)]
                    names.update((name_key(c.name), c.id) for c in came if isinstance(c, Connection))
                    written.names = names
                with self._lock:
                    self._last = written
