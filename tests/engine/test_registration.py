"""Automatic registration against the lab tenant, with MSAL and httpx unmodified: device-code sign-in
(auto-approved by the lab), role check, dry run, the app upserted by its unique name with a new 2048-bit
certificate, service principal, admin consent, propagation, then the Exchange Online checks on the new app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msal
import pytest
from cryptography import x509

from storage import Home
from tests.conftest import FROZEN_NOW
from workbench.certificates import thumbprint_of
from workbench.checks.events import Finished, Status, Summary
from workbench.drafts import Stamp
from workbench.lab import Lab
from workbench.model import Cloud, CustomEndpoints, M365Settings, Registration, Secret
from workbench.net import identity
from workbench.registration import Registrar, RegistrationRequest, RegistrationRun, SignInError, removal_instructions
from workbench.registration.cleanup import delete_application
from workbench.registration.signin import Admin, AdminSession, with_roles
from workbench.verification import Verification


def request_for(lab: Lab, **more: Any) -> RegistrationRequest:
    m = lab.state.m365
    return RegistrationRequest(
        app_account=m.app_account,
        cloud=Cloud.CUSTOM,
        custom_endpoints=CustomEndpoints(authority_host=m.authority_host, graph_url=m.graph_url, ews_url=m.ews_url),
        ca_bundle=lab.state.ca_bundle,
        **more,
    )


def signed_in(lab: Lab, home: Home, **more: Any) -> Registrar:
    registrar = Registrar(request_for(lab, **more), installation_id=home.installation_id(), timeout=10)
    code = registrar.start_sign_in()
    assert code.user_code and code.verification_uri.startswith(lab.state.m365.authority_host)
    registrar.wait_for_admin()
    return registrar


def register(
    lab: Lab, home: Home, registrar: Registrar, propagation_wait: float = 30
) -> tuple[RegistrationRun, list[Finished], Summary, Any]:
    changes = home.changeset()
    registrar.prepare()
    run = registrar.run(lambda loaded: changes.stage_certificate(loaded.info, loaded.key_pem), propagation_wait)
    verification = Verification(registrar.target(home, changes), registration=run)

    async def collect() -> tuple[list[Finished], Summary]:
        finished: list[Finished] = []
        summary = None
        async for event in verification.events():
            if isinstance(event, Finished):
                finished.append(event)
            elif isinstance(event, Summary):
                summary = event
        assert summary is not None
        return finished, summary

    try:
        finished, summary = asyncio.run(collect())
    finally:
        verification.close()
    return run, finished, summary, changes


def apps(lab: Lab) -> list[Any]:
    assert lab.world is not None
    return list(lab.world.tenant.applications.values())


def status_of(finished: list[Finished]) -> dict[str, Status]:
    return {f.check: f.status for f in finished}


def save(registrar: Registrar, run: RegistrationRun, changes: Any, name: str) -> None:
    changes.add(registrar.connection(run, Stamp(f"id-{name}", FROZEN_NOW)))
    changes.commit()


@pytest.fixture
def auto_lab(make_lab: Callable[..., Lab]) -> Callable[..., Lab]:
    """A lab whose admin approves device codes at once: a later approval costs a second a sign-in (MSAL's shortest
    wait between polls). The tests that wait for the admin set `auto_approve` to None."""
    return lambda scenarios="", **kw: make_lab(scenarios, auto_approve=0, **kw)


def test_registration_creates_one_app_that_verifies(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    lab = auto_lab()
    home = Home(tmp_path / "home")
    registrar = signed_in(lab, home)
    assert registrar.session.admin.may_register
    plan = registrar.prepare()
    assert plan.existing is None and plan.new_certificate
    assert [p.label for p in plan.permissions] == [
        "Microsoft Graph User.Read.All",
        "Microsoft Graph Organization.Read.All",
        "Microsoft Graph Mail.ReadWrite",
        "Office 365 Exchange Online full_access_as_app",
    ]
    assert apps(lab) == [a for a in apps(lab) if a.unique_name is None]  # the dry run wrote nothing

    run, finished, summary, changes = register(lab, home, registrar)
    assert not summary.failed, [(f.check, f.outcome.detail) for f in finished if f.status is Status.FAILED]
    statuses = status_of(finished)
    assert [c for c in statuses if c.startswith("register.")] == [
        "register.certificate",
        "register.application",
        "register.service_principal",
        "register.permissions",
        "register.propagation",
    ]
    assert statuses["m365.ews"] is Status.PASSED and statuses["m365.permissions"] is Status.PASSED

    ours = [a for a in apps(lab) if a.unique_name == registrar.unique_name]
    assert len(ours) == 1
    app = ours[0]
    assert app.unique_name == f"exchange-workbench-{home.installation_id()}"
    [key] = app.key_credentials
    cert = x509.load_der_x509_certificate(key.der)
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    assert lab.world is not None
    tenant = lab.world.tenant
    sp = tenant.service_principal_by_app_id(app.app_id)
    assert sp is not None
    granted = sorted(
        next(v for rid, v in tenant.service_principals[a.resource_id].app_roles if rid == a.app_role_id)
        for a in tenant.assignments.values()
        if a.principal_id == sp.id
    )
    assert granted == sorted(p.value for p in plan.permissions)  # exactly the planned permissions

    connection = registrar.connection(run, Stamp("id-auto", FROZEN_NOW))
    settings = connection.settings
    assert isinstance(settings, M365Settings)
    assert settings.registration is Registration.AUTOMATIC and settings.client_id == app.app_id
    assert settings.app_registration is not None and settings.app_registration.app_object_id == app.object_id
    changes.add(connection)
    changes.commit()
    assert settings.credential.thumbprint == thumbprint_of(cert)  # type: ignore[union-attr]
    stored = home.certificates.get(thumbprint_of(cert))
    assert stored.key_size == 2048  # the key joined the store on commit
    assert stored.made_for_app == registrar.unique_name  # marked as this app's own: it goes with its last user


def test_rerun_edit_and_second_connection_keep_one_app(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    lab = auto_lab()
    home = Home(tmp_path / "home")
    first = signed_in(lab, home, name="First")
    run, _, summary, changes = register(lab, home, first)
    assert not summary.failed
    save(first, run, changes, "first")
    stored = home.store.snapshot().connections[0]

    # A second connection to the same tenant: same app, its own certificate added beside the first one's.
    first_cert = home.certificates.get(stored.settings.credential.thumbprint)  # type: ignore[union-attr]

    def lookup(thumbprint: str) -> Any:
        return next((c for c in home.certificates.list() if c.thumbprint == thumbprint), None)

    second = Registrar(
        request_for(lab, name="Second"),
        installation_id=home.installation_id(),
        connections=tuple(home.store.snapshot().connections),
        certificate=lookup,
        timeout=10,
    )
    second.start_sign_in()
    second.wait_for_admin()
    plan = second.prepare()
    assert plan.existing is not None and len(plan.to_grant) == 0
    # The existing key, read through httpx as base64 (Edm.Binary), is the first connection's: kept, not "removed".
    assert plan.existing.key_thumbprints == (first_cert.thumbprint,)
    assert plan.dropped_keys == () and "Removed keys" not in dict(plan.lines())
    assert "RoleManagement.Read.Directory" in dict(plan.lines())["Sign-in scopes"]
    assert second.keep == (first_cert,)  # the first connection's certificate stays on the app
    run2, _, summary2, changes2 = register(lab, home, second)
    assert not summary2.failed
    save(second, run2, changes2, "second")
    ours = [a for a in apps(lab) if a.unique_name == first.unique_name]
    assert len(ours) == 1 and len(ours[0].key_credentials) == 2

    # Registering the first connection again (a repair) keeps its certificate and still one app.
    again = Registrar(
        request_for(lab, existing=stored),
        installation_id=home.installation_id(),
        current=first_cert,
        connections=tuple(home.store.snapshot().connections),
        certificate=lookup,
        timeout=10,
    )
    again.start_sign_in()
    again.wait_for_admin()
    assert not again.prepare().new_certificate
    _, finished3, summary3, _ = register(lab, home, again)
    assert not summary3.failed
    assert "register.certificate" not in status_of(finished3)
    ours = [a for a in apps(lab) if a.unique_name == first.unique_name]
    assert len(ours) == 1 and len(ours[0].key_credentials) == 2


def test_a_global_administrator_passes_the_role_check(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    """Graph returns directory roles the token may not read as `@odata.type` and `id` only: the sign-in must ask for
    the scope that makes them readable, or every real Global Administrator is refused as "not an admin"."""
    lab = auto_lab()
    registrar = signed_in(lab, Home(tmp_path / "h"))
    assert registrar.session.admin.roles == ("Global Administrator",)
    assert registrar.session.admin.may_register


def test_roles_graph_would_not_name_are_said_to_lack_the_scope_not_called_not_admin(
    auto_lab: Callable[..., Lab],
) -> None:
    lab = auto_lab()
    m = lab.state.m365
    app = msal.PublicClientApplication(
        m.public_client_id,
        authority=f"{m.authority_host}/organizations",
        http_client=identity.http_session(lab.state.ca_bundle, 10.0),
        instance_discovery=False,
    )
    # The token of a sign-in that did not ask for (or was not consented) RoleManagement.Read.Directory.
    scopes = [f"https://graph.microsoft.com/{s}" for s in ("Application.ReadWrite.All", "User.Read")]
    result = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=scopes))
    assert "access_token" in result, result
    session = AdminSession(
        Admin(m.admin_upn, "", m.tenant_id), Secret(result["access_token"]), m.graph_url, lab.state.ca_bundle, 10
    )
    with pytest.raises(SignInError) as caught:
        with_roles(session)
    assert caught.value.kind == "roles-unreadable"
    assert "RoleManagement.Read.Directory" in caught.value.message and "not an admin" not in caught.value.message


def test_an_eligible_role_not_activated_says_to_activate_it_in_pim(
    auto_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = auto_lab("role-eligible-not-active")
    before = len(apps(lab))
    with pytest.raises(SignInError) as caught:
        signed_in(lab, Home(tmp_path / "h"))
    message = caught.value.message
    assert caught.value.kind == "not-admin"
    assert (
        "Microsoft Entra admin center > Identity governance > Privileged Identity Management > My roles > Activate"
        in message
    )
    assert "sign in again" in message and len(apps(lab)) == before


def test_a_privileged_role_administrator_where_users_may_not_register_apps(
    auto_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = auto_lab("app-registration-restricted")
    home = Home(tmp_path / "h")
    before = len(apps(lab))
    registrar = signed_in(lab, home)
    assert registrar.session.admin.roles == ("Privileged Role Administrator",)  # passes the role check
    run, finished, _summary, _ = register(lab, home, registrar)
    [failure] = [f for f in finished if f.check == "register.application"]
    assert failure.status is Status.FAILED and failure.outcome.problem is not None
    problem = failure.outcome.problem
    assert problem.code == "Authorization_RequestDenied"
    text = " ".join([problem.title, *problem.causes, *(f"{f.text} {f.command or ''}" for f in problem.fixes)])
    for role in ("Global Administrator", "Application Administrator", "Cloud Application Administrator"):
        assert role in text
    assert "Application Developer" in text and "Users can register applications" in text
    assert "Nothing was created in the tenant" in failure.outcome.detail
    assert run.ledger.empty and run.report() == ["Nothing was created in the tenant."]
    assert len(apps(lab)) == before


def test_not_admin_creates_nothing_and_names_the_roles(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    lab = auto_lab("not-admin")
    before = len(apps(lab))
    registrar = Registrar(request_for(lab), installation_id=Home(tmp_path / "h").installation_id(), timeout=10)
    registrar.start_sign_in()
    with pytest.raises(SignInError) as caught:
        registrar.wait_for_admin()
    assert caught.value.kind == "not-admin"
    assert "holds no directory role" in caught.value.message
    assert "Global Administrator or Privileged Role Administrator" in caught.value.message
    assert len(apps(lab)) == before


def test_a_blocked_sign_in_client_says_how_to_use_the_organisations_own(
    auto_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    lab = auto_lab("sign-in-client-blocked")
    home = Home(tmp_path / "h")
    registrar = Registrar(request_for(lab), installation_id=home.installation_id(), timeout=10)
    with pytest.raises(SignInError) as caught:
        registrar.start_sign_in()
    error = caught.value
    assert error.kind == "client-blocked" and error.problem is not None
    assert error.problem.code == "AADSTS7000112"
    for words in ("Allow public client flows", "--public-client-id", "WORKBENCH_PUBLIC_CLIENT_ID", "Sign-in client"):
        assert words in error.message
    assert "RoleManagement.Read.Directory" in error.message
    fixes = " ".join(f"{f.text} {f.command or ''}" for f in error.problem.fixes)
    assert "Allow public client flows" in fixes and "Enterprise applications" in fixes
    # The way out works: the organisation's own public client signs the admin in.
    own = signed_in(lab, home, public_client_id=lab.state.m365.organisation_client_id)
    assert own.session.admin.upn == lab.state.m365.admin_upn


def test_an_unknown_sign_in_client_is_explained(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    lab = auto_lab()
    unknown = "b5a3e6c1-7f2d-4e8a-9c41-2d6f0e8b7a93"  # the GUID the workbench once invented
    registrar = Registrar(request_for(lab, public_client_id=unknown), installation_id="x", timeout=10)
    with pytest.raises(SignInError) as caught:
        registrar.start_sign_in()
    assert caught.value.kind == "client-unknown" and "AADSTS700016" in caught.value.message
    assert "Microsoft Graph Command Line Tools" in caught.value.message


def test_propagation_delay_is_waited_out(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    lab = auto_lab("propagation-delay", propagation_seconds=2.5)
    home = Home(tmp_path / "home")
    _, finished, summary, _ = register(lab, home, signed_in(lab, home))
    assert not summary.failed
    propagation = next(f for f in finished if f.check == "register.propagation")
    assert "attempt 1," not in propagation.outcome.detail  # it needed more than one sign-in


def test_propagation_gives_up_with_a_report(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    lab = auto_lab("propagation-delay", propagation_seconds=60)
    home = Home(tmp_path / "home")
    registrar = signed_in(lab, home)
    run, finished, summary, _ = register(lab, home, registrar, propagation_wait=2)
    assert summary.failed
    failed = next(f for f in finished if f.status is Status.FAILED)
    assert failed.check == "register.propagation"
    assert failed.outcome.problem is not None and failed.outcome.problem.code == "AADSTS700016"
    report = "\n".join(run.report())
    assert run.ledger.object_id and run.ledger.object_id in report and "created by this run" in report
    assert f"-Method DELETE -Uri '{lab.state.m365.graph_url}/v1.0/applications/{run.ledger.object_id}'" in report

    # Cleanup removes what the failed run created: the app, its service principal and its permissions.
    deleted = delete_application(registrar.session, registrar.unique_name)
    assert deleted is not None and deleted.object_id == run.ledger.object_id
    assert not [a for a in apps(lab) if a.unique_name == registrar.unique_name]
    assert lab.world is not None and lab.world.tenant.service_principal_by_app_id(deleted.app_id) is None
    assert delete_application(registrar.session, registrar.unique_name) is None  # nothing left to delete


def test_declined_and_expired_codes_are_explained(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    lab = auto_lab()
    assert lab.world is not None
    lab.world.auto_approve = None
    registrar = Registrar(request_for(lab), installation_id="0" * 32, timeout=10)
    code = registrar.start_sign_in()
    flow = next(f for f in lab.world.tenant.device_flows.values() if f.user_code == code.user_code)
    flow.declined = True
    with pytest.raises(SignInError) as caught:
        registrar.wait_for_admin()
    assert caught.value.kind == "declined" and "declined" in caught.value.message

    code = registrar.start_sign_in()
    flow = next(f for f in lab.world.tenant.device_flows.values() if f.user_code == code.user_code)
    flow.expires = flow.created
    with pytest.raises(SignInError) as caught:
        registrar.wait_for_admin()
    assert caught.value.kind == "expired" and "new code" in caught.value.message


def test_cancel_stops_waiting_for_the_admin(auto_lab: Callable[..., Lab]) -> None:
    lab = auto_lab()
    assert lab.world is not None
    lab.world.auto_approve = None
    registrar = Registrar(request_for(lab), installation_id="0" * 32, timeout=10)
    registrar.start_sign_in()
    with pytest.raises(SignInError) as caught:
        registrar.wait_for_admin(lambda: True)
    assert caught.value.kind == "cancelled"


def test_wrong_tenant_is_explained(auto_lab: Callable[..., Lab]) -> None:
    lab = auto_lab()
    registrar = Registrar(
        request_for(lab, tenant_id="11111111-2222-3333-4444-555555555555"), installation_id="0" * 32, timeout=10
    )
    with pytest.raises(SignInError) as caught:
        registrar.start_sign_in()
    assert caught.value.kind == "tenant" and "11111111-2222-3333-4444-555555555555" in caught.value.message


def test_removal_instructions_name_the_app() -> None:
    from workbench.model import AppRegistration, Cloud

    lines = removal_instructions("https://graph.microsoft.com", AppRegistration(app_object_id="abc", unique_name="u"))
    assert lines[0].endswith(  # a command an admin pastes into PowerShell, not a bare HTTP verb and URL
        "Connect-MgGraph -Environment Global -Scopes Application.ReadWrite.All; "
        "Invoke-MgGraphRequest -Method DELETE -Uri 'https://graph.microsoft.com/v1.0/applications/abc'"
    )
    assert "unique name u" in lines[1]
    gcc_high = removal_instructions(
        "https://graph.microsoft.us", AppRegistration(app_object_id="abc", unique_name="u"), Cloud.USGOV_HIGH
    )
    assert "Connect-MgGraph -Environment USGov " in gcc_high[0]


def test_rotation_retires_the_old_key_only_for_a_caller_that_saves_at_once(
    auto_lab: Callable[..., Lab], tmp_path: Path
) -> None:
    from workbench.registration import registration_checks

    lab = auto_lab()
    home = Home(tmp_path / "home")
    first = signed_in(lab, home, name="First")
    run, _, summary, changes = register(lab, home, first)
    assert not summary.failed
    save(first, run, changes, "first")
    stored = home.store.snapshot().connections[0]
    current = home.certificates.get(stored.settings.credential.thumbprint)  # type: ignore[union-attr]
    again = Registrar(
        request_for(lab, existing=stored, rotate_certificate=True),
        installation_id=home.installation_id(),
        current=current,
        timeout=10,
    )
    again.start_sign_in()
    again.wait_for_admin()
    assert again.prepare().new_certificate
    ids = {c.id for c in registration_checks(again.run(lambda loaded: None)).checks}
    assert "register.retire" not in ids  # the wizard: the old key stays until the new one is saved
    ids = {c.id for c in registration_checks(again.run(lambda loaded: None, retire_old=True)).checks}
    assert "register.retire" in ids  # the CLI saves right after


def test_the_code_names_the_authority_that_gave_its_address(auto_lab: Callable[..., Lab]) -> None:
    # Issue 19, item 13: the address is shown with the authority's host beside it. The lab is a custom cloud, its
    # own authority: its address is not doubted.
    from urllib.parse import urlsplit

    lab = auto_lab()
    registrar = Registrar(request_for(lab), installation_id="0" * 32, timeout=10)
    try:
        code = registrar.start_sign_in()
    finally:
        registrar.close()
    assert code.authority_host == urlsplit(lab.state.m365.authority_host).netloc
    assert code.verification_uri == f"{lab.state.m365.authority_host}/devicelogin" and code.doubt is None


def test_the_wait_for_the_admin_ends_with_the_code(auto_lab: Callable[..., Lab]) -> None:
    import time

    lab = auto_lab()
    assert lab.world is not None
    lab.world.auto_approve = None  # nobody signs in
    registrar = Registrar(request_for(lab), installation_id="0" * 32, timeout=10)
    registrar.start_sign_in()
    assert registrar._sign_in is not None and registrar._sign_in._flow is not None
    registrar._sign_in._flow["expires_at"] = time.time() + 1.5  # as if the code had 1.5 s left
    started = time.monotonic()
    with pytest.raises(SignInError) as caught:
        registrar.wait_for_admin()
    assert caught.value.kind == "expired" and time.monotonic() - started < 10


def test_closing_the_verification_ends_the_propagation_wait(auto_lab: Callable[..., Lab], tmp_path: Path) -> None:
    from workbench.checks.events import Progress

    lab = auto_lab("propagation-delay", propagation_seconds=100)
    home = Home(tmp_path / "home")
    registrar = signed_in(lab, home)
    changes = home.changeset()
    registrar.prepare()
    run = registrar.run(lambda loaded: changes.stage_certificate(loaded.info, loaded.key_pem), 60)
    verification = Verification(registrar.target(home, changes), registration=run)

    async def until_retrying() -> None:
        async for event in verification.events():
            if isinstance(event, Progress) and event.check == "register.propagation":
                return

    asyncio.run(until_retrying())
    verification.close()
    assert run.stop.is_set()  # the retry loop's wait returns at once and the thread ends
