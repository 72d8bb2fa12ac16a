"""Commands printed for copying are quoted for the shell they target: pasting them with hostile names runs the
intended program and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from workbench import quoting
from workbench.checks import problems
from workbench.checks.fix_commands import workbench_command
from workbench.checks.problems import Action, FixKind

HOSTILE = [
    "x; touch PWNED #",
    "$(touch PWNED)",
    "`touch PWNED`",
    "a'b\"c",
    "new\nline; touch PWNED",
    "-rf --all",
    "o'brien@contoso.com",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_printed_workbench_commands_run_only_workbench(tmp_path: Path, name: str) -> None:
    stub = tmp_path / "bin" / "workbench"
    stub.parent.mkdir()
    record = tmp_path / "argv.jsonl"
    stub.write_text(f"#!/bin/sh\npython3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' \"$@\" >> {record}\n")
    stub.chmod(0o755)
    env = {"PATH": f"{stub.parent}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    problem = problems.TLS_UNTRUSTED.fill(fingerprint="AB" * 32, host="exch01")
    for action in Action:
        command = workbench_command(action, name, problem)
        subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, check=False, timeout=30)
    assert not (tmp_path / "PWNED").exists()
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert calls and all(call[0] in {"verify", "connections", "certs"} for call in calls)
    named = [call for call in calls if name in call]
    assert len(named) >= 4  # set-secret, verify (three ways), remove: the whole name as one argument


def _separators_outside_strings(command: str) -> int:
    """Statement separators (; | newline) PowerShell would see outside string literals."""
    count, state, i = 0, "", 0
    while i < len(command):
        ch = command[i]
        if state == "":
            if ch in "'\u2018\u2019\u201a\u201b":
                state = "'"
            elif ch in '"\u201c\u201d\u201e':
                state = '"'
            elif ch == "`":
                i += 1
            elif ch in ";|\n":
                count += 1
        elif state == "'":
            if ch in "'\u2018\u2019\u201a\u201b":
                if i + 1 < len(command) and command[i + 1] in "'\u2018\u2019\u201a\u201b":
                    i += 1
                else:
                    state = ""
        elif ch == "`":
            i += 1
        elif ch in '"\u201c\u201d\u201e':
            state = ""
        i += 1
    assert state == "", f"unterminated string in {command!r}"
    return count


def test_catalogue_cmdlets_keep_their_shape_whatever_the_values() -> None:
    safe = dict.fromkeys(("account", "alias", "host", "server", "domain", "app_id", "ews_url", "port", "dns"), "value")
    catalogue = [v for v in vars(problems).values() if isinstance(v, problems.Problem)]
    checked = 0
    for hostile in HOSTILE:
        values = dict.fromkeys(safe, hostile)
        for problem in catalogue:
            for plain, filled in zip(problem.fill(**safe).fixes, problem.fill(**values).fixes, strict=True):
                if plain.kind is FixKind.POWERSHELL and plain.command and filled.command:
                    assert _separators_outside_strings(filled.command) == _separators_outside_strings(plain.command), (
                        problem.code,
                        filled.command,
                    )
                    checked += 1
    assert checked > 50


def test_powershell_values_are_escaped_for_where_they_land() -> None:
    assert quoting.fill_powershell("Get-Mailbox {account}", {"account": "admin@contoso.com"}) == (
        "Get-Mailbox admin@contoso.com"
    )
    assert quoting.fill_powershell("Get-Mailbox {account}", {"account": "a'; Stop-Computer; '"}) == (
        "Get-Mailbox 'a''; Stop-Computer; '''"
    )
    assert quoting.fill_powershell("-Name 'Workbench-{alias}'", {"alias": "o'brien"}) == "-Name 'Workbench-o''brien'"
    assert quoting.fill_powershell('-Identity "{server}\\EWS"', {"server": 'a"$(x)`'}) == '-Identity "a`"`$(x)``\\EWS"'
    assert quoting.fill_powershell("Get-Mailbox {missing}", {}) == "Get-Mailbox {missing}"
    grant = problems.ErrorImpersonateUserDenied.fill(account="o'brien@contoso.com", alias="o'brien", server="EXCH01")
    assert grant.action is not None
    assert "-User 'o''brien@contoso.com'" in grant.action.params["command"]
