"""`workbench verify` as a separate process against an in-process lab: streaming JSON, exit codes, grants, the
summary recorded on the connection, and the Python API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import add_lab_connections, run_workbench
from workbench.lab import Lab

ROOT = Path(__file__).resolve().parents[2]


workbench = run_workbench


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Lab("no-impersonation", mailboxes=30, seed=5) as lab:
        home = tmp_path_factory.mktemp("verify") / "home"
        add_lab_connections(home, lab)
        yield lab, home


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_json_stream_schema_and_success_exit_code(lab_home: Any) -> None:
    _, home = lab_home
    result = workbench(home, "verify", "cloud", "--json")
    assert result.returncode == 0, result.stderr
    events = lines(result)
    checks = [e for e in events if e["event"] == "check"]
    assert {tuple(sorted(e)) for e in checks} == {
        ("check", "connection", "detail", "duration_ms", "event", "problem", "status", "title")
    }
    assert all(e["status"] == "passed" and e["problem"] is None for e in checks)
    summary = events[-1]
    assert summary == {
        "event": "summary",
        "connection": "cloud",
        "status": "passed",
        "passed": len(checks),
        "warnings": 0,
        "failed": 0,
        "skipped": 0,
        "duration_ms": summary["duration_ms"],
    }
    shown = json.loads(workbench(home, "connections", "show", "cloud", "--json").stdout)
    assert shown["last_verification"]["status"] == "passed" and shown["last_verification"]["passed"] == len(checks)


def test_failure_exit_code_and_problem(lab_home: Any) -> None:
    _, home = lab_home
    result = workbench(home, "verify", "typo", "--json")
    assert result.returncode == 1
    failed = [e for e in lines(result) if e["event"] == "check" and e["status"] == "failed"]
    assert {e["check"] for e in failed} == {"m365.token.graph", "m365.token.ews"}
    problem = failed[0]["problem"]
    assert (
        problem["code"] == "AADSTS7000215"
        and problem["causes"]
        and problem["fixes"]
        and problem["action"]["kind"] == "set-secret"
    )


def test_human_output_streams_lines_and_fixes(lab_home: Any) -> None:
    _, home = lab_home
    result = workbench(home, "verify", "typo")
    assert result.returncode == 1
    assert "XX Token for Microsoft Graph" in result.stdout
    assert "AADSTS7000215: Entra ID rejected the client secret" in result.stdout
    assert "workbench connections set-secret -- typo" in result.stdout
    assert "== FAILED" in result.stdout


@pytest.mark.kerberos
def test_grant_only_with_the_flag(lab_home: Any) -> None:
    _, home = lab_home
    refused = workbench(home, "verify", "onprem", "--json")
    assert refused.returncode == 1
    impersonation = next(e for e in lines(refused) if e["event"] == "check" and e["check"] == "onprem.impersonation")
    assert impersonation["problem"]["code"] == "ErrorImpersonateUserDenied"
    assert impersonation["problem"]["action"]["kind"] == "grant-impersonation"
    granted = workbench(home, "verify", "onprem", "--json", "--grant-impersonation")
    assert granted.returncode == 0, granted.stdout[-2000:]
    trace = [e["message"] for e in lines(granted) if e["event"] == "progress" and e["check"] == "onprem.locate"]
    assert trace and trace[0].startswith("DNS A fabrikam.test")


def test_only_and_usage_errors(lab_home: Any) -> None:
    _, home = lab_home
    only = workbench(home, "verify", "cloud", "--json", "--only", "m365.tenant")
    assert only.returncode == 0
    ran = {e["check"] for e in lines(only) if e["event"] == "check"}
    assert ran == {"m365.credential", "m365.discovery", "m365.token.graph", "m365.tenant"}
    for args in (
        ["verify"],
        ["verify", "nope"],
        ["verify", "cloud", "--only", "onprem.tls"],
        ["verify", "cloud", "--all"],
    ):
        result = workbench(home, *args)
        assert result.returncode == 2, (args, result.stderr)


@pytest.mark.kerberos
def test_all_verifies_concurrently_and_reports_each(lab_home: Any) -> None:
    _, home = lab_home
    result = workbench(home, "verify", "--all", "--json", "--grant-impersonation")
    assert result.returncode == 1  # "typo" fails
    summaries = {e["connection"]: e["status"] for e in lines(result) if e["event"] == "summary"}
    assert summaries == {"cloud": "passed", "onprem": "passed", "typo": "failed"}


def test_python_api_report(healthy_lab: Lab) -> None:
    from tests.engine.conftest import m365_connection, target
    from workbench.verification import verify_sync

    state = healthy_lab.state
    connection = m365_connection(state)
    report = verify_sync(connection, target=target(state, connection))
    assert not report.failed and len(report.results) == 9
    html = report._repr_html_()
    assert html.count("<tr>") == 10 and "Tenant name and domains" in html


def test_a_repeated_problem_is_explained_once(lab_home: Any) -> None:
    _, home = lab_home
    out = workbench(home, "verify", "typo").stdout
    assert out.count("AADSTS7000215: Entra ID rejected the client secret") == 1
    assert "AADSTS7000215: same cause and fixes as above" in out
