"""A server that trickles its answer (a byte of header every quarter second, forever) defeats every read timeout:
each read gets something in time. Only a wall-clock deadline ends such a request, and a worker the run gave up on
must never keep the process alive. These run `workbench` (and the console) as separate processes and assert that
they exit — within a bound generous enough to be about a hang, not about speed (issue 19, item 2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import guarded_env, run_workbench
from tests.fakeserver import Trickling, https_server, self_signed, trickler

HANG = 20.0  # seconds after which a process that should have ended is called hung


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[tuple[Path, type[Trickling]]]:
    """A trickling HTTPS server on loopback, and a data directory with one connection to it ('slow', pinned)."""
    pem, pin = self_signed(tmp_path, "trickle")
    handler = trickler()
    home = tmp_path / "home"
    with https_server(pem, handler) as port:
        added = run_workbench(
            home,
            "connections",
            "add",
            "onprem",
            "--name",
            "slow",
            "--server",
            f"127.0.0.1:{port}",
            "--admin-upn",
            "admin@fabrikam.test",
            "--pin-sha256",
            pin,
            "--password-stdin",
            stdin="pw\n",
        )
        assert added.returncode == 0, added.stderr
        yield home, handler


def _start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", *args],
        env=guarded_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], within: float) -> tuple[str, str]:
    """The process's output once it has exited; a process still alive after `within` seconds is killed and fails
    the test."""
    try:
        return process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"still running after {within:g} s:\n{out[-2000:]}\n{err[-2000:]}")


def _wait_for_request(handler: type[Trickling], count: int = 1) -> None:
    deadline = time.monotonic() + HANG
    while len(handler.seen) < count:
        assert time.monotonic() < deadline, "the server never saw the request"
        time.sleep(0.05)


def test_verify_gives_up_on_a_trickling_answer_and_exits(slow_server: tuple[Path, type[Trickling]]) -> None:
    home, handler = slow_server
    process = _start(home, "verify", "slow", "--timeout", "2", "--json")
    out, err = _finish(process, HANG)
    assert process.returncode == 1, err
    checks = {e["check"]: e for e in map(json.loads, out.splitlines()) if e["event"] == "check"}
    auth = checks["onprem.auth"]
    assert auth["status"] == "failed" and auth["problem"]["code"] == "TIMEOUT", auth
    assert "Traceback" not in err, err
    assert handler.seen, "the check never reached the server"


def test_ctrl_c_during_verify_exits_with_a_short_message(slow_server: tuple[Path, type[Trickling]]) -> None:
    home, handler = slow_server
    process = _start(home, "verify", "slow", "--timeout", "20")
    _wait_for_request(handler)  # the authentication check is stuck in the trickle
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    out, err = _finish(process, HANG)
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in err, err
    assert len(err.strip().splitlines()) <= 2, err


CONSOLE = """
import asyncio, sys
from pathlib import Path
from screens import WorkbenchApp

async def quit_while_hanging(pilot):
    app = pilot.app
    live = app.verify(app.workspace.connections()[0], timeout=20.0)
    while "onprem.auth" not in live.board.rows or live.board["onprem.auth"].phase.value != "running":
        await asyncio.sleep(0.05)
    await asyncio.sleep(float(sys.argv[2]))
    if sys.argv[3] == "cancel":
        live.cancel()
        await asyncio.sleep(0.5)
    print("quitting", flush=True)
    await pilot.press("ctrl+q")

WorkbenchApp(Path(sys.argv[1])).run(headless=True, size=(80, 24), auto_pilot=quit_while_hanging)
print("returned", flush=True)
"""


@pytest.mark.parametrize("how", ["running", "cancel"])
def test_the_console_quits_while_a_check_hangs(slow_server: tuple[Path, type[Trickling]], how: str) -> None:
    """ctrl+q while a check is stuck in the trickle (or after it was cancelled): the console's process ends."""
    home, _ = slow_server
    process = subprocess.Popen(
        [sys.executable, "-c", CONSOLE, str(home), "1.0", how],
        env={**guarded_env(home), "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    assert process.stdout is not None
    line = ""
    started = time.monotonic()
    while "quitting" not in line:
        assert time.monotonic() - started < HANG, "the verification never reached the server"
        line = process.stdout.readline()
        assert line or process.poll() is None, process.stderr.read() if process.stderr else ""
    quit_at = time.monotonic()
    out, err = _finish(process, HANG)
    assert process.returncode == 0, err
    assert "returned" in out and "Traceback" not in err, err
    assert time.monotonic() - quit_at < 10, "the console took a long time to exit"
