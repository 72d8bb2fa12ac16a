"""The connection store: TinyDB documents in one private JSON file, changed only inside locked transactions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tinydb import Query, TinyDB

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
from .storefile import TransactionStorage, corrupt, load

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
    """Typed access to the store inside one locked transaction; `before` is the state it started from."""

    def __init__(self, db: TinyDB, storage: TransactionStorage) -> None:
        self._db = db
        self._storage = storage
        self.connections = db.table(schema.CONNECTIONS, cache_size=0)
        self.certificates = db.table(schema.CERTIFICATES, cache_size=0)
        # Decoding up front refuses a corrupt, hand-broken or too-new file before anything changes.
        self.before: Snapshot = decode(storage.path, storage.load())

    def put_connection(self, connection: Connection) -> None:
        self.connections.upsert(connection_to_document(connection), Query().id == connection.id)

    def remove_connection(self, connection_id: str) -> None:
        self.connections.remove(Query().id == connection_id)

    def put_certificate(self, info: CertificateInfo) -> None:
        self.certificates.upsert(certificate_to_document(info), Query().thumbprint == info.thumbprint)

    def remove_certificate(self, thumbprint: str) -> None:
        self.certificates.remove(Query().thumbprint == thumbprint)


def decode(path: Path, data: schema.RawData) -> Snapshot:
    connections: list[Connection] = []
    certificates: list[CertificateInfo] = []
    try:
        for doc_id, doc in data.get(schema.CONNECTIONS, {}).items():
            connections.append(connection_from_document(doc, f"connections/{doc_id}"))
        for doc_id, doc in data.get(schema.CERTIFICATES, {}).items():
            certificates.append(certificate_from_document(doc, f"certificates/{doc_id}"))
    except DocumentError as error:
        raise corrupt(path, read_private(path) or b"", str(error)) from None
    connections.sort(key=lambda c: name_key(c.name))
    certificates.sort(key=lambda c: (c.subject, c.not_after))
    return Snapshot(tuple(connections), tuple(certificates))


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        ensure_private_dir(path.parent)

    @classmethod
    def in_home(cls, home: Path) -> Store:
        return cls(home / STORE_FILE)

    def snapshot(self) -> Snapshot:
        """A consistent read without the lock: writers replace the file atomically."""
        data, _ = load(self.path)
        return decode(self.path, data)

    def record_verifications(self, summaries: Mapping[str, VerificationSummary]) -> int:
        """Store the results of verifying saved connections (connection id -> summary), in one write. Only that
        field changes, on each connection as it is now on disk, whatever another session saved meanwhile; a
        connection deleted meanwhile is skipped, and an older result never replaces a newer one. Returns how many
        were recorded."""
        recorded = 0
        with self.transaction() as txn:
            for current in txn.before.connections:
                summary = summaries.get(current.id)
                if summary is None:
                    continue
                recorded += 1
                if current.last_verification is None or current.last_verification.at <= summary.at:
                    txn.put_connection(replace(current, last_verification=summary))
        return recorded

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Exclusive read-modify-write. Changes are written once, atomically, when the block ends normally."""
        with exclusive_lock(self.path):
            remove_orphans(self.path)
            storage = TransactionStorage(self.path)
            db = TinyDB(storage=lambda: storage)  # a fresh TinyDB: no stale caches or ids from earlier work
            yield Transaction(db, storage)
            storage.flush()
