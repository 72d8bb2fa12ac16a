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

from tests.e2e.conftest import guarded_env, interruptible, run_workbench
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
        preexec_fn=interruptible,
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


CLEANUP = """
import asyncio, dataclasses, sys
from datetime import UTC, datetime
from pathlib import Path
from screens import WorkbenchApp
from screens.dialogs.app_cleanup import AppCleanupModal
from workbench.drafts import M365Draft, Stamp
from workbench.model import AppRegistration, CertificateCredential, Registration

url, ca_bundle = sys.argv[2], sys.argv[3]
built = M365Draft(
    tenant_id="00000000-0000-4000-8000-000000000001", client_id="bbaeee30-b1a1-4853-a341-9f08833c6cb7",
    app_account="backup@contoso.com", cloud="custom", authority_host=url, graph_url=url,
    ews_url=url + "/EWS/Exchange.asmx", ca_bundle=ca_bundle,
).build(CertificateCredential(thumbprint="A" * 40), Stamp("registered", datetime.now(UTC)))
settings = dataclasses.replace(
    built.settings, registration=Registration.AUTOMATIC,
    app_registration=AppRegistration(app_object_id="0", unique_name="workbench-0"),
)
connection = dataclasses.replace(built, settings=settings)

async def quit_while_signing_in(pilot):
    modal = AppCleanupModal(connection, 20.0)
    pilot.app.push_screen(modal)
    await pilot.pause()
    await pilot.press("d")  # the sign-in asks the authority, which trickles
    while not Path(sys.argv[4]).exists():
        await asyncio.sleep(0.05)
    print("quitting", modal.state, flush=True)
    await pilot.press("ctrl+q")

WorkbenchApp(Path(sys.argv[1])).run(headless=True, size=(80, 24), auto_pilot=quit_while_signing_in)
print("returned", flush=True)
"""


def test_the_console_quits_while_deleting_an_app_signs_in_to_a_trickling_authority(tmp_path: Path) -> None:
    """The app-deletion dialog's sign-in runs in a thread the console's loop waits for when it ends: quitting
    must end that sign-in, not wait for its requests to run out of time."""
    pem, _ = self_signed(tmp_path, "authority", ip="127.0.0.1")
    handler = trickler()
    asked = tmp_path / "asked"
    with https_server(pem, handler) as port:
        process = subprocess.Popen(
            [sys.executable, "-c", CLEANUP, str(tmp_path / "home"), f"https://127.0.0.1:{port}", str(pem), str(asked)],
            env={**guarded_env(tmp_path / "home"), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_request(handler)
        except AssertionError:
            process.kill()
            raise
        time.sleep(0.3)
        asked.touch()
        out, err = _finish(process, HANG)
    assert process.returncode == 0, err
    assert "quitting signing-in" in out and "returned" in out, (out, err)
    assert "Traceback" not in err, err
