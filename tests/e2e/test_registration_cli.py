"""`workbench connections add m365 --automatic`, `register` and `remove --delete-app` as separate processes
against an in-process lab whose device codes are approved by its seeded admin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import run_workbench
from workbench.lab import Lab


def automatic(lab: Lab, *more: str) -> list[str]:
    m = lab.state.m365
    return [
        "connections",
        "add",
        "m365",
        "--automatic",
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
        lab.state.ca_bundle,
        *more,
    ]


def ours(lab: Lab) -> list[Any]:
    assert lab.world is not None
    return [a for a in lab.world.tenant.applications.values() if a.unique_name]


@pytest.fixture
def lab() -> Any:
    with Lab(mailboxes=3, auto_approve=0.1) as running:
        yield running


def test_add_register_rotate_and_remove_with_the_app(lab: Lab, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_workbench(home, *automatic(lab, "--name", "Contoso (auto)", "--yes"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "enter the code" in result.stderr and lab.state.m365.authority_host in result.stderr
    assert "Plan (nothing has been written yet):" in result.stdout
    assert "full_access_as_app" in result.stdout and "create 'Exchange Workbench'" in result.stdout
    assert "ok Application in Entra ID" in result.stdout and "== PASSED" in result.stdout
    [app] = ours(lab)
    shown = json.loads(run_workbench(home, "connections", "show", "Contoso (auto)", "--json").stdout)
    assert shown["settings"]["registration"] == "automatic" and shown["settings"]["client_id"] == app.app_id
    assert shown["last_verification"]["status"] == "passed"
    first_key = app.key_credentials[0].sha1.hex().upper()

    # Registering again repairs without a duplicate; rotating replaces the key once the new one verified.
    again = run_workbench(home, "connections", "register", "Contoso (auto)", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "update 'Exchange Workbench'" in again.stdout and "already granted" in again.stdout
    rotated = run_workbench(home, "connections", "register", "Contoso (auto)", "--rotate-certificate", "--yes")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "ok Old certificate removed" in rotated.stdout
    [app] = ours(lab)
    [key] = app.key_credentials
    assert key.sha1.hex().upper() != first_key
    shown = json.loads(run_workbench(home, "connections", "show", "Contoso (auto)", "--json").stdout)
    assert shown["settings"]["credential"]["thumbprint"] == key.sha1.hex().upper()

    removed = run_workbench(home, "connections", "remove", "Contoso (auto)", "--delete-app")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"and its app {app.app_id}" in removed.stdout
    assert ours(lab) == []
    assert json.loads(run_workbench(home, "connections", "list", "--json").stdout) == []


def test_plan_needs_consent_without_a_terminal(lab: Lab, tmp_path: Path) -> None:
    result = run_workbench(tmp_path / "home", *automatic(lab))
    assert result.returncode == 2
    assert "--yes" in result.stderr and "nothing was created" in result.stderr
    assert ours(lab) == []


def test_not_admin_exits_1_and_names_the_roles(tmp_path: Path) -> None:
    with Lab("not-admin", mailboxes=2, auto_approve=0.1) as lab:
        result = run_workbench(tmp_path / "home", *automatic(lab, "--yes"))
        assert result.returncode == 1
        assert "holds no directory role" in result.stderr and "Nothing was created" in result.stderr
        assert ours(lab) == []


def test_bad_input_exits_2(lab: Lab, tmp_path: Path) -> None:
    home = tmp_path / "home"
    mixed = run_workbench(home, *automatic(lab, "--client-id", "8d9f3a43-0000-4000-8000-000000000001"))
    assert mixed.returncode == 2 and "drop --client-id" in mixed.stderr
    bad = run_workbench(home, *automatic(lab, "--public-client-id", "not-a-guid"))
    assert bad.returncode == 2 and "sign-in client" in bad.stderr
    manual = run_workbench(home, "connections", "add", "m365", "--app-account", "a@contoso.com")
    assert manual.returncode == 2 and "--client-id" in manual.stderr and "--automatic" in manual.stderr


def test_a_taken_name_is_refused_before_the_sign_in(lab: Lab, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_workbench(home, *automatic(lab, "--yes")).returncode == 0
    again = run_workbench(home, *automatic(lab, "--yes"))  # the same default name: the account's domain
    assert again.returncode == 2 and "exists already" in again.stderr and "enter the code" not in again.stderr
    assert len(ours(lab)) == 1
