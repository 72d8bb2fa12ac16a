"""`workbench lab` as a separate process: state file, real clients against it, clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import msal
import requests

from tests.e2e.conftest import guarded_env

ROOT = Path(__file__).resolve().parents[2]
ENV = guarded_env()

REQUIRED = {
    "authority_host",
    "graph_url",
    "ews_url",
    "tenant_id",
    "tenant_domain",
    "app_account",
    "client_id",
    "client_secret",
    "certificate_pfx",
    "certificate_password",
    "certificate_thumbprint",
    "admin_upn",
    "public_client_id",
    "organisation_client_id",
}


def test_lab_runs_until_sigterm_and_publishes_its_state(tmp_path: Path) -> None:
    state_file = tmp_path / "lab.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "lab",
            "--state-file",
            str(state_file),
            "--mailboxes",
            "3",
            "--scenario",
            "graph-throttled",
        ],
        env=ENV,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not state_file.exists() and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.05)
        state = json.loads(state_file.read_text())
        assert state_file.stat().st_mode & 0o777 == 0o600
        assert set(state["m365"]) >= REQUIRED and state["ca_bundle"] and state["scenarios"] == ["graph-throttled"]
        assert len(state["m365"]["certificate_thumbprint"]) == 40
        kerberos = state["onprem"]["kerberos"]  # null only where the lab could not run a KDC
        assert kerberos is None or (kerberos["realm"] == "FABRIKAM.TEST" and kerberos["kdc"].startswith("127.0.0.1:"))
        m = state["m365"]
        for url in (m["authority_host"], m["graph_url"], m["ews_url"]):
            assert url.startswith("https://127.0.0.1:")
        session = requests.Session()
        session.trust_env = False
        session.verify = state["ca_bundle"]
        app = msal.ConfidentialClientApplication(
            m["client_id"],
            authority=f"{m['authority_host']}/{m['tenant_id']}",
            client_credential=m["client_secret"],
            http_client=session,
            instance_discovery=False,
        )
        assert "access_token" in app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "lab ready with graph-throttled" in err and "lab stopped" in err
    assert not state_file.exists()
    assert not Path(state["ca_bundle"]).exists()  # the lab's files go with it


def test_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "lab",
            "--state-file",
            str(tmp_path / "s.json"),
            "--scenario",
            "bad-secret,nonsense",
        ],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "unknown scenario nonsense" in result.stderr
    assert not (tmp_path / "s.json").exists()


def test_list_scenarios() -> None:
    from workbench.lab import SCENARIOS

    out = subprocess.run(
        [sys.executable, "-m", "workbench", "lab", "--list-scenarios"],
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [line.split()[0] for line in out.splitlines()] == list(SCENARIOS)


def test_every_scenario_is_documented() -> None:
    from workbench.lab import SCENARIOS

    text = (ROOT / "docs" / "lab.md").read_text()
    missing = [name for name, s in SCENARIOS.items() if f"`{name}`" not in text or (s.code and s.code not in text)]
    assert missing == []


def test_every_check_and_problem_is_documented() -> None:
    from dataclasses import replace

    from tests.factories import m365
    from workbench.checks import online, onprem, problems
    from workbench.model import CertificateCredential, M365Settings

    text = (ROOT / "docs" / "verification.md").read_text()
    settings = m365(1).settings
    assert isinstance(settings, M365Settings)
    with_certificate = replace(settings, credential=CertificateCredential(thumbprint="AB" * 20))
    ids = [c.id for c in (*online.plan(with_certificate).checks, *onprem.plan().checks)]
    codes = {p.code for p in vars(problems).values() if isinstance(p, problems.Problem)}
    assert [i for i in ids if f"`{i}`" not in text] == []
    assert sorted(c for c in codes if f"`{c}`" not in text) == []
