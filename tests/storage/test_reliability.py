"""Crash and concurrency: kill -9 in the middle of saves, and two processes committing at once.

Real processes (fork), real SIGKILL, real files. `kill -9` does not model power loss (the page cache survives);
durability against that rests on fsync of the file and of the directory, which the writer does.

Most kills land at a random instant. A random instant rarely falls inside the short window where the new file is
written but not yet renamed over the old one, so every third kill is aimed there: the saving child announces the
temp file's fsync and waits for the kill.
"""

from __future__ import annotations

import os
import random
import select
import signal
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storage import Home, Store
from tests.factories import m365, onprem
from workbench.model import Secret

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

TRIALS = 60
AIM_EVERY = 3  # every third kill lands between the temp file's write and its rename
BIG, SMALL = 150, 3


def _write_generation(store: Store, generation: int) -> None:
    """One confirmed save: replace every connection with the set for this generation (alternately large and
    small, so a torn write would show as a mixed or unparsable file)."""
    count = BIG if generation % 2 == 0 else SMALL
    with store.transaction() as txn:
        for connection in txn.before.connections:
            txn.remove_connection(connection.id)
        for n in range(count):
            txn.put_connection(replace(m365(n + 1), name=f"g{generation}-c{n}"))


def _generation_of(store: Store) -> int:
    names = [c.name for c in store.snapshot().connections]
    generations = {name.split("-")[0] for name in names}
    assert len(generations) == 1, f"mixed generations in one file: {sorted(generations)}"
    (generation,) = generations
    count = BIG if int(generation[1:]) % 2 == 0 else SMALL
    assert len(names) == count
    return int(generation[1:])


def _aim_at_the_write(write_fd: int) -> None:
    """In the saving child: before the temp file's fsync (written, not yet renamed), say so and wait to be killed."""
    real = os.fsync

    def announcing(fd: FileDescriptorLike) -> None:
        number = fd if isinstance(fd, int) else fd.fileno()
        if stat.S_ISREG(os.fstat(number).st_mode):  # the temp file's fsync, not the directory's
            os.write(write_fd, b"writing\n")
            time.sleep(10)
        real(fd)

    os.fsync = announcing


def _saver(store: Store, write_fd: int, start: int, aimed: bool) -> None:
    if aimed:
        _aim_at_the_write(write_fd)
    generation = start
    os.write(write_fd, b"ready\n")
    while True:
        generation += 1
        _write_generation(store, generation)
        os.write(write_fd, f"{generation}\n".encode())


def _read_until(fd: int, word: str, timeout: float = 10.0) -> list[str]:
    """The lines `fd` gives until one is `word` (the child says it, then waits there to be killed)."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while word not in lines:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"the saving child never said {word!r}"
        data = os.read(fd, 65536)
        assert data, f"the saving child ended without saying {word!r}"
        lines += data.decode().split()
    return lines


def _read_lines(fd: int) -> list[str]:
    chunks = b""
    while select.select([fd], [], [], 0)[0]:
        data = os.read(fd, 65536)
        if not data:
            break
        chunks += data
    return chunks.decode().split()


@pytest.mark.slow
def test_kill_9_during_saves_never_corrupts(home: Home) -> None:
    store = home.store
    _write_generation(store, 0)
    rng = random.Random(20261127)
    outcomes = {"old": 0, "new": 0, "killed_mid_write": 0}
    for trial in range(TRIALS):
        aimed = trial % AIM_EVERY == 0
        start = _generation_of(store)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: save until killed
            os.close(read_fd)
            try:
                _saver(store, write_fd, start, aimed)
            finally:
                os._exit(1)
        os.close(write_fd)
        select.select([read_fd], [], [], 10)
        said: list[str] = []
        if aimed:
            said = _read_until(read_fd, "writing")
        else:
            time.sleep(rng.uniform(0.005, 0.150))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        acknowledged = [int(x) for x in said + _read_lines(read_fd) if x.isdigit()]
        os.close(read_fd)
        last_ack = acknowledged[-1] if acknowledged else start
        torn = bool(list(home.path.glob(".workbench.json.*.tmp")))
        assert torn or not aimed, "a kill aimed inside a write left no temp file"
        outcomes["killed_mid_write"] += torn
        found = _generation_of(store)  # parses, one generation, right size
        assert found in (last_ack, last_ack + 1), (found, last_ack)
        outcomes["old" if found == last_ack else "new"] += 1
    with store.transaction():
        pass  # the next writer removes whatever temp files the killed ones left
    assert list(home.path.glob(".workbench.json.*.tmp")) == []
    # The test is only worth something if kills really landed inside writes (a torn temp file left behind).
    assert outcomes["killed_mid_write"] >= TRIALS // AIM_EVERY, outcomes


def _committer(home_path: Path, worker: int, count: int) -> None:
    home = Home(home_path)
    for n in range(count):
        changes = home.changeset()
        ref = changes.stage_secret(Secret(f"password-{worker}-{n}"))
        changes.add(replace(onprem(worker * 1000 + n + 1, password_ref=ref), name=f"w{worker}-{n}"))
        changes.commit()


@pytest.mark.slow
def test_two_processes_committing_lose_nothing(home: Home) -> None:
    per_worker = 100
    home.vault()  # created once up front, as the first run of the app does
    pids = []
    for worker in (1, 2):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _committer(home.path, worker, per_worker)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    connections = home.store.snapshot().connections
    assert len(connections) == 2 * per_worker
    assert len({c.id for c in connections}) == 2 * per_worker
    vault = home.vault()
    for connection in connections:
        worker_no, index = connection.name[1:].split("-")
        (ref,) = connection.secret_refs
        assert vault.get(ref) == Secret(f"password-{worker_no}-{index}")
