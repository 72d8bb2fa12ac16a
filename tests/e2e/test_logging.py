"""Logs are opt-in and redacted: with WORKBENCH_LOG=debug every library's records (exchangelib logs request
headers) reach stderr only after redaction. Secrets never appear, in the clear or as bearer/NTLM/Basic tokens."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import guarded_env
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
    import subprocess
    import sys

    with Lab(scenario, mailboxes=3) as lab:
        s, o, m = lab.state, lab.state.onprem, lab.state.m365
        env = guarded_env(tmp_path / "home")

        def wb(*args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "workbench", *args],
                input=stdin,
                capture_output=True,
                text=True,
                env={**env, **extra},
                timeout=120,
                check=False,
            )

        wb(
            "connections",
            "add",
            "onprem",
            "--name",
            "op",
            "--server",
            o.server_fqdn,
            "--dns-server",
            o.dns,
            "--ca-bundle",
            s.ca_bundle,
            "--admin-upn",
            o.admin_upn,
            "--password-stdin",
            stdin=o.admin_password,
        )
        wb(
            "connections",
            "add",
            "m365",
            "--name",
            "cl",
            "--tenant-id",
            m.tenant_id,
            "--client-id",
            m.client_id,
            "--app-account",
            m.app_account,
            "--cloud",
            "custom",
            "--authority-host",
            m.authority_host,
            "--graph-url",
            m.graph_url,
            "--ews-url",
            m.ews_url,
            "--ca-bundle",
            s.ca_bundle,
            "--client-secret-stdin",
            stdin=m.client_secret,
        )
        result = wb("verify", "--all", WORKBENCH_LOG="debug")
    assert "DEBUG" in result.stderr  # logging really was on
    everything = result.stdout + result.stderr
    for secret in (o.admin_password, m.client_secret):
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
