"""Exchange Online EWS in the lab, through the unmodified exchangelib client fed by MSAL tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorInvalidExchangeImpersonationHeaderData,
    ErrorNonExistentMailbox,
    MalformedResponseError,
    UnauthorizedError,
)

from tests.lab.conftest import EWS_SCOPE, app_token, certificate_credential, ews_account, session_for
from workbench.lab import Lab, LabState


@pytest.mark.parametrize("credential", ["secret", "public_certificate"])
def test_mailbox_root_with_impersonation(
    healthy_lab: Lab, exchangelib_for: Callable[[LabState], None], credential: str
) -> None:
    state = healthy_lab.state
    exchangelib_for(state)
    cred = None if credential == "secret" else certificate_credential(state, credential)
    account = ews_account(state, app_token(state, EWS_SCOPE, cred), state.m365.app_account)
    root = account.root
    assert root.name == "Root" and root.id
    assert account.version.build.major_version == 15 and account.version.build.minor_version == 20


def test_other_mailboxes_and_public_folders(healthy_lab: Lab, exchangelib_for: Callable[[LabState], None]) -> None:
    state = healthy_lab.state
    exchangelib_for(state)
    token = app_token(state, EWS_SCOPE)
    assert ews_account(state, token, "user00001@contoso.test").inbox.name == "Inbox"
    assert ews_account(state, token, state.m365.app_account).public_folders_root.name == "Public Folders"


def test_app_token_without_impersonation_header(healthy_lab: Lab, exchangelib_for: Callable[[LabState], None]) -> None:
    state = healthy_lab.state
    exchangelib_for(state)
    account = ews_account(state, app_token(state, EWS_SCOPE), state.m365.app_account, impersonate=False)
    with pytest.raises(
        ErrorInvalidExchangeImpersonationHeaderData, match="ExchangeImpersonation SOAP header must be present"
    ):
        account.root  # noqa: B018


@pytest.mark.parametrize(
    ("mailbox", "error"),
    [
        ("nobody@contoso.test", ErrorNonExistentMailbox),
        ("nomailbox@contoso.test", ErrorNonExistentMailbox),
        ("ceo@contoso.test", ErrorAccessDenied),
    ],
)
def test_mailbox_faults(
    healthy_lab: Lab, exchangelib_for: Callable[[LabState], None], mailbox: str, error: type[Exception]
) -> None:
    state = healthy_lab.state
    exchangelib_for(state)
    with pytest.raises(error):
        ews_account(state, app_token(state, EWS_SCOPE), mailbox).root  # noqa: B018


def test_no_consent_is_401_with_diagnostics(
    make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None]
) -> None:
    state = make_lab("no-consent").state
    exchangelib_for(state)
    token = app_token(state, EWS_SCOPE)
    with pytest.raises(UnauthorizedError, match="Invalid credentials"):
        ews_account(state, token, state.m365.app_account).root  # noqa: B018
    raw = session_for(state).post(
        state.m365.ews_url, headers={"Authorization": f"Bearer {token['access_token']}"}, data=b"<x/>"
    )
    assert raw.status_code == 401
    assert raw.headers["x-ms-diagnostics"].startswith('2000008;reason="The token contains no permissions')
    assert raw.headers["WWW-Authenticate"].startswith("Bearer ")


def test_ews_disabled_is_a_bare_403(make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None]) -> None:
    state = make_lab("ews-disabled").state
    exchangelib_for(state)
    with pytest.raises(MalformedResponseError, match="Code: 403"):
        ews_account(state, app_token(state, EWS_SCOPE), state.m365.app_account).root  # noqa: B018


def test_graph_token_is_refused_by_ews(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    graph_token = app_token(state)["access_token"]
    raw = session_for(state).post(state.m365.ews_url, headers={"Authorization": f"Bearer {graph_token}"}, data=b"<x/>")
    assert raw.status_code == 401 and "Invalid audience" in raw.headers["x-ms-diagnostics"]


GET_ROOT = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<s:Header><t:RequestServerVersion Version="Exchange2016"/><t:ExchangeImpersonation><t:ConnectingSID>
<t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></s:Header>
<s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>
<m:FolderIds><t:DistinguishedFolderId Id="root"/></m:FolderIds></m:GetFolder></s:Body></s:Envelope>"""


def test_app_only_requests_must_name_the_anchor_mailbox(healthy_lab: Lab) -> None:
    """Exchange Online routes an app-only (impersonation) request by its X-AnchorMailbox header; without it the
    request reaches no mailbox server."""
    state = healthy_lab.state
    mailbox = state.m365.app_account
    headers = {
        "Authorization": f"Bearer {app_token(state, EWS_SCOPE)['access_token']}",
        "Content-Type": "text/xml; charset=utf-8",
    }
    body = GET_ROOT.format(mailbox=mailbox).encode()
    web = session_for(state)
    refused = web.post(state.m365.ews_url, headers=headers, data=body)
    assert refused.status_code == 500
    assert "ErrorNoRespondingCASInDestinationSite" in refused.text
    answered = web.post(state.m365.ews_url, headers={**headers, "X-AnchorMailbox": mailbox}, data=body)
    assert answered.status_code == 200 and 'ResponseClass="Success"' in answered.text
