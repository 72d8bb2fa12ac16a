"""Entra ID in the lab, through the unmodified MSAL client."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jwt
import msal
import pytest

from tests.lab.conftest import (
    EWS_SCOPE,
    GRAPH_SCOPE,
    app_token,
    certificate_credential,
    confidential,
    public_client,
    session_for,
)
from workbench.clouds import GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID
from workbench.lab import Lab, LabState


def claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def aadsts(result: dict[str, object]) -> int:
    match = re.match(r"AADSTS(\d+):", str(result.get("error_description", "")))
    assert match, result
    return int(match.group(1))


def test_client_secret_tokens_carry_the_consented_roles(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    graph = app_token(state, GRAPH_SCOPE)
    assert graph["token_type"] == "Bearer" and graph["expires_in"] > 3000
    graph_claims = claims(graph["access_token"])
    assert graph_claims["aud"] == "https://graph.microsoft.com"
    assert graph_claims["tid"] == state.m365.tenant_id
    assert graph_claims["roles"] == ["Mail.ReadWrite", "Organization.Read.All", "User.Read.All"]
    ews_claims = claims(app_token(state, EWS_SCOPE)["access_token"])
    assert (ews_claims["aud"], ews_claims["roles"]) == ("https://outlook.office365.com", ["full_access_as_app"])


@pytest.mark.parametrize(
    ("form", "alg", "header"), [("thumbprint", "RS256", "x5t"), ("public_certificate", "PS256", "x5t#S256")]
)
def test_certificate_assertions_in_both_forms(healthy_lab: Lab, form: str, alg: str, header: str) -> None:
    state = healthy_lab.state
    sent: list[str] = []
    session = session_for(state)
    original = session.post

    def spy(url: str, **kwargs: Any) -> Any:
        data = kwargs.get("data") or {}
        if isinstance(data, dict) and "client_assertion" in data:
            value = data["client_assertion"]
            sent.append(value.decode() if isinstance(value, bytes) else str(value))
        return original(url, **kwargs)

    session.post = spy  # type: ignore[method-assign,assignment]
    app = msal.ConfidentialClientApplication(
        state.m365.client_id,
        authority=f"{state.m365.authority_host}/{state.m365.tenant_id}",
        client_credential=certificate_credential(state, form),
        http_client=session,
        instance_discovery=False,
    )
    result = app.acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result
    (assertion,) = sent
    assert jwt.get_unverified_header(assertion)["alg"] == alg and header in jwt.get_unverified_header(assertion)


def test_tenant_domain_works_as_authority(healthy_lab: Lab) -> None:
    m = healthy_lab.state.m365
    app = msal.ConfidentialClientApplication(
        m.client_id,
        authority=f"{m.authority_host}/{m.tenant_domain}",
        client_credential=m.client_secret,
        http_client=session_for(healthy_lab.state),
        instance_discovery=False,
    )
    assert "access_token" in app.acquire_token_for_client([GRAPH_SCOPE])


@pytest.mark.parametrize(
    ("scope", "code"),
    [("https://graph.microsoft.com/User.Read", 1002012), ("https://graph.contoso.test/.default", 500011)],
)
def test_bad_scopes(healthy_lab: Lab, scope: str, code: int) -> None:
    result = app_token(healthy_lab.state, scope)
    assert aadsts(result) == code


@pytest.mark.parametrize(
    ("scenario", "credential", "error", "code", "text"),
    [
        ("bad-secret", "secret", "invalid_client", 7000215, "not the client secret ID"),
        ("expired-secret", "secret", "invalid_client", 7000222, "are expired"),
        ("unknown-client", "secret", "unauthorized_client", 700016, "was not found in the directory"),
        ("cert-not-registered", "thumbprint", "invalid_client", 700027, "The key was not found"),
        ("cert-not-registered", "public_certificate", "invalid_client", 700027, "The key was not found"),
        ("expired-cert", "public_certificate", "invalid_client", 700027, "The key used is expired"),
        ("conditional-access", "secret", "invalid_grant", 53003, "Conditional Access"),
    ],
)
def test_token_scenarios(
    make_lab: Callable[..., Lab], scenario: str, credential: str, error: str, code: int, text: str
) -> None:
    state = make_lab(scenario).state
    cred = None if credential == "secret" else certificate_credential(state, credential)
    result = app_token(state, GRAPH_SCOPE, cred)
    assert result.get("error") == error, result
    assert aadsts(result) == code and result["error_codes"] == [code]
    assert text in result["error_description"]
    assert "Trace ID:" in result["error_description"]


def test_unknown_tenant_fails_when_msal_discovers_it(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("unknown-tenant").state
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        confidential(state)
    response = session_for(state).get(
        f"{state.m365.authority_host}/{state.m365.tenant_id}/v2.0/.well-known/openid-configuration"
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


def test_no_consent_gives_tokens_without_roles(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("no-consent").state
    token = app_token(state)
    assert "access_token" in token and "roles" not in claims(token["access_token"])


def test_device_code_flow_with_auto_approve(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    m = state.m365
    app = public_client(state)
    flow = app.initiate_device_flow(
        scopes=["https://graph.microsoft.com/Application.ReadWrite.All", "https://graph.microsoft.com/User.Read"]
    )
    assert flow["verification_uri"].startswith(m.authority_host) and flow["user_code"] in flow["message"]
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == m.admin_upn
    assert result["id_token_claims"]["tid"] == m.tenant_id
    assert set(str(claims(result["access_token"])["scp"]).split()) == {"Application.ReadWrite.All", "User.Read"}
    assert [a["username"] for a in app.get_accounts()] == [m.admin_upn]


def test_device_code_signed_in_by_a_person(make_lab: Callable[..., Lab]) -> None:
    """The verification page as a person uses it: code, then account and password."""
    state = make_lab().state
    m = state.m365
    web = session_for(state)
    app = msal.PublicClientApplication(
        m.public_client_id,
        authority=f"{m.authority_host}/{m.tenant_id}",
        http_client=session_for(state),
        instance_discovery=False,
    )
    flow = app.initiate_device_flow(scopes=["https://graph.microsoft.com/User.Read"])
    page = web.get(flow["verification_uri"])
    assert page.status_code == 200 and "Enter code" in page.text
    assert "Account" in web.post(flow["verification_uri"], data={"code": flow["user_code"].lower()}).text
    wrong = web.post(
        flow["verification_uri"], data={"code": flow["user_code"], "username": m.admin_upn, "password": "nope"}
    )
    assert wrong.status_code == 401 and "incorrect" in wrong.text
    ok = web.post(
        flow["verification_uri"],
        data={"code": flow["user_code"], "username": m.admin_upn, "password": m.admin_password},
    )
    assert ok.status_code == 200 and "is signed in" in ok.text
    result = app.acquire_token_by_device_flow(flow)
    assert result["id_token_claims"]["preferred_username"] == m.admin_upn


def test_device_code_declined(make_lab: Callable[..., Lab]) -> None:
    state = make_lab().state
    app = public_client(state)
    flow = app.initiate_device_flow(scopes=["https://graph.microsoft.com/User.Read"])
    session_for(state).post(flow["verification_uri"], data={"code": flow["user_code"], "username": "x", "decline": "1"})
    assert app.acquire_token_by_device_flow(flow)["error"] == "authorization_declined"


def test_device_code_needs_a_public_client(healthy_lab: Lab) -> None:
    m = healthy_lab.state.m365
    app = msal.PublicClientApplication(
        m.client_id,
        authority=f"{m.authority_host}/organizations",
        http_client=session_for(healthy_lab.state),
        instance_discovery=False,
    )
    flow = app.initiate_device_flow(scopes=["https://graph.microsoft.com/User.Read"])
    assert "user_code" not in flow and flow["error"] == "invalid_client"


def test_an_unknown_delegated_scope_needs_consent_as_in_entra(healthy_lab: Lab) -> None:
    # The lab used to hand out User.Read for a scope it did not know: a flow could pass here and fail in a tenant.
    app = public_client(healthy_lab.state)
    flow = app.initiate_device_flow(scopes=["https://graph.microsoft.com/Mail.Send"])
    result = app.acquire_token_by_device_flow(flow)
    assert result.get("error") == "invalid_grant", result
    assert "AADSTS65001" in result["error_description"] and 65001 in result["error_codes"]


def test_the_refresh_token_serves_msal_acquire_token_silent(healthy_lab: Lab) -> None:
    app = public_client(healthy_lab.state)
    scopes = ["https://graph.microsoft.com/User.Read"]
    first = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=scopes))
    assert "access_token" in first, first
    (account,) = app.get_accounts()
    again = app.acquire_token_silent(scopes, account=account, force_refresh=True)
    assert again is not None and "access_token" in again, again
    assert again["access_token"] != first["access_token"]
    assert claims(again["access_token"])["scp"] == "User.Read"
    assert claims(again["access_token"])["upn"] == healthy_lab.state.m365.admin_upn
    # A scope the sign-in was never consented for is not granted by a refresh either.
    wider = app.acquire_token_silent_with_error(
        ["https://graph.microsoft.com/Mail.Send"], account=account, force_refresh=True
    )
    assert wider is not None and wider.get("error") == "invalid_grant" and 65001 in wider["error_codes"]


# ---------------------------------------------------------------- the sign-in client (issue 18, A)


def _device_flow(state: LabState, client_id: str) -> dict[str, Any]:
    app = msal.PublicClientApplication(
        client_id,
        authority=f"{state.m365.authority_host}/organizations",
        http_client=session_for(state),
        instance_discovery=False,
    )
    flow: dict[str, Any] = app.initiate_device_flow(scopes=["https://graph.microsoft.com/User.Read"])
    return flow


def test_graph_command_line_tools_is_microsofts_client_present_without_being_seeded(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    assert state.m365.public_client_id == GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID
    assert "user_code" in _device_flow(state, GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID)
    assert healthy_lab.world is not None
    tenant = healthy_lab.world.tenant
    # Microsoft's: its application object is not the tenant's (no app registration), its service principal is.
    assert tenant.application_by_app_id(GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID) is None
    sp = tenant.service_principal_by_app_id(GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID)
    assert sp is not None and sp.display_name == "Microsoft Graph Command Line Tools" and sp.account_enabled


def test_an_unknown_client_is_aadsts700016_the_invented_one_included(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    for client in ("b5a3e6c1-7f2d-4e8a-9c41-2d6f0e8b7a93", "11111111-2222-4333-8444-555555555555"):
        flow = _device_flow(state, client)
        assert "user_code" not in flow and flow["error"] == "unauthorized_client", flow
        assert flow["error_codes"] == [700016] and client in flow["error_description"]


def test_sign_in_client_blocked_is_aadsts7000112_and_the_organisations_own_client_works(
    make_lab: Callable[..., Lab],
) -> None:
    state = make_lab("sign-in-client-blocked").state
    flow = _device_flow(state, GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID)
    assert "user_code" not in flow and flow["error_codes"] == [7000112], flow
    assert flow["error_description"].startswith(
        f"AADSTS7000112: Application '{GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID}'(Microsoft Graph Command Line Tools) "
        "is disabled."
    )
    own = state.m365.organisation_client_id
    assert own and own != GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID
    assert "user_code" in _device_flow(state, own)
