"""Logs are opt-in and redacted: with WORKBENCH_LOG=debug every library's records (exchangelib logs request
headers) reach stderr only after redaction. Secrets never appear, in the clear or as bearer/NTLM/Basic tokens."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import add_lab_connections, guarded_env, run_workbench
from workbench.lab import Lab
from workbench.redaction import RedactingFilter, redact


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
