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
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from . import schema
from .errors import CorruptStoreError, SchemaTooNewError
from .files import atomic_write, read_private
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


def load(path: Path) -> tuple[RawData, bool]:
    """The file's data upgraded to the current schema, and whether an upgrade happened."""
    content = read_private(path)
    if content is None or not content.strip():
        return schema.new_data(), False
    try:
        data = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise corrupt(path, content, f"it is not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise corrupt(path, content, f"{error.msg} at line {error.lineno} column {error.colno}") from None
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
    return data, upgraded


def dump(data: RawData) -> bytes:
    # No indent: indentation switches json to its pure-Python encoder, several times slower on a large store.
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class TransactionStorage(Storage):
    """TinyDB storage for one transaction: fresh read, buffered writes, one atomic flush."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: RawData | None = None
        self._dirty = False

    def load(self) -> RawData:
        if self._data is None:
            self._data, self._dirty = load(self.path)
        return self._data

    def read(self) -> dict[str, dict[str, Any]] | None:
        # The buffer itself, not a copy: TinyDB may change it in place, which is harmless because a transaction
        # that fails is never flushed and its buffer is thrown away.
        return self.load()

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data
        self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def flush(self) -> None:
        if self._dirty and self._data is not None:
            atomic_write(self.path, dump(self._data))
            self._dirty = False

    def close(self) -> None:
        pass
