"""The lab's on-premises EWS, autodiscover, DNS and TLS, through unmodified exchangelib, dnspython and requests."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import dns.resolver
import pytest
import requests
from exchangelib import BASIC, NTLM, Configuration, Credentials
from exchangelib.autodiscover.protocol import AutodiscoverProtocol
from exchangelib.errors import (
    ErrorImpersonateUserDenied,
    ErrorMissingEmailAddress,
    ErrorNonExistentMailbox,
    TransportError,
    UnauthorizedError,
)
from exchangelib.protocol import FailFast

from tests.lab.conftest import ews_onprem, powershell, run_cmdlet, session_for
from workbench.lab import Lab, LabState


def resolver(state: LabState) -> dns.resolver.Resolver:
    host, port = state.onprem.dns.split(":")
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [host]
    r.port = int(port)
    r.lifetime = 3
    return r


@pytest.mark.parametrize("auth", [NTLM, BASIC, None])
def test_admin_reaches_own_mailbox(
    make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None], auth: str | None
) -> None:
    state = make_lab().state
    exchangelib_for(state)
    account = ews_onprem(state, auth)
    assert account.root.name == "Root"
    assert account.version.build.major_version == 15 and account.version.build.minor_version == 2
    assert (
        account.version.fullname == "Microsoft Exchange Server 2019"
    )  # guessed through ConvertId, as on a real server


def test_impersonation_denied_until_granted(
    make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None]
) -> None:
    state = make_lab("no-impersonation").state
    exchangelib_for(state)
    with pytest.raises(ErrorImpersonateUserDenied, match="does not have permission to impersonate"):
        ews_onprem(state, NTLM, "user00001@fabrikam.test").inbox  # noqa: B018
    with powershell(state) as pool:
        run_cmdlet(
            pool,
            "New-ManagementRoleAssignment",
            Name="Workbench-Impersonation",
            Role="ApplicationImpersonation",
            User=state.onprem.admin_upn,
        )
    assert ews_onprem(state, NTLM, "user00001@fabrikam.test").inbox.name == "Inbox"
    with pytest.raises(ErrorNonExistentMailbox):
        ews_onprem(state, NTLM, "ghost@fabrikam.test").root  # noqa: B018


def test_channel_binding_is_enforced(make_lab: Callable[..., Lab]) -> None:
    """Extended Protection: an NTLM handshake whose channel binding names another certificate is refused."""
    import base64

    import spnego
    from spnego.channel_bindings import GssChannelBindings

    state = make_lab().state
    o = state.onprem
    session = session_for(state)
    wrong = GssChannelBindings(application_data=b"tls-server-end-point:" + b"\0" * 32)
    client = spnego.client(o.admin_upn, o.admin_password, protocol="ntlm", channel_bindings=wrong)
    negotiate = client.step()
    assert negotiate is not None
    first = session.post(o.ews_url, headers={"Authorization": "NTLM " + base64.b64encode(negotiate).decode()})
    challenge = base64.b64decode(first.headers["WWW-Authenticate"].split(" ", 1)[1])
    authenticate = client.step(challenge)
    assert authenticate is not None
    final = session.post(o.ews_url, headers={"Authorization": "NTLM " + base64.b64encode(authenticate).decode()})
    assert final.status_code == 401


def test_unauthenticated_probe_lists_the_schemes(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("negotiate-only").state
    normal = make_lab().state
    offered = session_for(state).post(state.onprem.ews_url).headers.get("WWW-Authenticate")
    assert offered == "Negotiate"
    schemes = [
        v.split()[0] for v in session_for(normal).post(normal.onprem.ews_url).raw.headers.getlist("WWW-Authenticate")
    ]
    assert schemes == ["NTLM", "Negotiate", "Basic"]


def test_negotiate_only_defeats_exchangelibs_probe(
    make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None]
) -> None:
    state = make_lab("negotiate-only").state
    exchangelib_for(state)
    with pytest.raises(TransportError):
        ews_onprem(state, None).root  # noqa: B018


def test_bad_password(make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None]) -> None:
    state = make_lab("bad-password").state
    exchangelib_for(state)
    for auth in (NTLM, BASIC):
        with pytest.raises(UnauthorizedError):
            ews_onprem(state, auth).root  # noqa: B018


def test_admin_without_mailbox(make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None]) -> None:
    state = make_lab("admin-no-mailbox").state
    exchangelib_for(state)
    with pytest.raises(ErrorMissingEmailAddress):
        ews_onprem(state, NTLM).root  # noqa: B018
    assert _settings(state, state.onprem.admin_upn).error_code == "InvalidUser"


def _settings(state: LabState, mailbox: str) -> Any:
    o = state.onprem
    protocol = AutodiscoverProtocol(
        config=Configuration(
            service_endpoint=o.autodiscover_url,
            credentials=Credentials(o.admin_upn, o.admin_password),
            auth_type=NTLM,
            retry_policy=FailFast(),
        )
    )
    return protocol.get_user_settings(user=mailbox)


def test_autodiscover_get_user_settings(
    make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None]
) -> None:
    state = make_lab().state
    exchangelib_for(state)
    response = _settings(state, state.onprem.admin_upn)
    host, port = state.onprem.server_fqdn.split(":")
    assert response.ews_url == f"https://{host}:{port}/EWS/Exchange.asmx"
    assert response.autodiscover_smtp_address == state.onprem.admin_upn
    assert response.version.api_version == "Exchange2016"


def test_autodiscover_internal_only(make_lab: Callable[..., Lab], exchangelib_for: Callable[[LabState], None]) -> None:
    state = make_lab("autodiscover-internal-only").state
    exchangelib_for(state)
    response = _settings(state, state.onprem.admin_upn)
    assert response.ews_url is None  # what makes exchangelib's own autodiscover fail
    assert response.user_settings["internal_ews_url"].endswith("/EWS/Exchange.asmx")


def test_autodiscover_broken(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("autodiscover-broken").state
    answer = session_for(state).post(state.onprem.autodiscover_url, data=b"<x/>")
    assert answer.status_code == 500 and "Server Error in '/Autodiscover' Application" in answer.text


def test_dns_records(make_lab: Callable[..., Lab]) -> None:
    state = make_lab().state
    r = resolver(state)
    port = int(state.onprem.server.split(":")[1])
    assert [a.to_text() for a in r.resolve("exch01.fabrikam.test", "A")] == ["127.0.0.1"]
    assert [a.to_text() for a in r.resolve("autodiscover.fabrikam.test", "A")] == ["127.0.0.1"]
    (srv,) = r.resolve("_autodiscover._tcp.fabrikam.test", "SRV")
    assert (srv.port, srv.target.to_text()) == (port, "exch01.fabrikam.test.")
    with pytest.raises(dns.resolver.NXDOMAIN):
        r.resolve("nothing.fabrikam.test", "A")


def test_dns_srv_only(make_lab: Callable[..., Lab]) -> None:
    r = resolver(make_lab("autodiscover-srv-only").state)
    for name in ("fabrikam.test", "autodiscover.fabrikam.test"):
        with pytest.raises(dns.resolver.NXDOMAIN):
            r.resolve(name, "A")
    assert r.resolve("_autodiscover._tcp.fabrikam.test", "SRV")


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [("untrusted-cert", "unable to get local issuer certificate"), ("name-mismatch", "Hostname mismatch")],
)
def test_tls_scenarios(make_lab: Callable[..., Lab], scenario: str, reason: str) -> None:
    state = make_lab(scenario).state
    with pytest.raises(requests.exceptions.SSLError, match=reason):
        session_for(state).get(state.onprem.ews_url)


def test_pinned_fingerprint_matches_the_served_certificate(make_lab: Callable[..., Lab]) -> None:
    import hashlib

    state = make_lab("untrusted-cert").state
    host, port = state.onprem.server_ip.split(":")
    der = ssl.get_server_certificate((host, int(port)))
    assert hashlib.sha256(ssl.PEM_cert_to_DER_cert(der)).hexdigest().upper() == state.onprem.certificate_sha256


def test_server_down_accepts_and_never_answers(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("server-down").state
    with pytest.raises((requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError)):
        session_for(state).get(state.onprem.ews_url, timeout=(0.5, 0.5))
