"""The lab's Graph is as strict as Graph where clients written elsewhere found it lenient: query options, paging,
and the credential and consent endpoints. Every request goes through httpx or MSAL, unmodified."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msal

from tests.lab.conftest import GRAPH_SCOPE, app_token, graph_client, session_for
from tests.lab.test_graph import GRAPH_APP, admin_token
from workbench.lab import Lab
from workbench.model import Secret
from workbench.net.graph import Graph, GraphError


def test_unknown_and_malformed_query_options_get_graphs_400(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    token = str(app_token(state)["access_token"])
    with graph_client(state, token) as graph:
        account = f"/users/{state.m365.app_account}"
        assert graph.get(account, params={"$selcet": "id"}).status_code == 400  # a typo is not ignored
        unknown = graph.get(account, params={"$selcet": "id"}).json()["error"]
        assert unknown["code"] == "Request_BadRequest" and "selcet" in unknown["message"]
        for bad in ("0", "1000", "ten", "-1"):
            answer = graph.get("/users", params={"$top": bad})
            assert answer.status_code == 400 and "page size" in answer.json()["error"]["message"], bad
        assert graph.get("/users", params={"$count": "maybe"}).status_code == 400
        assert graph.get("/users", params={"$skiptoken": "not-a-token"}).status_code == 400
        assert graph.get(account, params={"api-version": "1"}).status_code == 200  # only $ options are checked


def test_collections_page_with_next_links_and_count(make_lab: Callable[..., Lab]) -> None:
    state = make_lab(mailboxes=12).state
    token = str(app_token(state)["access_token"])
    with graph_client(state, token) as graph:
        everyone = graph.get("/users", params={"$select": "id,userPrincipalName"}).json()
        assert "@odata.nextLink" not in everyone
        total = len(everyone["value"])
        assert total > 12 and set(everyone["value"][0]) == {"id", "userPrincipalName"}
        seen: list[str] = []
        answer = graph.get("/users", params={"$top": "5", "$select": "id"}).json()
        pages = 1
        while True:
            assert len(answer["value"]) <= 5
            seen += [u["id"] for u in answer["value"]]
            link = answer.get("@odata.nextLink")
            if not link:
                break
            assert link.startswith(state.m365.graph_url) and "%24top=5" in link
            answer = graph.get(link).json()
            pages += 1
        assert pages == -(-total // 5) and len(seen) == total == len(set(seen))
        refused = graph.get("/users", params={"$count": "true"})
        assert refused.status_code == 400 and "$count is not currently supported" in refused.text
        counted = graph.get("/users", params={"$count": "true", "$top": "2"}, headers={"ConsistencyLevel": "eventual"})
        assert counted.status_code == 200 and counted.json()["@odata.count"] == total
        mine = graph.get("/users", params={"$filter": f"userPrincipalName eq '{state.m365.app_account}'"}).json()
        assert [u["userPrincipalName"] for u in mine["value"]] == [state.m365.app_account]
    # The workbench's own client follows next links to the end, and only to the host it was pointed at.
    client = Graph(state.m365.graph_url, Secret(token), ca_bundle=state.ca_bundle, timeout=10)
    try:
        assert len(client.get_all("/users", {"$top": "3"})) == total
    finally:
        client.close()


def test_a_next_link_to_another_host_is_not_followed(healthy_lab: Lab, monkeypatch: Any) -> None:
    state = healthy_lab.state
    client = Graph(state.m365.graph_url, Secret("token-value"), ca_bundle=state.ca_bundle, timeout=10)
    answers = iter([(200, {"value": [1], "@odata.nextLink": "https://127.0.0.2:1/v1.0/users?$skiptoken=x"})])
    monkeypatch.setattr(client, "send", lambda *a, **k: next(answers))
    try:
        try:
            client.get_all("/users")
        except GraphError as error:
            assert error.code == "UntrustedNextLink"
        else:
            raise AssertionError("the next link was followed")
    finally:
        client.close()


def test_add_and_remove_password_and_patch_refused(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    m = state.m365
    with graph_client(state, admin_token(state)) as graph:
        app = graph.get(f"/applications(appId='{m.client_id}')", params={"$select": "id,appId"}).json()
        assert app["appId"] == m.client_id
        refused = graph.patch(f"/applications/{app['id']}", json={"passwordCredentials": []})
        assert refused.status_code == 400 and "addPassword" in refused.json()["error"]["message"]
        added = graph.post(
            f"/applications/{app['id']}/addPassword", json={"passwordCredential": {"displayName": "rotation"}}
        )
        assert added.status_code == 200, added.text
        secret = added.json()
        assert secret["secretText"] and secret["hint"] == secret["secretText"][:3]
        listed = graph.get(f"/applications/{app['id']}").json()["passwordCredentials"]
        assert all(p["secretText"] is None for p in listed)  # never shown again
    fresh = msal.ConfidentialClientApplication(
        m.client_id,
        authority=f"{m.authority_host}/{m.tenant_id}",
        client_credential=secret["secretText"],
        http_client=session_for(state),
        instance_discovery=False,
    )
    assert "access_token" in fresh.acquire_token_for_client([GRAPH_SCOPE])
    with graph_client(state, admin_token(state)) as graph:
        removed = graph.post(f"/applications/{app['id']}/removePassword", json={"keyId": secret["keyId"]})
        assert removed.status_code == 204
        again = graph.post(f"/applications/{app['id']}/removePassword", json={"keyId": secret["keyId"]})
        assert again.status_code == 400
    gone = msal.ConfidentialClientApplication(
        m.client_id,
        authority=f"{m.authority_host}/{m.tenant_id}",
        client_credential=secret["secretText"],
        http_client=session_for(state),
        instance_discovery=False,
    )
    assert gone.acquire_token_for_client([GRAPH_SCOPE]).get("error") == "invalid_client"
    with graph_client(state, str(app_token(state)["access_token"])) as graph:  # the backup app may not
        assert graph.post(f"/applications/{app['id']}/addPassword", json={}).status_code == 403


def test_grant_from_the_client_side_and_delegated_consent(make_lab: Callable[..., Lab]) -> None:
    state = make_lab(auto_approve=0).state
    with graph_client(state, admin_token(state)) as graph:  # no DelegatedPermissionGrant scope: no consent
        sp_id = graph.get(f"/servicePrincipals(appId='{GRAPH_APP}')").json()["id"]
        refused = graph.post(
            "/oauth2PermissionGrants",
            json={"clientId": sp_id, "consentType": "AllPrincipals", "resourceId": sp_id, "scope": "User.Read"},
        )
        assert refused.status_code == 403
    with graph_client(state, admin_token(state, "DelegatedPermissionGrant.ReadWrite.All")) as graph:
        app = graph.post("/applications", json={"displayName": "Strict lab client"}).json()
        sp = graph.post("/servicePrincipals", json={"appId": app["appId"]}).json()
        resource = graph.get(f"/servicePrincipals(appId='{GRAPH_APP}')").json()
        role = next(r["id"] for r in resource["appRoles"] if r["value"] == "User.Read.All")
        body = {"principalId": sp["id"], "resourceId": resource["id"], "appRoleId": role}
        granted = graph.post(f"/servicePrincipals/{sp['id']}/appRoleAssignments", json=body)
        assert granted.status_code == 201, granted.text
        mismatch = graph.post(f"/servicePrincipals/{resource['id']}/appRoleAssignments", json=body)
        assert mismatch.status_code == 400
        consent = {
            "clientId": sp["id"],
            "consentType": "AllPrincipals",
            "resourceId": resource["id"],
            "scope": "User.Read",
        }
        created = graph.post("/oauth2PermissionGrants", json=consent)
        assert created.status_code == 201, created.text
        found = graph.get("/oauth2PermissionGrants", params={"$filter": f"clientId eq '{sp['id']}'"}).json()
        assert [g["scope"] for g in found["value"]] == ["User.Read"]
        assert graph.delete(f"/oauth2PermissionGrants/{created.json()['id']}").status_code == 204
        assert (
            graph.get("/oauth2PermissionGrants", params={"$filter": f"clientId eq '{sp['id']}'"}).json()["value"] == []
        )
        assert graph.delete(f"/applications(appId='{app['appId']}')").status_code == 204
        assert graph.get(f"/applications(appId='{app['appId']}')").status_code == 404


def _proof(private_pem: str, object_id: str, lifetime: int = 600) -> str:
    import time

    import jwt

    issued = int(time.time())
    claims = {"aud": "00000002-0000-0000-c000-000000000000", "iss": object_id, "nbf": issued, "exp": issued + lifetime}
    return jwt.encode(claims, private_pem, algorithm="RS256")


def test_an_app_rotates_its_own_key_with_a_proof_of_possession(make_lab: Callable[..., Lab]) -> None:
    import base64
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tests.lab.conftest import certificate_credential
    from workbench import certificates

    state = make_lab(auto_approve=0).state
    m = state.m365
    old = certificate_credential(state, "public")
    token = app_token(state, credential=old)
    assert "access_token" in token, token
    with graph_client(state, admin_token(state)) as admin:  # (the admin only looks the object id up)
        object_id = admin.get(f"/applications(appId='{m.client_id}')").json()["id"]
    new = certificates.generate("CN=Rotated", 365, datetime.now(UTC))
    der = x509.load_pem_x509_certificate(new.info.cert_pem.encode()).public_bytes(serialization.Encoding.DER)
    key = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(der).decode()}
    with graph_client(state, str(token["access_token"])) as graph:  # the app itself, no directory permission
        forged = certificates.generate("CN=Forger", 1, datetime.now(UTC)).key_pem.reveal()
        bad = graph.post(
            f"/applications/{object_id}/addKey",
            json={"keyCredential": key, "passwordCredential": None, "proof": _proof(forged, object_id)},
        )
        assert bad.status_code == 400 and "proof" in bad.json()["error"]["message"].lower()
        too_long = graph.post(
            f"/applications/{object_id}/addKey",
            json={"keyCredential": key, "proof": _proof(old["private_key"], object_id, lifetime=3600)},
        )
        assert too_long.status_code == 400
        added = graph.post(
            f"/applications/{object_id}/addKey",
            json={"keyCredential": key, "passwordCredential": None, "proof": _proof(old["private_key"], object_id)},
        )
        assert added.status_code == 200, added.text
    rotated = {"private_key": new.key_pem.reveal(), "public_certificate": new.info.cert_pem}
    fresh = app_token(state, credential=rotated)
    assert "access_token" in fresh, fresh
    with graph_client(state, str(fresh["access_token"])) as graph:
        keys = graph.get(f"/applications/{object_id}")
        assert keys.status_code == 403  # reading the directory still needs Application.Read.All
        with graph_client(state, admin_token(state)) as admin:
            listed = admin.get(f"/applications/{object_id}").json()["keyCredentials"]
        old_id = next(
            k["keyId"]
            for k in listed
            if base64.b64decode(k["customKeyIdentifier"]) == bytes.fromhex(m.certificate_thumbprint)
        )
        removed = graph.post(
            f"/applications/{object_id}/removeKey",
            json={"keyId": old_id, "proof": _proof(new.key_pem.reveal(), object_id)},
        )
        assert removed.status_code == 204, removed.text
    assert app_token(state, credential=old).get("error") == "invalid_client"  # the old key is gone
