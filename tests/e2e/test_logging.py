"""Logs are opt-in and redacted: with WORKBENCH_LOG=debug every library's records (exchangelib logs request
headers) reach stderr only after redaction. Secrets never appear, in the clear or as bearer/NTLM/Basic tokens."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import add_lab_connections, guarded_env, run_workbench
from workbench.lab import Lab
from workbench.redaction import RedactingFilter, redact


@pytest.fixture
def bare_root_logger() -> Iterator[logging.Logger]:
    """The root logger without handlers for the test; as it was afterwards (`configure` adds to it)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    for handler in handlers:
        root.removeHandler(handler)
    try:
        yield root
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            if handler not in handlers:
                handler.close()
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def test_redact_patterns() -> None:
    text = (
        "Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl password=hunter2 NTLM TlRMTVNTUAABAAAAB4II "
        "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY----- client_secret=abc~def"
    )
    cleaned = redact(text, "abc~def")
    for leaked in ("eyJhbGciOi", "hunter2", "TlRMTVNTUAAB", "MIIEvQ", "abc~def"):
        assert leaked not in cleaned
    # MSAL logs the device-code answer at debug level: the device code polls for the admin's token.
    polled = redact('{"device_code": "tSN_0pq9-rs8", "user_code": "F7KQ2M9XD"} device_code=tSN_0pq9-rs8&x=1')
    assert "tSN_0pq9" not in polled and "F7KQ2M9XD" in polled  # the user code is what the admin types anyway


def test_filter_redacts_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "exchangelib",
        logging.ERROR,
        __file__,
        1,
        "headers: %s",
        ({"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},),
        None,
    )
    try:
        raise RuntimeError("token=SECRETVALUE123")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    assert "dXNlcjpwYXNzd29yZA" not in record.getMessage() and "SECRETVALUE123" not in record.getMessage()
    assert "RuntimeError" in record.getMessage()


@pytest.mark.parametrize("scenario", ["bad-password", ""])
def test_debug_logging_of_a_verification_leaks_nothing(tmp_path: Path, scenario: str) -> None:

    with Lab(scenario, mailboxes=3) as lab:
        home = tmp_path / "home"
        add_lab_connections(home, lab)
        result = run_workbench(home, "verify", "--all", env={"WORKBENCH_LOG": "debug"})
        secrets = (lab.state.onprem.admin_password, lab.state.m365.client_secret)
    assert "DEBUG" in result.stderr  # logging really was on
    everything = result.stdout + result.stderr
    for secret in secrets:
        assert secret not in everything
    assert not re.search(r"(Bearer|NTLM|Negotiate|Basic) [A-Za-z0-9+/=._-]{12,}", everything)
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ", everything)


def test_unknown_log_level(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "workbench", "info"],
        capture_output=True,
        text=True,
        env={**guarded_env(tmp_path / "h"), "WORKBENCH_LOG": "loud"},
        check=False,
    )
    assert result.returncode == 2 and "use debug, info or warning" in result.stderr


Keys = Callable[[Callable[[bytes], None], Callable[[bytes], None]], None]


