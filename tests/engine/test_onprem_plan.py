"""The on-premises plan against the lab: autodiscover, FQDN and IP variants, every scenario, the grant flow,
cancel, re-run, and a server that never answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.engine.conftest import onprem_connection, target, verify
from workbench.checks.events import ConfirmationRequest, Finished, Progress, Status, Summary
from workbench.checks.problems import Action
from workbench.lab import Lab
from workbench.verification import Verification


async def yes(request: ConfirmationRequest) -> bool:
    return True


@pytest.mark.kerberos
@pytest.mark.parametrize("variant", ["autodiscover", "fqdn"])
def test_healthy_server_passes_with_kerberos(healthy_lab: Lab, variant: str) -> None:
    state = healthy_lab.state
    result = verify(state, onprem_connection(state, variant))
    assert result.failures() == []
    assert {c for c, e in result.checks.items() if e.status is Status.WARNING} == set()
    assert len(result.checks) == 11
    mailboxes = result.checks["onprem.mailboxes"].outcome.detail
    assert mailboxes.startswith(f"{state.onprem.mailbox_count + 4:,} mailboxes")
    assert "connected (Kerberos as administrator@FABRIKAM.TEST)" in result.checks["onprem.powershell"].outcome.detail


def test_by_ip_address_with_basic_enabled(make_lab: Callable[..., Lab]) -> None:
    """By IP there is no service principal: Basic over HTTPS, where the admin enabled it on the directory."""
    state = make_lab("ps-basic-enabled").state
    result = verify(state, onprem_connection(state, "ip"))
    assert result.failures() == []
    assert {c for c, e in result.checks.items() if e.status is Status.WARNING} == {"onprem.locate"}
    assert result.code("onprem.locate") == "IP_ADDRESS_SERVER"
    assert "connected (Basic)" in result.checks["onprem.powershell"].outcome.detail


@pytest.mark.parametrize(
    ("scenario", "auth", "failure"),
    [
        ("", "ntlm", ("onprem.auth", "PS_NTLM_REFUSED")),  # Exchange's default directory: Kerberos only
        ("ps-windows-auth", "ntlm", None),
        ("", "basic", ("onprem.auth", "PS_BASIC_AUTH_DISABLED")),
        ("ps-basic-enabled", "basic", None),
    ],
)
def test_the_method_the_admin_chose_against_what_the_directory_takes(
    make_lab: Callable[..., Lab], scenario: str, auth: str, failure: tuple[str, str] | None
) -> None:
    state = make_lab(scenario).state
    result = verify(state, onprem_connection(state, "fqdn", powershell_auth=auth))
    if failure is None:
        assert result.failures() == []
        assert f"connected ({auth.upper() if auth == 'ntlm' else 'Basic'})" in (
            result.checks["onprem.powershell"].outcome.detail
        )
    else:
        assert result.failures()[0] == failure


@pytest.mark.kerberos
@pytest.mark.parametrize(
    ("scenario", "overrides", "code"),
    [
        ("bad-password", {}, "KERBEROS_PREAUTH_FAILED"),
        ("", {"kerberos_kdc": "127.0.0.1:9"}, "KERBEROS_KDC_UNREACHABLE"),
        ("", {"kerberos_realm": "CORP.FABRIKAM.TEST"}, "KERBEROS_KDC_NOT_FOUND"),
    ],
)
def test_kerberos_failures_are_named(
    make_lab: Callable[..., Lab], scenario: str, overrides: dict[str, str], code: str
) -> None:
    state = make_lab(scenario).state
    result = verify(state, onprem_connection(state, "fqdn", **overrides))
    assert result.status("onprem.powershell") is Status.FAILED
    assert result.code("onprem.powershell") == code
    problem = result.checks["onprem.powershell"].outcome.problem
    assert problem is not None and "{" not in problem.title
    assert state.onprem.admin_password not in repr(result.events)


@pytest.mark.kerberos
def test_an_alias_has_no_service_principal(healthy_lab: Lab) -> None:
    """mail.fabrikam.test reaches the same server (DNS, certificate), but Kerberos names exch01 only."""
    state = healthy_lab.state
    port = state.onprem.server_fqdn.rsplit(":", 1)[1]
    result = verify(state, onprem_connection(state, "fqdn", server=f"mail.fabrikam.test:{port}"))
    assert result.status("onprem.ews") is Status.PASSED
    assert result.code("onprem.powershell") == "KERBEROS_NO_SPN"
    problem = result.checks["onprem.powershell"].outcome.problem
    assert problem is not None and "HTTP/mail.fabrikam.test@FABRIKAM.TEST" in problem.title


def test_autodiscover_trace_is_streamed(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    result = verify(state, onprem_connection(state))
    trace = [p.message for p in result.progress() if p.check == "onprem.locate"]
    assert trace[0] == "DNS A fabrikam.test -> 127.0.0.1"
    assert any(m.startswith("DNS SRV _autodiscover._tcp.fabrikam.test -> exch01.fabrikam.test:") for m in trace)
    assert trace[-1].endswith("/EWS/Exchange.asmx") and "ExternalEwsUrl" in trace[-1]


@pytest.mark.kerberos
def test_enumeration_streams_progress_counts(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    result = verify(state, onprem_connection(state, "fqdn"))
    counts = [p.done for p in result.progress() if p.check == "onprem.mailboxes" and p.done is not None]
    assert counts and counts == sorted(counts) and counts[-1] == state.onprem.mailbox_count + 4


SCENARIOS = [
    ("untrusted-cert", "fqdn", "onprem.tls", "TLS_UNTRUSTED"),
    ("name-mismatch", "fqdn", "onprem.tls", "TLS_NAME_MISMATCH"),
    ("bad-password", "fqdn", "onprem.ews", "AUTH_FAILED"),
    ("negotiate-only", "fqdn", "onprem.auth", "EWS_NEGOTIATE_ONLY"),
    ("no-impersonation", "fqdn", "onprem.impersonation", "ErrorImpersonateUserDenied"),
    ("healthy", "ip", "onprem.auth", "PS_BASIC_AUTH_DISABLED"),  # Exchange's default: Basic off on /PowerShell
    ("autodiscover-broken", "autodiscover", "onprem.locate", "AUTODISCOVER_FAILED"),
    ("admin-no-mailbox", "fqdn", "onprem.ews", "ErrorMissingEmailAddress"),
    ("server-down", "fqdn", "onprem.tls", "TIMEOUT"),
]


@pytest.mark.parametrize(("scenario", "variant", "check", "code"), SCENARIOS)
def test_scenario_fails_at_the_right_check(
    make_lab: Callable[..., Lab], scenario: str, variant: str, check: str, code: str
) -> None:
    state = make_lab(scenario).state
    result = verify(state, onprem_connection(state, variant), timeout=2)
    assert result.status(check) is Status.FAILED, result.failures()
    assert result.code(check) == code
    assert result.summary.status is Status.FAILED


@pytest.mark.parametrize("scenario", ["autodiscover-internal-only", "autodiscover-srv-only"])
@pytest.mark.kerberos
def test_autodiscover_variants_still_find_the_server(make_lab: Callable[..., Lab], scenario: str) -> None:
    state = make_lab(scenario).state
    result = verify(state, onprem_connection(state))
    assert result.failures() == []
    if scenario == "autodiscover-internal-only":
        assert result.code("onprem.locate") == "AUTODISCOVER_INTERNAL_ONLY"
    else:
        trace = " ".join(p.message for p in result.progress())
        assert "DNS A fabrikam.test: no such name (NXDOMAIN)" in trace


@pytest.mark.kerberos
def test_untrusted_certificate_offers_a_pin_and_the_pin_works(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("untrusted-cert").state
    failed = verify(state, onprem_connection(state, "fqdn"))
    tls = failed.checks["onprem.tls"].outcome
    assert (
        tls.problem is not None
        and tls.problem.action is not None
        and tls.problem.action.kind is Action.TRUST_CERTIFICATE
    )
    assert state.onprem.certificate_sha256 in tls.detail
    assert (
        tls.problem.action is not None and tls.problem.action.params["fingerprint"] == state.onprem.certificate_sha256
    )
    assert any(state.onprem.certificate_sha256 in f.text for f in tls.problem.fixes)
    pinned = onprem_connection(state, "fqdn", ca_bundle="", pin_sha256=state.onprem.certificate_sha256)
    result = verify(state, pinned)
    assert result.failures() == [], result.failures()
    assert "pinned fingerprint" in result.checks["onprem.tls"].outcome.detail


@pytest.mark.kerberos
def test_grant_only_after_confirmation_and_never_twice(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("no-impersonation")
    state = lab.state
    refused = verify(state, onprem_connection(state, "fqdn"))
    outcome = refused.checks["onprem.impersonation"].outcome
    assert (
        outcome.problem is not None
        and outcome.problem.action is not None
        and outcome.problem.action.kind is Action.GRANT_IMPERSONATION
    )
    assert refused.status("onprem.ews.impersonation") is Status.SKIPPED
    assert lab.org is not None
    before = len(lab.org.assignments)
    granted = verify(state, onprem_connection(state, "fqdn"), confirm=yes)
    assert granted.failures() == []
    assert "granted ApplicationImpersonation" in granted.checks["onprem.impersonation"].outcome.detail
    assert granted.status("onprem.ews.impersonation") is Status.PASSED
    again = verify(state, onprem_connection(state, "fqdn"), confirm=yes)
    assert "holds ApplicationImpersonation" in again.checks["onprem.impersonation"].outcome.detail
    assert len(lab.org.assignments) == before + 1


@pytest.mark.kerberos
def test_grant_denied(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("grant-denied").state
    result = verify(state, onprem_connection(state, "fqdn"), confirm=yes)
    assert result.failures() == [("onprem.impersonation", "IMPERSONATION_GRANT_DENIED")]


@pytest.mark.kerberos
def test_rerun_after_fixing_on_the_server(make_lab: Callable[..., Lab]) -> None:
    """The admin grants the role by hand, then re-runs just that check: it and its dependants run again."""
    lab = make_lab("no-impersonation")
    state = lab.state

    async def go() -> tuple[list[str], Status]:
        verification = Verification(target(state, onprem_connection(state, "fqdn")))
        try:
            [e async for e in verification.events()]
            assert lab.org is not None
            lab.org.add_assignment("Granted-by-hand", "ApplicationImpersonation", state.onprem.admin_upn)
            again = [e async for e in verification.rerun("onprem.impersonation")]
        finally:
            verification.close()
        summary = again[-1]
        assert isinstance(summary, Summary)
        return [e.check for e in again if isinstance(e, Finished)], summary.status

    rerun, status = asyncio.run(go())
    assert sorted(rerun) == ["onprem.ews.impersonation", "onprem.impersonation"]
    assert status is Status.PASSED


@pytest.mark.kerberos
def test_cancel_during_enumeration(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("ps-slow", mailboxes=3000).state

    async def go() -> dict[str, Status]:
        verification = Verification(target(state, onprem_connection(state, "fqdn")))
        statuses: dict[str, Status] = {}
        try:
            async for event in verification.events():
                if isinstance(event, Progress) and event.check == "onprem.mailboxes" and event.done:
                    verification.cancel()
                if isinstance(event, Finished):
                    statuses[event.check] = event.status
        finally:
            verification.close()
        return statuses

    statuses = asyncio.run(go())
    assert statuses["onprem.mailboxes"] is Status.CANCELLED
    assert all(s in (Status.PASSED, Status.WARNING, Status.CANCELLED) for s in statuses.values())
