"""Microsoft Graph in the lab, through httpx, with tokens from MSAL."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.lab.conftest import GRAPH_SCOPE, app_token, graph_client, public_client, session_for
from workbench import certificates
from workbench.lab import Lab, LabState

GRAPH_APP = "00000003-0000-0000-c000-000000000000"
EXO_APP = "00000002-0000-0ff1-ce00-000000000000"


def admin_token(state: LabState, *more: str) -> str:
    app = public_client(state)
    flow = app.initiate_device_flow(
        scopes=[
            f"https://graph.microsoft.com/{s}"
            for s in ("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "User.Read", *more)
        ]
    )
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    return str(result["access_token"])


def test_organization_and_domains(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    with graph_client(state, app_token(state)["access_token"]) as graph:
        response = graph.get("/organization", params={"$select": "id,displayName,verifiedDomains"})
    assert response.status_code == 200
    (org,) = response.json()["value"]
    domains = {d["name"]: (d["isDefault"], d["isInitial"]) for d in org["verifiedDomains"]}
    assert domains == {state.m365.tenant_domain: (True, False), state.m365.initial_domain: (False, True)}
    assert org["id"] == state.m365.tenant_id


def test_account_and_mail_folders(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    with graph_client(state, app_token(state)["access_token"]) as graph:
        user = graph.get(f"/users/{state.m365.app_account}").json()
        folders = graph.get(f"/users/{state.m365.app_account}/mailFolders", params={"$top": "1"}).json()
        inbox = graph.get(f"/users/{user['id']}/mailFolders/inbox")
        missing = graph.get("/users/nobody@contoso.test")
        no_mailbox = graph.get("/users/nomailbox@contoso.test/mailFolders")
    assert user["userPrincipalName"] == state.m365.app_account and user["mail"]
    assert [f["displayName"] for f in folders["value"]] == ["Inbox"]
    assert inbox.json()["displayName"] == "Inbox"
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "Request_ResourceNotFound")
    assert missing.json()["error"]["innerError"]["request-id"]
    assert (no_mailbox.status_code, no_mailbox.json()["error"]["code"]) == (404, "MailboxNotEnabledForRESTAPI")


def test_account_without_mailbox_scenario(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("account-no-mailbox").state
    with graph_client(state, app_token(state)["access_token"]) as graph:
        assert graph.get(f"/users/{state.m365.app_account}").status_code == 200
        response = graph.get(f"/users/{state.m365.app_account}/mailFolders")
    assert response.status_code == 404
    assert (
        response.json()["error"]["message"] == "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
    )


def test_no_consent_is_refused_with_graphs_codes(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("no-consent").state
    with graph_client(state, app_token(state)["access_token"]) as graph:
        org = graph.get("/organization")
        mail = graph.get(f"/users/{state.m365.app_account}/mailFolders")
    assert (org.status_code, org.json()["error"]["code"]) == (403, "Authorization_RequestDenied")
    assert org.json()["error"]["message"] == "Insufficient privileges to complete the operation."
    assert (mail.status_code, mail.json()["error"]["code"]) == (403, "ErrorAccessDenied")


def test_bad_tokens(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    ews_token = app_token(state, "https://outlook.office365.com/.default")["access_token"]
    with graph_client(state, ews_token) as graph:
        wrong_audience = graph.get("/organization")
    with graph_client(state, "not-a-token") as graph:
        garbage = graph.get("/organization")
    for response in (wrong_audience, garbage):
        assert (response.status_code, response.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")
    assert "Invalid audience" in wrong_audience.json()["error"]["message"]


def test_throttling_sends_retry_after(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("graph-throttled").state
    with graph_client(state, app_token(state)["access_token"]) as graph:
        statuses = [graph.get("/organization") for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "1"
    assert statuses[0].json()["error"]["code"] == "TooManyRequests"


def test_me_needs_a_delegated_token(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    with graph_client(state, app_token(state)["access_token"]) as graph:
        response = graph.get("/me")
    assert response.status_code == 400 and "delegated" in response.json()["error"]["message"]


def _key_credential(state: LabState) -> tuple[certificates.LoadedCertificate, dict[str, str]]:
    from datetime import UTC, datetime

    loaded = certificates.generate("CN=Registered By Test", 30, datetime.now(UTC))
    der = x509.load_pem_x509_certificate(loaded.info.cert_pem.encode()).public_bytes(serialization.Encoding.DER)
    return loaded, {
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": base64.b64encode(der).decode(),
        "displayName": "CN=Registered By Test",
    }


@pytest.mark.parametrize("scenario", ["", "propagation-delay"])
def test_registration_sequence_yields_a_working_app(make_lab: Callable[..., Lab], scenario: str) -> None:
    """What automatic registration does, end to end: resolve resource roles by value, upsert the app with a new
    certificate, create its service principal, grant app roles, then use it for client credentials."""
    lab = make_lab(scenario, auto_approve=0, propagation_seconds=1.0)
    state = lab.state
    loaded, key_credential = _key_credential(state)
    with graph_client(state, admin_token(state, "RoleManagement.Read.Directory")) as graph:
        members = list(graph.get("/me/transitiveMemberOf").json()["value"])
        roles = [m for m in members if m["@odata.type"] == "#microsoft.graph.directoryRole"]
        assert [r["displayName"] for r in roles] == ["Global Administrator"]
        graph_sp = graph.get(f"/servicePrincipals(appId='{GRAPH_APP}')", params={"$select": "id,appId,appRoles"}).json()
        exo_sp = graph.get("/servicePrincipals", params={"$filter": f"appId eq '{EXO_APP}'"}).json()["value"][0]
        graph_roles = {r["value"]: r["id"] for r in graph_sp["appRoles"] if "Application" in r["allowedMemberTypes"]}
        exo_roles = {r["value"]: r["id"] for r in exo_sp["appRoles"]}
        body = {
            "displayName": "Exchange Workbench",
            "signInAudience": "AzureADMyOrg",
            "requiredResourceAccess": [
                {"resourceAppId": GRAPH_APP, "resourceAccess": [{"id": graph_roles["User.Read.All"], "type": "Role"}]},
                {"resourceAppId": EXO_APP, "resourceAccess": [{"id": exo_roles["full_access_as_app"], "type": "Role"}]},
            ],
            "keyCredentials": [key_credential],
        }
        unique = "exchange-workbench-test"
        assert graph.patch(f"/applications(uniqueName='{unique}')", json=body).status_code == 404
        created = graph.patch(
            f"/applications(uniqueName='{unique}')", json=body, headers={"Prefer": "create-if-missing"}
        )
        assert created.status_code == 201
        app = created.json()
        again = graph.patch(f"/applications(uniqueName='{unique}')", json=body, headers={"Prefer": "create-if-missing"})
        assert again.status_code == 204  # editing reuses the same Entra app
        found = graph.get("/applications", params={"$filter": f"appId eq '{app['appId']}'"}).json()["value"]
        assert [a["id"] for a in found] == [app["id"]]
        # Edm.Binary: base64 of the SHA-1 thumbprint's 20 bytes, as Graph sets it for an uploaded certificate.
        identifier = found[0]["keyCredentials"][0]["customKeyIdentifier"]
        assert base64.b64decode(identifier, validate=True) == bytes.fromhex(loaded.info.thumbprint)
        sp = graph.post("/servicePrincipals", json={"appId": app["appId"]})
        assert sp.status_code == 201
        sp_id = sp.json()["id"]
        for resource, role in (
            (graph_sp["id"], graph_roles["User.Read.All"]),
            (exo_sp["id"], exo_roles["full_access_as_app"]),
        ):
            grant = graph.post(
                f"/servicePrincipals/{resource}/appRoleAssignedTo",
                json={"principalId": sp_id, "resourceId": resource, "appRoleId": role},
            )
            assert grant.status_code == 201, grant.text
        duplicate = graph.post(
            f"/servicePrincipals/{graph_sp['id']}/appRoleAssignedTo",
            json={"principalId": sp_id, "resourceId": graph_sp["id"], "appRoleId": graph_roles["User.Read.All"]},
        )
        assert duplicate.status_code == 400 and "already exists" in duplicate.json()["error"]["message"]
        assigned = graph.get(f"/servicePrincipals/{sp_id}/appRoleAssignments").json()["value"]
        assert len(assigned) == 2

    cert_pem = loaded.info.cert_pem
    new_app = msal.ConfidentialClientApplication(
        app["appId"],
        authority=f"{state.m365.authority_host}/{state.m365.tenant_id}",
        client_credential={"private_key": loaded.key_pem.reveal(), "public_certificate": cert_pem},
        http_client=session_for(state),
        instance_discovery=False,
    )
    first = new_app.acquire_token_for_client([GRAPH_SCOPE])
    if scenario == "propagation-delay":
        assert first["error_codes"] == [700016]  # not replicated yet, as right after a real registration
        deadline = time.monotonic() + 10
        result = first
        while "access_token" not in result and time.monotonic() < deadline:
            time.sleep(0.25)
            retry = msal.ConfidentialClientApplication(  # a fresh app: MSAL caches identical 400s for 60 s
                app["appId"],
                authority=f"{state.m365.authority_host}/{state.m365.tenant_id}",
                client_credential={"private_key": loaded.key_pem.reveal(), "public_certificate": cert_pem},
                http_client=session_for(state),
                instance_discovery=False,
            )
            result = retry.acquire_token_for_client([GRAPH_SCOPE])
        first = result
    assert "access_token" in first, first
    with graph_client(state, first["access_token"]) as graph:
        assert graph.get(f"/users/{state.m365.app_account}").status_code == 200


def test_not_admin_cannot_grant(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("not-admin", auto_approve=0).state
    with graph_client(state, admin_token(state)) as graph:
        members = graph.get("/me/transitiveMemberOf").json()["value"]
        assert [m for m in members if m["@odata.type"] == "#microsoft.graph.directoryRole"] == []
        graph_sp = graph.get(f"/servicePrincipals(appId='{GRAPH_APP}')").json()
        app = graph.post("/applications", json={"displayName": "Attempt"}).json()
        sp = graph.post("/servicePrincipals", json={"appId": app["appId"]}).json()
        grant = graph.post(
            f"/servicePrincipals/{graph_sp['id']}/appRoleAssignedTo",
            json={"principalId": sp["id"], "resourceId": graph_sp["id"], "appRoleId": graph_sp["appRoles"][0]["id"]},
        )
        assert (grant.status_code, grant.json()["error"]["code"]) == (403, "Authorization_RequestDenied")
        assert graph.delete(f"/applications/{app['id']}").status_code == 204
        assert graph.get(f"/applications/{app['id']}").status_code == 404


def test_key_credential_thumbprint_matches_the_pfx(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    cert = x509.load_pem_x509_certificate(state.m365.certificate_pem.encode())
    assert cert.fingerprint(hashes.SHA1()).hex().upper() == state.m365.certificate_thumbprint


def test_latency_is_added_to_every_response(make_lab: Callable[..., Lab]) -> None:
    """A functional check with a lower bound only (a sleep cannot be shorter); speed goals live in benchmarks."""
    state = make_lab(latency_ms=150).state
    session = session_for(state)
    started = time.monotonic()
    session.get(f"{state.m365.authority_host}/{state.m365.tenant_id}/v2.0/.well-known/openid-configuration")
    session.get(f"{state.m365.graph_url}/v1.0/organization")
    assert time.monotonic() - started >= 0.3


def _user_read_token(state: LabState) -> str:
    app = public_client(state)
    result = app.acquire_token_by_device_flow(
        app.initiate_device_flow(scopes=["https://graph.microsoft.com/User.Read"])
    )
    assert "access_token" in result, result
    return str(result["access_token"])


DIRECTORY_READS = [
    "/servicePrincipals",
    f"/servicePrincipals(appId='{GRAPH_APP}')",
    "/applications(uniqueName='anything')",
]


def test_directory_reads_need_the_permissions_graph_requires(healthy_lab: Lab) -> None:
    # The backup app (Mail, Organization and User permissions) and a User.Read sign-in may not read the directory's
    # applications: Graph answers 403 unless the token holds Application.Read.All or Directory.Read.All (or more).
    state = healthy_lab.state
    app_only = app_token(state)
    assert "access_token" in app_only, app_only
    for token in (str(app_only["access_token"]), _user_read_token(state)):
        with graph_client(state, token) as graph:
            for path in DIRECTORY_READS:
                answer = graph.get(path)
                assert answer.status_code == 403, (path, answer.status_code)
                assert answer.json()["error"]["code"] == "Authorization_RequestDenied"
    with graph_client(state, admin_token(state)) as graph:  # Application.ReadWrite.All: allowed
        sp = graph.get(f"/servicePrincipals(appId='{GRAPH_APP}')")
        assert sp.status_code == 200
        assert graph.get(f"/servicePrincipals/{sp.json()['id']}/appRoleAssignedTo").status_code == 200


@pytest.mark.parametrize("relation", ["memberOf", "transitiveMemberOf"])
def test_member_objects_the_token_may_not_read_come_back_with_type_and_id_only(
    make_lab: Callable[..., Lab], relation: str
) -> None:
    """Graph's "limited information returned for inaccessible member objects": a directory role needs
    RoleManagement.Read.Directory or Directory.Read.All, a group GroupMember.Read.All, Group.Read.All or
    Directory.Read.All; without them only `@odata.type` and `id` are filled in, every other property null."""
    state = make_lab(auto_approve=0).state
    with graph_client(state, admin_token(state)) as graph:
        limited = graph.get(f"/me/{relation}", params={"$select": "displayName,roleTemplateId"}).json()["value"]
    assert sorted(m["@odata.type"] for m in limited) == ["#microsoft.graph.directoryRole", "#microsoft.graph.group"]
    for member in limited:
        assert member["id"] and all(v is None for k, v in member.items() if k not in {"@odata.type", "id"})
    with graph_client(state, admin_token(state, "RoleManagement.Read.Directory")) as graph:
        members = graph.get(f"/me/{relation}").json()["value"]
    by_type = {m["@odata.type"]: m for m in members}
    role, group = by_type["#microsoft.graph.directoryRole"], by_type["#microsoft.graph.group"]
    assert role["displayName"] == "Global Administrator"
    assert role["roleTemplateId"] == "62e90394-69f5-4237-9190-012177145e10"
    assert group["displayName"] is None  # RoleManagement.Read.Directory does not read groups
    with graph_client(state, admin_token(state, "Directory.Read.All")) as graph:
        members = graph.get(f"/me/{relation}").json()["value"]
    assert all(m["displayName"] for m in members)


def test_users_may_not_register_apps_refuses_a_privileged_role_administrator(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("app-registration-restricted", auto_approve=0).state
    with graph_client(state, admin_token(state, "RoleManagement.Read.Directory")) as graph:
        [role] = [m for m in graph.get("/me/memberOf").json()["value"] if m.get("roleTemplateId")]
        assert role["displayName"] == "Privileged Role Administrator"
        for response in (
            graph.post("/applications", json={"displayName": "Attempt"}),
            graph.patch(
                "/applications(uniqueName='attempt')",
                json={"displayName": "Attempt"},
                headers={"Prefer": "create-if-missing"},
            ),
        ):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "Authorization_RequestDenied"
            assert response.json()["error"]["message"] == "Insufficient privileges to complete the operation."
        assert graph.get("/applications", params={"$filter": "displayName eq 'Attempt'"}).json()["value"] == []


def test_an_eligible_role_is_not_a_membership(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("role-eligible-not-active", auto_approve=0).state
    with graph_client(state, admin_token(state, "RoleManagement.Read.Directory")) as graph:
        members = graph.get("/me/transitiveMemberOf").json()["value"]
    assert [m for m in members if m["@odata.type"] == "#microsoft.graph.directoryRole"] == []


def test_custom_key_identifier_is_binary_base64_both_ways(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    _loaded, key_credential = _key_credential(state)
    with graph_client(state, admin_token(state)) as graph:
        bad = graph.post(
            "/applications",
            json={"displayName": "Hex", "keyCredentials": [{**key_credential, "customKeyIdentifier": "not base64!"}]},
        )
        assert bad.status_code == 400 and "customKeyIdentifier" in bad.json()["error"]["message"]
        given = base64.b64encode(b"rotation-2027").decode()
        made = graph.post(
            "/applications",
            json={"displayName": "Custom", "keyCredentials": [{**key_credential, "customKeyIdentifier": given}]},
        )
        assert made.status_code == 201 and made.json()["keyCredentials"][0]["customKeyIdentifier"] == given
