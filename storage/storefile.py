"""Reading and writing the store file, and the TinyDB `Storage` that sits on top.

TinyDB's stock JSONStorage rewrites the file in place and never locks, so a crash can leave a file that no longer
parses and two processes can lose each other's writes. `TransactionStorage` is used for exactly one transaction:
the file is read fresh once (under the caller's lock), every TinyDB write lands in memory, and `flush()` writes
the result with one atomic replace. Nothing reaches the disk if the transaction fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from . import schema
from .errors import CorruptStoreError, SchemaTooNewError
from .files import atomic_write
from .schema import RawData


def _backup_corrupt(path: Path, content: bytes) -> Path:
    """Copy a damaged file aside once per distinct content; the original stays where it is."""
    digest = hashlib.sha256(content).hexdigest()[:12]
    existing = next(iter(path.parent.glob(f"{path.name}.corrupt-*-{digest}")), None)
    if existing is not None:
        return existing
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    backup = path.with_name(f"{path.name}.corrupt-{stamp}-{digest}")
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return backup


def corrupt(path: Path, content: bytes, detail: str) -> CorruptStoreError:
    return CorruptStoreError(path, detail, _backup_corrupt(path, content))


@dataclass(eq=False)
class Loaded:
    """One state of the store file: its bytes, their parsed data (never changed in place: a transaction works on
    copies of what it changes) and each document's encoding, reused while the document object is the same."""

    content: bytes | None
    data: RawData
    upgraded: bool = False
    fragments: dict[int, bytes] = field(default_factory=dict)
    decoded: dict[int, Any] = field(default_factory=dict)  # id(document) -> Connection / CertificateInfo
    names: dict[str, str] | None = None  # name key -> connection id
    snapshot: Any = None  # the decoded Snapshot, once someone needed it
    schema_version: int = field(default_factory=lambda: schema.SCHEMA_VERSION)


def parse(path: Path, content: bytes | None) -> Loaded:
    """The file's data upgraded to the current schema (and whether an upgrade happened)."""
    if content is None:
        return Loaded(None, schema.new_data())
    if not content.strip():
        raise corrupt(path, content, "the file is empty (a new store is never an empty file)")
    try:
        data = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise corrupt(path, content, f"it is not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise corrupt(path, content, f"{error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise corrupt(path, content, "it is nested too deeply to be a workbench store") from None
    problem = schema.shape_problem(data)
    if problem:
        raise corrupt(path, content, problem)
    version = schema.version_of(data)
    if version is None:
        raise corrupt(path, content, "it has no schema version in its _meta table")
    if version > schema.SCHEMA_VERSION:
        raise SchemaTooNewError(path, version, schema.SCHEMA_VERSION)
    upgraded = version < schema.SCHEMA_VERSION
    while version < schema.SCHEMA_VERSION:
        migrate = schema.MIGRATIONS.get(version)
        if migrate is None:
            raise corrupt(path, content, f"no migration from schema {version}")
        data = migrate(data)
        version += 1
        schema.set_version(data, version)
    return Loaded(content, data, upgraded)


def _encode(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def dump(data: RawData, fragments: dict[int, bytes] | None = None) -> tuple[bytes, dict[int, bytes]]:
    """The file's bytes — exactly `json.dumps(data, sort_keys=True)` without blanks — and the encoding of each
    document (with its id). Documents whose object is in `fragments` are not encoded again: a one-field edit in a
    store of 10,000 connections encodes one document, not 10,000. (No indent: it would switch json to its slow
    encoder.)"""
    known = fragments or {}
    fresh: dict[int, bytes] = {}
    tables = []
    for name in sorted(data):
        docs = data[name]
        parts = []
        for doc_id in sorted(docs):
            doc = docs[doc_id]
            encoded = known.get(id(doc))
            if encoded is None:  # ids are digits (schema.shape_problem), so the key needs no escaping
                encoded = b'"' + doc_id.encode("ascii") + b'":' + _encode(doc).encode("utf-8")
            fresh[id(doc)] = encoded
            parts.append(encoded)
        tables.append(_encode(name).encode("utf-8") + b":{" + b",".join(parts) + b"}")
    return b"{" + b",".join(tables) + b"}", fresh


class TransactionStorage(Storage):
    """TinyDB storage for one transaction: a fresh state of the file, buffered writes, one atomic flush. TinyDB
    replaces a table's dictionary when it changes it, so the buffer starts as a shallow copy of the state read."""

    def __init__(self, path: Path, loaded: Loaded) -> None:
        self.path = path
        self.loaded = loaded
        self._data: RawData = dict(loaded.data)
        self._dirty = loaded.upgraded
        self.written: Loaded | None = None

    def load(self) -> RawData:
        return self._data

    def read(self) -> dict[str, dict[str, Any]] | None:
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data
        self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def flush(self) -> None:
        if self._dirty:
            content, fragments = dump(self._data, self.loaded.fragments)
            atomic_write(self.path, content)
            self.written = Loaded(content, self._data, False, fragments)
            self._dirty = False

    def close(self) -> None:
        pass
