"""The whole on-premises path from the CLI against Exchange's default authentication: by FQDN with Kerberos (a real
KDC, the realm from the UPN, the KDC from DNS), by IP address with Basic where the admin enabled it, NTLM refused
where Windows authentication is off, and the Kerberos settings shown by `connections show`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import run_workbench
from workbench.lab import Lab


def add(home: Path, lab: Lab, name: str, server: str, *options: str) -> None:
    s, o = lab.state, lab.state.onprem
    result = run_workbench(
        home,
        "connections",
        "add",
        "onprem",
        "--name",
        name,
        "--server",
        server,
        "--admin-upn",
        o.admin_upn,
        "--ca-bundle",
        s.ca_bundle,
        *options,
        "--password-stdin",
        stdin=o.admin_password,
    )
    assert result.returncode == 0, result.stderr


def add_by_name(home: Path, lab: Lab, name: str, *options: str) -> None:
    """By the server's own name, through the lab's DNS (what Kerberos needs)."""
    add(home, lab, name, lab.state.onprem.server_fqdn, "--dns-server", lab.state.onprem.dns, *options)


def checks(home: Path, name: str) -> tuple[int, dict[str, Any]]:
    result = run_workbench(home, "verify", name, "--json", "--grant-impersonation")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    return result.returncode, {e["check"]: e for e in events if e["event"] == "check"}


@pytest.mark.kerberos
def test_by_fqdn_with_kerberos_end_to_end(tmp_path: Path, make_lab: Any) -> None:
    lab = make_lab()
    home = tmp_path / "home"
    add_by_name(home, lab, "by-name")
    shown = run_workbench(home, "connections", "show", "by-name")
    assert "PowerShell auth" in shown.stdout and "kerberos" in shown.stdout
    assert "FABRIKAM.TEST (from the UPN)" in shown.stdout and "(DNS SRV _kerberos._tcp)" in shown.stdout
    code, found = checks(home, "by-name")
    assert code == 0, {k: v.get("detail") for k, v in found.items() if v["status"] != "passed"}
    assert "Kerberos as administrator@FABRIKAM.TEST" in found["onprem.powershell"]["detail"]


@pytest.mark.kerberos
def test_a_wrong_kdc_is_named_not_taken_for_a_wrong_password(tmp_path: Path, make_lab: Any) -> None:
    lab = make_lab()
    home = tmp_path / "home"
    add_by_name(home, lab, "dead-kdc", "--kdc", "127.0.0.1:9")
    code, found = checks(home, "dead-kdc")
    assert code == 1
    assert found["onprem.ews"]["status"] == "passed"  # the password is right: EWS takes it
    assert found["onprem.powershell"]["problem"]["code"] == "KERBEROS_KDC_UNREACHABLE"


def test_by_ip_with_basic_where_the_admin_enabled_it(tmp_path: Path, make_lab: Any) -> None:
    lab = make_lab("ps-basic-enabled")
    home = tmp_path / "home"
    add(home, lab, "by-ip", lab.state.onprem.server_ip)
    code, found = checks(home, "by-ip")
    assert code == 0, {k: v.get("detail") for k, v in found.items() if v["status"] != "passed"}
    assert "connected (Basic)" in found["onprem.powershell"]["detail"]


def test_ntlm_is_refused_where_windows_authentication_is_off(tmp_path: Path, make_lab: Any) -> None:
    lab = make_lab()
    home = tmp_path / "home"
    add_by_name(home, lab, "ntlm", "--powershell-auth", "ntlm")
    code, found = checks(home, "ntlm")
    assert code == 1
    assert found["onprem.auth"]["problem"]["code"] == "PS_NTLM_REFUSED"


def test_kerberos_options_are_validated_before_the_password_is_asked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_workbench(
        home,
        "connections",
        "add",
        "onprem",
        "--server",
        "127.0.0.1",
        "--admin-upn",
        "admin@contoso.com",
        "--realm",
        "CONTOSO.COM",
        "--password-stdin",
        stdin="",
    )
    assert result.returncode == 2
    assert "Kerberos" in result.stderr