def _console_in_a_terminal(home: Path, env: dict[str, str], keys: Keys, *args: str) -> bytes:
    """Run `workbench ARGS` (the console) on a pseudo-terminal of 100x30, call `keys(type_, wait_for)` and return
    everything it drew: `type_(data)` types, `wait_for(text)` returns once the console has drawn `text`. Every wait
    is bounded: the console is killed if it has not quit 60 s after the keys."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import threading
    import time

    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", *args],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**guarded_env(home), "TERM": "xterm-256color", **env},
        close_fds=True,
        start_new_session=True,
    )
    os.close(secondary)
    drawn = bytearray()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([primary], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                drawn.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:

        def type_(data: bytes) -> None:
            os.write(primary, data)

        def wait_for(text: bytes) -> None:
            deadline = time.monotonic() + 60
            while text not in drawn:
                assert time.monotonic() < deadline, f"the console never drew {text!r}"
                assert process.poll() is None, f"the console ended: {bytes(drawn)[-2000:]!r}"
                time.sleep(0.05)

        keys(type_, wait_for)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        stop.set()
        reader.join(timeout=5)
        os.close(primary)
    return bytes(drawn)


def test_the_console_logs_to_a_file_not_over_the_screen_and_leaks_nothing(tmp_path: Path) -> None:
    import time

    from storage import Home

    log = tmp_path / "home" / "logs" / "console.log"
    with Lab("", mailboxes=3) as lab:
        home = tmp_path / "home"
        add_lab_connections(home, lab)
        secrets = (lab.state.onprem.admin_password, lab.state.m365.client_secret)

        def verify_then_quit(type_: Callable[[bytes], None], wait_for: Callable[[bytes], None]) -> None:
            wait_for(b"Dashboard")  # the console started
            type_(b"\r")  # verify the selected connection (the first: the cloud one, with its secret)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until its result is recorded
                if any(c.last_verification for c in Home(home).store.snapshot().connections):
                    break
                time.sleep(0.2)
            time.sleep(0.5)
            type_(b"\x11")  # ctrl+q

        drawn = _console_in_a_terminal(home, {"WORKBENCH_LOG": "debug"}, verify_then_quit)
    screen = drawn.decode("utf-8", "replace")
    assert any(c.last_verification for c in Home(home).store.snapshot().connections), screen[-2000:]
    assert " DEBUG " not in screen and " INFO " not in screen  # nothing was written over the console
    assert "console.log" in screen  # the notification names the file (its path is cut by the drawing codes)
    written = log.read_text()
    assert " DEBUG " in written  # logging really was on, into the file
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    for secret in secrets:
        assert secret not in written
    assert not re.search(r"(Bearer|NTLM|Negotiate|Basic) [A-Za-z0-9+/=._-]{12,}", written)
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ", written)
    assert "\x1b" not in written


def test_info_names_the_console_log(tmp_path: Path) -> None:
    import json

    home = tmp_path / "home"
    shown = run_workbench(home, "info")
    assert shown.returncode == 0, shown.stderr
    assert f"{home / 'logs' / 'console.log'}" in shown.stdout
    facts = json.loads(run_workbench(home, "info", "--json").stdout)
    assert facts["console_log"] == str(home / "logs" / "console.log")


def test_console_logging_moves_the_records_to_the_file_and_back(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], bare_root_logger: logging.Logger
) -> None:
    from workbench.redaction import configure, console_logging

    with console_logging(tmp_path / "off.log") as off:  # logging off: nothing is made
        assert off is None
    assert not (tmp_path / "off.log").exists()
    configure("info")
    log = tmp_path / "logs" / "console.log"
    with console_logging(log) as path:
        assert path == log
        logging.getLogger("exchangelib").info("headers %s", {"Authorization": "Bearer abcdefghijklmnop\x1b[2J"})
    logging.getLogger("workbench").info("after the console")
    captured = capfd.readouterr()
    written = log.read_text()
    assert "INFO exchangelib: headers" in written and "abcdefghijklmnop" not in written
    assert "\x1b" not in written and "\\x1b[2J" in written
    assert "exchangelib" not in captured.err and "after the console" in captured.err  # back on stderr


def test_a_console_process_keeps_logging_to_its_file_after_the_console_ends(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], bare_root_logger: logging.Logger
) -> None:
    """CI caught exchangelib's "Closing sessions" on the admin's terminal after ctrl+q: a run's clients are
    released in their own threads, which may log after the console has gone. For the console's process the
    records stay in the file until it exits."""
    from workbench.redaction import configure, console_logging

    configure("debug")
    log = tmp_path / "logs" / "console.log"
    with console_logging(log, restore=False):
        pass
    released = threading.Thread(target=lambda: logging.getLogger("exchangelib.protocol").debug("Closing sessions"))
    released.start()
    released.join()
    logging.getLogger().handlers[0].flush()
    assert "Closing sessions" not in capfd.readouterr().err
    assert "DEBUG exchangelib.protocol: Closing sessions" in log.read_text()


def test_the_demo_logs_to_a_file_that_outlives_its_temporary_data_directory(tmp_path: Path) -> None:
    import time

    temp = tmp_path / "tmp"
    temp.mkdir()

    def wait_then_quit(type_: Callable[[bytes], None], wait_for: Callable[[bytes], None]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(temp.glob("workbench-demo-*.log")):
            time.sleep(0.2)  # the lab starts, then the console (its first records open the log)
        wait_for(b"Dashboard")  # the console is up
        type_(b"\x11")  # ctrl+q

    drawn = _console_in_a_terminal(
        tmp_path / "unused", {"WORKBENCH_LOG": "debug", "TMPDIR": str(temp)}, wait_then_quit, "demo", "--mailboxes", "3"
    )
    screen = drawn.decode("utf-8", "replace")
    (log,) = temp.glob("workbench-demo-*.log")
    assert f"Log: {log}" in screen  # said when the demo ends
    assert " DEBUG " not in screen and " DEBUG " in log.read_text()
    assert not [p for p in temp.iterdir() if p.is_dir()]  # the demo's data directory is gone, its log is not


def test_the_console_log_never_follows_a_symbolic_link(tmp_path: Path, bare_root_logger: logging.Logger) -> None:
    """The hostile review: `logs/console.log` made a link to another file appended the records there and made
    that file 0600. A link is refused: the console runs without its log file, and the target is untouched."""
    from workbench.redaction import configure, console_logging

    target = tmp_path / "target.txt"
    target.write_text("someone else's\n")
    target.chmod(0o644)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "console.log").symlink_to(target)
    configure("info")
    with console_logging(tmp_path / "logs" / "console.log") as path:
        assert path is None
        logging.getLogger("workbench").info("a record")
    assert target.read_text() == "someone else's\n" and target.stat().st_mode & 0o777 == 0o644
