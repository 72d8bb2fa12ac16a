"""The core API the console is built on: structured events, browse, form validation, one-line descriptions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.engine.conftest import onprem_connection, target, verify
from tests.factories import PFX_PASSWORD, T0, m365, onprem
from workbench import certificates, describe
from workbench.browse import BrowseFailed, browse, browse_sync
from workbench.checks import problems
from workbench.checks.events import Planned, Progress, StepStatus
from workbench.checks.problems import Action, FixKind
from workbench.drafts import M365Draft, OnPremDraft
from workbench.lab import Lab
from workbench.model import Secret, VerificationStatus, VerificationSummary


@pytest.mark.kerberos
def test_the_plan_comes_first_and_autodiscover_attempts_are_sub_steps(make_lab: Callable[..., Lab]) -> None:
    state = make_lab().state
    result = verify(state, onprem_connection(state))  # autodiscover through the lab's DNS
    planned = result.events[0]
    assert isinstance(planned, Planned)
    assert [c.id for c in planned.checks][:2] == ["onprem.credential", "onprem.locate"]
    assert {c.id: c.needs for c in planned.checks}["onprem.ews.impersonation"] == (
        "onprem.impersonation",
        "onprem.ews",
    )
    steps = [e.step for e in result.progress() if e.check == "onprem.locate" and e.step is not None]
    assert [s.index for s in steps] == list(range(1, len(steps) + 1))
    assert steps[-1].status is StepStatus.OK and "EwsUrl" in steps[-1].label
    counts = [e for e in result.progress() if e.check == "onprem.mailboxes" and e.done is not None]
    assert counts and all(isinstance(e.done, int) for e in counts)


def test_autodiscover_with_a_wrong_password_is_an_authentication_failure(make_lab: Callable[..., Lab]) -> None:
    state = make_lab().state
    connection = onprem_connection(state)

    def wrong(ref: str) -> Secret | None:
        return Secret("not-the-password")

    bad = replace(target(state, connection), secret=wrong)

    async def go() -> list[object]:
        from workbench.verification import Verification

        v = Verification(bad)
        try:
            return [e async for e in v.events()]
        finally:
            v.close()

    from workbench.checks.events import Finished

    events = asyncio.run(go())
    locate = next(e for e in events if isinstance(e, Finished) and e.check == "onprem.locate")
    assert locate.outcome.problem is not None and locate.outcome.problem.code == "AUTH_FAILED"


@pytest.mark.kerberos
def test_browse_lists_organization_management_and_accepted_domains(make_lab: Callable[..., Lab]) -> None:
    state = make_lab().state
    directory = browse_sync(target(state, onprem_connection(state, "fqdn")))
    assert [a.address for a in directory.admins] == [state.onprem.admin_upn, "exadmin@fabrikam.test"]
    assert all(a.has_mailbox for a in directory.admins)
    assert directory.accepted_domains == ("fabrikam.test", "fabrikam-mail.test")


def test_browse_reports_the_check_that_failed(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("untrusted-cert").state
    seen: list[object] = []
    with pytest.raises(BrowseFailed) as failed:
        asyncio.run(browse(target(state, onprem_connection(state, "fqdn")), seen.append))
    assert failed.value.failure.check == "onprem.tls"
    assert failed.value.failure.outcome.problem is not None
    assert failed.value.failure.outcome.problem.code == "TLS_UNTRUSTED"
    assert any(isinstance(e, Progress | Planned) for e in seen)


def test_draft_errors_per_field_without_building() -> None:
    draft = M365Draft(tenant_id="not-a-guid", client_id="", app_account="backup@contoso.com")
    assert {e.field for e in draft.errors()} == {"tenant_id", "client_id"}
    assert draft.error_for("app_account") is None
    assert "GUID" in (draft.error_for("tenant_id") or "")
    draft.tenant_id = "8f2c1c52-4a5e-4d8e-9b0e-2f6c4d1a7e10"
    draft.client_id = "3b9d7e21-6c4f-4b1a-8e2d-5a7f9c0b1d23"
    assert draft.errors() == []
    across = OnPremDraft(
        admin_upn="admin@contoso.com", discovery="manual", server="127.0.0.1", powershell_auth="negotiate"
    )
    assert across.error_for("powershell_auth") is not None  # a rule across two fields
    ip = OnPremDraft(admin_upn="admin@contoso.com", discovery="manual", server="127.0.0.1")
    assert ip.errors() == [] and "IP address" in ip.warnings()[0]
    assert OnPremDraft(admin_upn="admin@contoso.com").warnings() == []


def test_certificate_rules_live_in_the_core(cert_files: dict[str, Path]) -> None:
    loaded = certificates.load_file(cert_files["pfx"], Secret(PFX_PASSWORD), T0)
    info = loaded.info
    assert certificates.usable_for_connection(info.thumbprint, info, T0) is None
    assert "personal certificate store" in (certificates.usable_for_connection(info.thumbprint, None, T0) or "")
    assert "expired" in (certificates.usable_for_connection(info.thumbprint, info, info.not_after) or "")
    weak = replace(info, key_size=1024)
    assert "2048" in (certificates.usable_for_connection(info.thumbprint, weak, T0) or "")


def test_descriptions_for_tables_and_cards() -> None:
    connection = replace(
        onprem(1),
        last_verification=VerificationSummary(
            at=T0, status=VerificationStatus.FAILED, passed=3, warnings=0, failed=1, skipped=2, duration_ms=900
        ),
    )
    assert describe.target_of(connection) == "exch1.contoso.com"
    assert describe.location_of(m365(1)) == "Microsoft 365"
    assert describe.authentication_of(m365(1)) == "client secret"
    assert describe.credential_of(m365(1)) == "client secret (NOT SET)"
    assert describe.status_of(connection, T0 + timedelta(hours=3)) == "failed 3 h ago"
    assert describe.status_of(m365(1)) == "never verified"


def test_fixes_are_typed_and_actions_carry_their_parameters() -> None:
    catalogue = [v for v in vars(problems).values() if isinstance(v, problems.Problem)]
    assert len(catalogue) > 40
    for problem in catalogue:
        for fix in problem.fixes:
            assert "workbench " not in (fix.command or "") and "--" not in fix.text, (problem.code, fix)
            if fix.kind is FixKind.WORKBENCH:
                assert fix.action is not None and fix.command is None
            elif fix.kind is not FixKind.ADVICE:
                assert fix.command
    tls = problems.TLS_UNTRUSTED.fill(fingerprint="AB" * 32, host="exch01")
    assert tls.action is not None and tls.action.kind is Action.TRUST_CERTIFICATE
    assert dict(tls.action.params) == {"fingerprint": "AB" * 32, "host": "exch01"}
    throttled = problems.TooManyRequests.fill(retry_after="7")
    assert throttled.action is not None and dict(throttled.action.params) == {"seconds": "7"}
    assert problems.TooManyRequests.fill().action is not None
    unknown = problems.TooManyRequests.fill().action
    assert unknown is not None and dict(unknown.params) == {}  # unknown: not a made-up value
    grant = problems.ErrorImpersonateUserDenied.fill(account="admin@contoso.com", alias="admin", server="EXCH01")
    assert grant.action is not None and grant.action.params["command"].startswith("New-ManagementRoleAssignment")
