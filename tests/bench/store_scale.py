"""An MSP's store: import of N connections and a one-field commit, at 1,000 and at 10,000 connections.

Both run in this process on a temporary data directory: the import is `Changeset.add` for every parsed
connection and one commit (what `workbench connections import` does); the commit is a rename of one connection
(lock, fresh look at the file, conflict and name checks, one atomic write with fsync). Figures are printed as the
ratio of 10,000 to 1,000 (linear would be 10x) next to the goals: import <= 5 s, commit median <= 100 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from storage import Home
from tests.factories import T0, m365, onprem
from workbench.drafts import Stamp
from workbench.exports import export_document, parse_export

ROUNDS = 30
IMPORT_GOAL_S = 5.0
COMMIT_GOAL_MS = 100.0


def _export(size: int) -> str:
    population = [replace(m365(n) if n % 2 else onprem(n), name=f"connection {n:05d}") for n in range(1, size + 1)]
    return json.dumps(export_document(population, T0))


def _measure(folder: Path, size: int) -> tuple[float, float]:
    text = _export(size)
    home = Home(folder / f"home-{size}")
    counter = iter(range(1, 10**9))
    start = time.perf_counter()
    connections = parse_export(text, "bench.json", lambda: Stamp(f"imported-{next(counter)}", T0))
    changes = home.changeset()
    for connection in connections:
        changes.add(connection)
    changes.commit()
    imported = time.perf_counter() - start
    timings = []
    for round_no in range(ROUNDS):
        changes = home.changeset()
        target = changes.get(f"connection {round_no + 1:05d}")
        changes.edit(replace(target, name=f"renamed {round_no:05d}"))
        start = time.perf_counter()
        changes.commit()
        timings.append((time.perf_counter() - start) * 1000)
    return imported, statistics.median(timings)


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o700)
        small_import, small_commit = _measure(folder, 1_000)
        large_import, large_commit = _measure(folder, 10_000)
    print("store at scale: import, then a one-field commit (median of 30, fsync included)")
    print(f"  import   1,000 connections  {small_import:6.2f} s")
    print(
        f"  import  10,000 connections  {large_import:6.2f} s   {large_import / small_import:5.1f}x 1,000 (linear: 10x)"
    )
    print(f"  commit in  1,000            {small_commit:6.1f} ms")
    print(f"  commit in 10,000            {large_commit:6.1f} ms  {large_commit / small_commit:5.1f}x 1,000")
    print(
        f"  goals: import <= {IMPORT_GOAL_S:g} s -> {'met' if large_import <= IMPORT_GOAL_S else 'MISSED'}; "
        f"commit <= {COMMIT_GOAL_MS:g} ms -> {'met' if large_commit <= COMMIT_GOAL_MS else 'MISSED'}"
    )
