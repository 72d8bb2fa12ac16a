"""Running `workbench` the way an admin does: a separate process, with its own data directory, under the
network guard (loaded as sitecustomize), and nothing from the developer's WORKBENCH_* settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from workbench.lab import Lab

ROOT = Path(__file__).resolve().parents[2]


def guarded_env(home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "guard"), str(ROOT)])
    env["WORKBENCH_VAULT"] = "key-file"
    env["NO_COLOR"] = "1"
    if home is not None:
        env["WORKBENCH_HOME"] = str(home)
    return env


def interruptible() -> None:
    """For a child that a test interrupts with SIGINT: a shell's background job starts with SIGINT ignored, the
    child would inherit that, and Python installs no KeyboardInterrupt handler for an ignored signal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_workbench(
    home: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**guarded_env(home), **(env or {})},
        timeout=120,
        check=False,
    )


def add_onprem(
    home: Path, *options: str, server: str = "exch01.fabrikam.test", password: str = "pw"
) -> subprocess.CompletedProcess[str]:
    """`connections add onprem` by server name for admin@fabrikam.test, with more `options` (e.g. --name N)."""
    return run_workbench(
        home,
        "connections",
        "add",
        "onprem",
        "--server",
        server,
        "--admin-upn",
        "admin@fabrikam.test",
        *options,
        "--password-stdin",
        stdin=f"{password}\n",
    )


def add_lab_connections(home: Path, lab: Lab) -> None:
    s = lab.state
    m, o = s.m365, s.onprem
    common = [
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
    ]
    for name, secret in (("cloud", m.client_secret), ("typo", "not-the-secret")):
        result = run_workbench(
            home, "connections", "add", "m365", "--name", name, *common, "--client-secret-stdin", stdin=secret
        )
        assert result.returncode == 0, result.stderr
    added = run_workbench(
        home,
        "connections",
        "add",
        "onprem",
        "--name",
        "onprem",
        "--autodiscover",
        "--admin-upn",
        o.admin_upn,
        "--dns-server",
        o.dns,
        "--ca-bundle",
        s.ca_bundle,
        "--password-stdin",
        stdin=o.admin_password,
    )
    assert added.returncode == 0, added.stderr
