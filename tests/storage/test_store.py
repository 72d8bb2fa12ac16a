"""The store file: transactions, corruption, permissions, schema versions, failed writes."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from storage import CorruptStoreError, Home, SchemaTooNewError, Store, UnsafeFileError, schema
from tests.factories import m365, onprem


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_empty_store_reads_as_empty(home: Home) -> None:
    assert home.store.snapshot().connections == ()
    assert not home.store.path.exists()


def test_transaction_writes_once_and_reads_back(home: Home) -> None:
    with home.store.transaction() as txn:
        txn.put_connection(m365(1))
        txn.put_connection(onprem(2))
        assert not home.store.path.exists()  # nothing on disk until the block ends
    names = [c.name for c in home.store.snapshot().connections]
    assert names == ["admin2@contoso.com", "contoso.com"]
    data = json.loads(home.store.path.read_text())
    assert data["_meta"] == {"1": {"schema": schema.SCHEMA_VERSION}}


def test_failed_transaction_writes_nothing(home: Home) -> None:
    with home.store.transaction() as txn:
        txn.put_connection(m365(1))
    before = home.store.path.read_bytes()
    with pytest.raises(RuntimeError), home.store.transaction() as txn:
        txn.remove_connection(m365(1).id)
        raise RuntimeError("the admin pressed Cancel, in effect")
    assert home.store.path.read_bytes() == before


def test_permissions_are_private(home: Home) -> None:
    with home.store.transaction() as txn:
        txn.put_connection(m365(1))
    assert mode(home.path) == 0o700
    assert mode(home.store.path) == 0o600
    assert mode(home.store.path.with_name("workbench.json.lock")) == 0o600


def test_world_readable_store_is_refused(home: Home) -> None:
    with home.store.transaction() as txn:
        txn.put_connection(m365(1))
    home.store.path.chmod(0o644)
    with pytest.raises(UnsafeFileError, match=r"readable by other users \(mode 644\).*chmod 600"):
        home.store.snapshot()


def test_symlinked_store_is_refused(home: Home, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    elsewhere.chmod(0o600)
    home.store.path.symlink_to(elsewhere)
    with pytest.raises(UnsafeFileError, match="symbolic link"):
        home.store.snapshot()
    with pytest.raises(UnsafeFileError), home.store.transaction():
        pass
    assert elsewhere.read_text() == "{}"


def test_open_data_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(UnsafeFileError, match="chmod 700"):
        Store(shared / "workbench.json")


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"_meta": {"1": {"schema": 1}}, "connections": {"1": {', "Expecting property name"),
        (b"\xff\xfe garbage", "not UTF-8"),
        (b"[1, 2, 3]", "top level is a JSON list"),
        (b'{"connections": {"1": {}}}', "no schema version"),
        (b'{"_meta": {"1": {"schema": 1}}, "connections": {"x": {}}}', "document id 'x'"),
        (
            b'{"_meta": {"1": {"schema": 1}}, "connections": {"1": {"id": "a"}}}',
            "connections/1: field 'kind'",
        ),
    ],
)
def test_corrupt_file_is_reported_and_copied_aside(home: Home, content: bytes, detail: str) -> None:
    home.store.path.write_bytes(content)
    with pytest.raises(CorruptStoreError) as caught:
        home.store.snapshot()
    error = caught.value
    assert detail in str(error) and str(home.store.path) in str(error)
    assert error.backup is not None and error.backup.read_bytes() == content
    assert mode(error.backup) == 0o600
    assert home.store.path.read_bytes() == content  # never overwritten
    with pytest.raises(CorruptStoreError), home.store.transaction() as txn:  # nor by a write
        txn.put_connection(m365(1))
    assert home.store.path.read_bytes() == content
    backups = list(home.path.glob("workbench.json.corrupt-*"))
    assert backups == [error.backup]  # reading twice does not pile up copies


def test_newer_schema_is_left_alone(home: Home) -> None:
    home.store.path.write_text('{"_meta": {"1": {"schema": 99}}}')
    with pytest.raises(SchemaTooNewError, match="newer workbench"):
        home.store.snapshot()


def test_migration_runs_once_inside_a_transaction(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    with home.store.transaction() as txn:
        txn.put_connection(m365(1))

    def to_v2(data: schema.RawData) -> schema.RawData:
        for doc in data.get("connections", {}).values():
            doc["name"] = doc["name"].upper()
        return data

    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(schema.MIGRATIONS, 1, to_v2)
    assert [c.name for c in home.store.snapshot().connections] == ["CONTOSO.COM"]
    assert json.loads(home.store.path.read_text())["_meta"]["1"]["schema"] == 1  # reading does not write
    with home.store.transaction():
        pass
    assert json.loads(home.store.path.read_text())["_meta"]["1"]["schema"] == 2


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_disk_full_keeps_the_old_file(home: Home, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    with home.store.transaction() as txn:
        txn.put_connection(m365(1))
    before = home.store.path.read_bytes()

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(OSError, match="No space left"), home.store.transaction() as txn:
        txn.put_connection(onprem(2))
    monkeypatch.undo()
    assert home.store.path.read_bytes() == before
    assert list(home.path.glob(".workbench.json.*.tmp")) == []


def test_orphan_temp_files_are_cleaned_under_the_lock(home: Home) -> None:
    orphan = home.path / ".workbench.json.abc123.tmp"
    orphan.write_text("half a write")
    with home.store.transaction():
        pass
    assert not orphan.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="changing a file's owner needs root")
def test_foreign_owned_store_is_refused(home: Home) -> None:
    with home.store.transaction() as txn:
        txn.put_connection(m365(1))
    os.chown(home.store.path, 4242, 4242)
    with pytest.raises(UnsafeFileError, match="belongs to uid 4242"):
        home.store.snapshot()
