"""`workbench connections add m365 --automatic`, `register` and `remove --delete-app` as separate processes
against an in-process lab whose device codes are approved by its seeded admin at once (`auto_approve=0`: a later
approval costs a second a sign-in, MSAL's shortest wait between polls; tests/ui, and the engine tests that set
`auto_approve` to None, wait for the admin)."""

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
    with Lab(mailboxes=3, auto_approve=0) as running:
        yield running


def test_add_register_rotate_and_remove_with_the_app(lab: Lab, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_workbench(home, *automatic(lab, "--name", "Contoso (auto)", "--yes"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "enter the code" in result.stderr and lab.state.m365.authority_host in result.stderr
    assert f"(from {lab.state.m365.authority_host.partition('://')[2]})" in result.stderr  # the authority's host
    assert "warning" not in result.stderr  # the lab is its own authority: its address is not doubted
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
    assert "--yes" in result.stderr and "nothing was done" in result.stderr
    assert "enter the code" not in result.stderr  # asked before anyone signs in
    assert ours(lab) == []


def test_not_admin_exits_1_and_names_the_roles(tmp_path: Path) -> None:
    with Lab("not-admin", mailboxes=2, auto_approve=0) as lab:
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


def test_each_tenant_keeps_only_its_own_connections_keys(lab: Lab, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_workbench(home, *automatic(lab, "--name", "First", "--yes")).returncode == 0
    with Lab(mailboxes=2, auto_approve=0) as other:  # another tenant, the same installation
        second = run_workbench(home, *automatic(other, "--name", "Second", "--yes"))
        assert second.returncode == 0, second.stdout + second.stderr
        assert "Kept keys" not in second.stdout
        [app] = ours(other)
        assert len(app.key_credentials) == 1  # not the first tenant's connection's certificate
        removed = run_workbench(home, "connections", "remove", "Second", "--delete-app")
        assert removed.returncode == 0, removed.stdout + removed.stderr  # the first connection is another tenant's
        assert ours(other) == []
    assert len(ours(lab)) == 1


def test_network_trouble_and_bad_settings_are_explained_not_tracebacks(lab: Lab, tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = automatic(lab, "--yes")
    args[args.index("--authority-host") + 1] = "https://127.0.0.1:9"
    refused = run_workbench(home, *args)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "Cannot reach https://127.0.0.1:9" in refused.stderr
    assert run_workbench(home, *automatic(lab, "--name", "A", "--yes")).returncode == 0
    bad_client = run_workbench(
        home, "connections", "register", "A", "--yes", env={"WORKBENCH_PUBLIC_CLIENT_ID": "not-a-guid"}
    )
    assert bad_client.returncode == 2 and "WORKBENCH_PUBLIC_CLIENT_ID" in bad_client.stderr
    assert "Traceback" not in bad_client.stderr


def test_the_sign_in_client_is_kept_with_the_connection(tmp_path: Path) -> None:
    client = "3c9d8e7f-1a2b-4c5d-8e9f-0a1b2c3d4e5f"
    with Lab(mailboxes=2, auto_approve=0, organisation_client_id=client) as lab:
        home = tmp_path / "home"
        added = run_workbench(home, *automatic(lab, "--name", "A", "--public-client-id", client, "--yes"))
        assert added.returncode == 0, added.stdout + added.stderr
        shown = json.loads(run_workbench(home, "connections", "show", "A", "--json").stdout)
        assert shown["settings"]["app_registration"]["sign_in_client_id"] == client
        again = run_workbench(home, "connections", "register", "A", "--yes")  # no option: the kept client
        assert again.returncode == 0, again.stdout + again.stderr


def test_another_installations_app_is_neither_rewritten_nor_deleted(lab: Lab, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    assert run_workbench(first, *automatic(lab, "--name", "A", "--yes")).returncode == 0
    exported = tmp_path / "export.json"
    assert run_workbench(first, "connections", "export", "-o", str(exported)).returncode == 0
    assert run_workbench(second, "connections", "import", str(exported)).returncode == 0
    register = run_workbench(second, "connections", "register", "A", "--yes")
    assert register.returncode == 2 and "another workbench installation" in register.stderr
    delete = run_workbench(second, "connections", "remove", "A", "--delete-app")
    assert delete.returncode == 2 and "another workbench installation" in delete.stderr
    [app] = ours(lab)
    assert len(app.key_credentials) == 1
    assert run_workbench(first, "verify", "A").returncode == 0  # the first installation's connection still works


def test_ctrl_c_while_applying_reports_and_keeps_what_exists(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.e2e.conftest import guarded_env, interruptible

    with Lab("propagation-delay", mailboxes=2, auto_approve=0, propagation_seconds=100) as lab:
        home = tmp_path / "home"
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", *automatic(lab, "--yes")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=guarded_env(home),
            preexec_fn=interruptible,
        )
        assert process.stdout is not None
        seen = ""
        for line in process.stdout:  # the new app's sign-in is being retried: interrupt it
            seen += line
            if "Admin consent for the permissions" in line:
                break
        os.kill(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 1, seen + out + err
        assert "Interrupted" in err and "Invoke-MgGraphRequest -Method DELETE -Uri" in err
        listed = json.loads(run_workbench(home, "connections", "list", "--json").stdout)
        assert [c["settings"]["registration"] for c in listed] == ["automatic"]  # saved: register can finish it
        assert len(ours(lab)) == 1
