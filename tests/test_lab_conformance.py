"""docs/lab-conformance.md has a row for every scenario and every HTTP endpoint the lab serves, each naming a
source and a test that exists: a lab rule without its source is how the lab came to accept what Microsoft refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.lab import SCENARIOS, Lab
from workbench.lab.autodiscover import PortUnavailable

LEDGER = Path(__file__).resolve().parents[1] / "docs" / "lab-conformance.md"
ROOT = LEDGER.parents[1]
_ROW = re.compile(r"^\| `(?P<key>[^`]+)` \|(?P<rest>.*)\|\s*$")
_PLACEHOLDER = re.compile(r"\{\w+\}")
_SAMPLE = "00000000-0000-0000-0000-000000000000"  # fits every placeholder pattern the routers use


def rows() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in LEDGER.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            found[match["key"]] = [cell.strip() for cell in match["rest"].split("|")]
    return found


def test_every_scenario_has_a_row() -> None:
    ledger = rows()
    missing = sorted(name for name in SCENARIOS if name not in ledger)
    assert missing == [], f"scenarios without a row in {LEDGER.name}: {missing}"


@pytest.mark.parametrize("scenario", ["", "autodiscover-redirect"])  # the redirect site runs only in its scenarios
def test_every_endpoint_of_a_running_lab_has_a_row(scenario: str) -> None:
    documented = [key.split(" ", 1) for key in rows() if re.match(r"^(GET|POST|PATCH|DELETE|PUT) /", key)]
    missing = []
    lab = Lab(scenario, mailboxes=1)
    try:
        lab.start()
    except PortUnavailable as error:  # port 80 for the redirect site needs root or ip_unprivileged_port_start
        pytest.skip(f"the lab cannot start {scenario} here: {error}")
    try:
        for server in lab.servers:
            for method, pattern in server.router.routes():
                if not any(method == m and pattern.match(_PLACEHOLDER.sub(_SAMPLE, path)) for m, path in documented):
                    missing.append(f"{server.name}: {method} {pattern.pattern}")
    finally:
        lab.stop()
    assert missing == [], f"endpoints without a row in {LEDGER.name}: {missing}"


def test_every_row_names_a_source_and_a_test_that_exists() -> None:
    for key, cells in rows().items():
        behaviour, source, held = cells[-3:]
        assert behaviour and source, key
        named = re.findall(r"(tests/[\w/]+\.py)?::(\w+)", held)
        assert named and named[0][0], f"{key}: no test named in {held!r}"
        path = ""
        for given, test in named:  # "::name" after a full name is in the same file
            path = given or path
            text = (ROOT / path).read_text(encoding="utf-8")
            assert re.search(rf"def {test}\b", text), f"{key}: {path}::{test} does not exist"
