"""The Exchange Online plan against the lab: healthy connections pass; every scenario fails where it should."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.conftest import m365_connection, verify
from workbench.checks.events import Status
from workbench.lab import Lab
from workbench.model import M365Settings


@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_healthy_tenant_passes_everything(healthy_lab: Lab, credential: str) -> None:
    state = healthy_lab.state
    result = verify(state, m365_connection(state, credential))
    assert result.failures() == []
    assert {c: e.status for c, e in result.checks.items()} == dict.fromkeys(result.checks, Status.PASSED)
    expected = {
        "m365.credential",
        "m365.discovery",
        "m365.token.graph",
        "m365.token.ews",
        "m365.permissions",
        "m365.tenant",
        "m365.account",
        "m365.mailbox",
        "m365.ews",
    }
    assert set(result.checks) == expected | ({"m365.expiry"} if credential == "certificate" else set())
    assert "Contoso (lab): default domain contoso.test" in result.checks["m365.tenant"].outcome.detail
    assert "1 April 2027" in result.checks["m365.ews"].outcome.detail
    assert result.summary.status is Status.PASSED


SCENARIOS = [
    ("bad-secret", "secret", "m365.token.graph", "AADSTS7000215"),
    ("expired-secret", "secret", "m365.token.graph", "AADSTS7000222"),
    ("unknown-client", "secret", "m365.token.graph", "AADSTS700016"),
    ("unknown-tenant", "secret", "m365.discovery", "AADSTS90002"),
    ("cert-not-registered", "certificate", "m365.token.graph", "AADSTS700027"),
    ("expired-cert", "certificate", "m365.token.ews", "AADSTS700027"),
    ("no-consent", "secret", "m365.permissions", "NO_ADMIN_CONSENT"),
    ("conditional-access", "secret", "m365.token.graph", "AADSTS53003"),
    ("account-no-mailbox", "secret", "m365.mailbox", "MailboxNotEnabledForRESTAPI"),
    ("ews-disabled", "secret", "m365.ews", "EWS_DISABLED"),
]


@pytest.mark.parametrize(("scenario", "credential", "check", "code"), SCENARIOS)
def test_scenario_fails_at_the_right_check(
    make_lab: Callable[..., Lab], scenario: str, credential: str, check: str, code: str
) -> None:
    state = make_lab(scenario).state
    result = verify(state, m365_connection(state, credential))
    assert result.status(check) is Status.FAILED, result.failures()
    assert result.code(check) == code
    problem = result.checks[check].outcome.problem
    assert problem is not None and problem.causes and problem.fixes
    assert result.summary.status is Status.FAILED


def test_expired_certificate_says_so(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("expired-cert").state
    result = verify(state, m365_connection(state, "certificate"))
    assert "The key used is expired" in result.checks["m365.token.graph"].outcome.detail


def test_no_consent_reports_every_consequence(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("no-consent").state
    result = verify(state, m365_connection(state))
    assert dict(result.failures()) | {"m365.tenant": result.code("m365.tenant")} == {
        "m365.permissions": "NO_ADMIN_CONSENT",
        "m365.account": "Authorization_RequestDenied",
        "m365.ews": "EWS_NO_PERMISSION",
        "m365.tenant": "OPTIONAL_PERMISSIONS_MISSING",
    }


def test_ews_disabled_while_graph_works(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("ews-disabled").state
    result = verify(state, m365_connection(state))
    assert result.failures() == [("m365.ews", "EWS_DISABLED")]
    ews = result.checks["m365.ews"]
    assert "while Graph works" in ews.outcome.detail or "EWS answered 403" in ews.outcome.detail
    assert ews.outcome.problem is not None
    commands = " ".join(f.command or "" for f in ews.outcome.problem.fixes)
    assert "Set-OrganizationConfig -EwsEnabled $true" in commands and state.m365.client_id in commands


def test_throttling_is_retried_and_reported(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("graph-throttled").state
    result = verify(state, m365_connection(state))
    assert result.failures() == []
    throttled = [c for c in result.checks if result.code(c) == "TooManyRequests"]
    assert throttled and all(result.status(c) is Status.WARNING for c in throttled)
    assert any("retrying in 1 s" in p.message for p in result.progress())


def test_missing_secret(healthy_lab: Lab) -> None:
    from dataclasses import replace

    from tests.engine.conftest import target
    from workbench.verification import Verification

    state = healthy_lab.state
    connection = m365_connection(state)
    blank = replace(target(state, connection), secret=lambda ref: None)
    result = verify(state, connection, verification=Verification(blank))
    assert result.failures() == [("m365.credential", "SECRET_MISSING")]


def test_engine_reinstates_its_adapter_whoever_changed_it(healthy_lab: Lab) -> None:
    """exchangelib's adapter is a process-wide class attribute; another user of exchangelib may replace it."""
    from exchangelib.protocol import BaseProtocol
    from requests.adapters import HTTPAdapter

    state = healthy_lab.state
    original = BaseProtocol.HTTP_ADAPTER_CLS
    BaseProtocol.HTTP_ADAPTER_CLS = HTTPAdapter
    try:
        result = verify(state, m365_connection(state))
    finally:
        BaseProtocol.HTTP_ADAPTER_CLS = original
    assert result.status("m365.ews") is Status.PASSED


def test_a_vanished_ca_bundle_is_a_configuration_problem(healthy_lab: Lab, tmp_path: Path) -> None:
    import shutil
    from dataclasses import replace

    from tests.engine.conftest import onprem_connection

    state = healthy_lab.state
    bundle = tmp_path / "ca.pem"
    shutil.copy(state.ca_bundle, bundle)
    cloud = m365_connection(state)
    assert isinstance(cloud.settings, M365Settings)
    cloud = replace(cloud, settings=replace(cloud.settings, ca_bundle=str(bundle)))
    onprem = onprem_connection(state, "fqdn", ca_bundle=str(bundle))
    bundle.unlink()
    assert verify(state, cloud).failures() == [("m365.credential", "CA_BUNDLE_UNUSABLE")]
    assert verify(state, onprem).failures() == [("onprem.credential", "CA_BUNDLE_UNUSABLE")]
