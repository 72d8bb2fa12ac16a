"""The kept state that makes a 10,000-connection store fast must never show a stale or half-changed store."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from storage import CorruptStoreError, Home, Store
from storage.storefile import dump
from tests.factories import m365, onprem


def test_dump_is_exactly_sorted_compact_json() -> None:
    data: dict[str, dict[str, dict[str, Any]]] = {
        "connections": {"10": {"name": "Zürich ✓", "b": [1, None]}, "2": {"name": 'a"quote\\', "a": {"z": 1, "y": 2}}},
        "_meta": {"1": {"schema": 1}},
    }
    expected = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    content, fragments = dump(data)
    assert content == expected
    again, _ = dump(data, fragments)  # every document reused
    assert again == expected


def test_a_write_by_another_store_object_is_seen(home: Home) -> None:
    other = Store(home.store.path)  # another process, as far as the kept state is concerned
    with home.store.transaction() as txn:
        txn.put_connections([m365(1), onprem(2)])
    assert {c.id for c in other.snapshot().connections} == {m365(1).id, onprem(2).id}
    with other.transaction() as txn:
        txn.put_connection(replace(onprem(2), name="Head office"))
    names = sorted(c.name for c in home.store.snapshot().connections)
    assert names == ["Head office", "contoso.com"]
    changes = home.changeset()
    changes.edit(replace(m365(1), name="Tenant"))
    changes.commit()
    assert sorted(c.name for c in other.snapshot().connections) == ["Head office", "Tenant"]


def test_a_failed_transaction_leaves_the_kept_state_untouched(home: Home) -> None:
    with home.store.transaction() as txn:
        txn.put_connections([m365(1), onprem(2)])
    before = home.store.snapshot()
    with pytest.raises(RuntimeError), home.store.transaction() as txn:
        txn.put_connection(replace(onprem(2), name="Half-done"))
        txn.remove_connection(m365(1).id)
        raise RuntimeError("power cut")
    assert home.store.snapshot() == before
    with home.store.transaction() as txn:
        txn.put_connection(replace(onprem(2), name="Done"))
    assert sorted(c.name for c in home.store.snapshot().connections) == ["Done", "contoso.com"]
    on_disk = json.loads(home.store.path.read_bytes())
    assert sorted(d["name"] for d in on_disk["connections"].values()) == ["Done", "contoso.com"]


def test_an_empty_store_file_is_not_silently_replaced(home: Home) -> None:
    home.store.path.write_bytes(b"  \n")
    with pytest.raises(CorruptStoreError, match="empty"):
        home.store.snapshot()
    with pytest.raises(CorruptStoreError), home.store.transaction() as txn:
        txn.put_connection(m365(1))
    assert home.store.path.read_bytes() == b"  \n"
