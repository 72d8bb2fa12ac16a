"""Commit of one staged change in a store holding 1,000 connections, against stock TinyDB.

Ours: `Changeset.commit()` of one edit — lock, fresh read and decode of the whole store, conflict and name
checks, one atomic write (temp file, fsync, rename, directory fsync).
Baseline: stock TinyDB `JSONStorage` `insert()` of one document into the same 1,000 documents — an in-place rewrite
with one fsync, no lock, no atomicity. Goal: our median below 50 ms.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tinydb import TinyDB
from tinydb.storages import JSONStorage

from storage import Home
from tests.factories import m365, onprem
from workbench.model import connection_to_document

SIZE = 1_000
ROUNDS = 60
GOAL_MS = 50.0


def _population() -> list:  # type: ignore[type-arg]
    return [m365(n) if n % 2 else onprem(n) for n in range(1, SIZE + 1)]


def _ours(folder: Path) -> list[float]:
    home = Home(folder / "ours")
    with home.store.transaction() as txn:
        for n, connection in enumerate(_population()):
            txn.put_connection(replace(connection, name=f"connection {n:04d}"))
    timings = []
    for round_no in range(ROUNDS):
        changes = home.changeset()
        target = changes.get(f"connection {round_no:04d}")
        changes.edit(replace(target, name=f"renamed {round_no:04d}"))
        start = time.perf_counter()
        changes.commit()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def _stock(folder: Path) -> list[float]:
    db = TinyDB(folder / "stock.json", storage=JSONStorage)
    docs = [connection_to_document(replace(c, name=f"connection {n:04d}")) for n, c in enumerate(_population())]
    db.table("connections").insert_multiple(docs)
    extra = connection_to_document(m365(SIZE + 1))
    timings = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        db.table("connections").insert(dict(extra))
        timings.append((time.perf_counter() - start) * 1000)
    db.close()
    return timings


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o700)
        stock = _stock(folder)
        ours = _ours(folder)
    stock_median, ours_median = statistics.median(stock), statistics.median(ours)
    p95 = statistics.quantiles(ours, n=20)[-1]
    print(f"store commit, {SIZE:,} connections, {ROUNDS} rounds each (fsync included)")
    print(f"  stock TinyDB JSONStorage insert   median {stock_median:7.2f} ms")
    print(f"  workbench Changeset.commit        median {ours_median:7.2f} ms   p95 {p95:7.2f} ms")
    print(f"  ratio ours / stock                {ours_median / stock_median:7.2f}x")
    verdict = "met" if ours_median < GOAL_MS else "MISSED"
    print(f"  goal: median < {GOAL_MS:.0f} ms -> {verdict}")
