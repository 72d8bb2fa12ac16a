"""`workbench verify --allow-autodiscover-redirect HOST`: autodiscover's HTTP redirect to a host outside the admin's
domain is followed only when that host is named on the command line; otherwise the run says where the redirect
went and how to allow it, and not one request — the password least of all — reaches the host."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.e2e.conftest import add_lab_connections, run_workbench
from workbench.lab import Lab
from workbench.lab.autodiscover import FOREIGN_HOST

workbench = run_workbench


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Lab("autodiscover-redirect-foreign", mailboxes=3, seed=7) as lab:
        home = tmp_path_factory.mktemp("redirect") / "home"
        add_lab_connections(home, lab)
        yield lab, home


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def foreign_hits(lab: Lab) -> list[Any]:
    return [h for h in lab.server("exchange").hits if h.host == FOREIGN_HOST]


def test_without_the_option_the_redirect_is_shown_and_not_followed(lab_home: Any) -> None:
    lab, home = lab_home
    result = workbench(home, "verify", "onprem", "--json", "--only", "onprem.locate")
    assert result.returncode == 1, result.stderr
    events = lines(result)
    asked = [e for e in events if e["event"] == "confirmation"]
    assert [(e["action"], e["server"]) for e in asked] == [("allow-autodiscover-redirect", FOREIGN_HOST)]
    assert [e["accepted"] for e in events if e["event"] == "confirmed"] == [False]
    locate = next(e for e in events if e["event"] == "check" and e["check"] == "onprem.locate")
    assert locate["status"] == "failed" and FOREIGN_HOST in locate["detail"]
    problem = locate["problem"]
    assert problem["code"] == "AUTODISCOVER_REDIRECT_NOT_ALLOWED" and FOREIGN_HOST in problem["title"]
    assert problem["action"] == {
        "kind": "allow-autodiscover-redirect",
        "host": FOREIGN_HOST,
        "location": problem["action"]["location"],
        "url": problem["action"]["url"],
        "how": f"http://autodiscover.fabrikam.test redirected to {problem['action']['location']}",
        "risk": "the redirect came over plain HTTP, unauthenticated: anyone on the path could have sent it",
    }
    commands = [f["command"] for f in problem["fixes"] if f["kind"] == "workbench"]
    assert commands == [f"workbench verify --allow-autodiscover-redirect {FOREIGN_HOST} -- onprem"]
    assert foreign_hits(lab) == []  # the canary: nothing reached the hosting provider


def test_human_output_says_how_to_allow_it(lab_home: Any) -> None:
    lab, home = lab_home
    result = workbench(home, "verify", "onprem", "--allow-autodiscover-redirect", "other.fabrikam-hosting.test")
    assert result.returncode == 1
    assert f"no: add --allow-autodiscover-redirect {FOREIGN_HOST} to follow it" in result.stdout
    assert "AUTODISCOVER_REDIRECT_NOT_ALLOWED" in result.stdout
    assert foreign_hits(lab) == []  # allowing another host allows nothing here


@pytest.mark.kerberos
def test_with_the_option_the_whole_verification_passes(lab_home: Any) -> None:
    lab, home = lab_home
    result = workbench(home, "verify", "onprem", "--allow-autodiscover-redirect", FOREIGN_HOST.upper())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"yes (--allow-autodiscover-redirect {FOREIGN_HOST})" in result.stdout
    assert {h.path for h in foreign_hits(lab)} == {"/autodiscover/autodiscover.svc"}


@pytest.mark.parametrize("value", [f"https://{FOREIGN_HOST}/", "127.0.0.1", "bad host"])
def test_the_option_takes_a_host_name_only(lab_home: Any, value: str) -> None:
    _, home = lab_home
    result = workbench(home, "verify", "onprem", "--allow-autodiscover-redirect", value)
    assert result.returncode == 2
    assert "--allow-autodiscover-redirect" in result.stderr
