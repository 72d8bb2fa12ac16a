"""Extended Protection per virtual directory, as Exchange 2019 CU14+ sets it on the front end (EWS: Allow,
Autodiscover: None, PowerShell: Require) and with the strict scenario (Require everywhere). The NTLM handshakes
are made by pyspnego's client over httpx, with the TLS channel binding right, wrong, or absent. /PowerShell takes
NTLM only where an admin enabled Windows authentication, so these labs run `ps-windows-auth` (Kerberos's channel
binding is in test_kerberos.py)."""

from __future__ import annotations

import base64
import hashlib
import ssl
from collections.abc import Callable, Iterator

import httpx
import pytest
import spnego
from spnego.channel_bindings import GssChannelBindings

from workbench.lab import Lab


def ntlm_status(lab: Lab, path: str, binding: str) -> int:
    """The status of an NTLM-authenticated POST to `path` (one connection), the binding "right", "wrong" or
    "absent"."""
    o = lab.state.onprem
    url = o.ews_url.rsplit("/EWS/", 1)[0] + path
    context = ssl.create_default_context(cafile=lab.state.ca_bundle)
    with httpx.Client(verify=context, trust_env=False, timeout=10) as client:
        certificate = b""

        def bindings() -> GssChannelBindings | None:
            if binding == "absent":
                return None
            der = certificate if binding == "right" else b"another certificate"
            return GssChannelBindings(application_data=b"tls-server-end-point:" + hashlib.sha256(der).digest())

        first = client.post(url, content=b"")  # learn the certificate and the schemes
        stream = first.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        assert ssl_object is not None
        certificate = ssl_object.getpeercert(True)
        assert "NTLM" in first.headers.get_list("WWW-Authenticate")
        ntlm = spnego.client(o.admin_upn, o.admin_password, protocol="ntlm", channel_bindings=bindings())
        token = ntlm.step()
        assert token is not None
        body = b"<x/>"
        headers = {"Content-Type": "text/xml"}
        challenge = client.post(
            url, content=body, headers={**headers, "Authorization": "NTLM " + base64.b64encode(token).decode()}
        )
        assert challenge.status_code == 401
        reply = challenge.headers["WWW-Authenticate"].split(" ", 1)[1]
        final = ntlm.step(base64.b64decode(reply))
        assert final is not None
        answer = client.post(
            url, content=body, headers={**headers, "Authorization": "NTLM " + base64.b64encode(final).decode()}
        )
        return answer.status_code


@pytest.fixture(scope="module")
def cu14_lab() -> Iterator[Lab]:
    with Lab("ps-windows-auth", mailboxes=2) as lab:
        yield lab


@pytest.mark.parametrize(
    ("path", "binding", "accepted"),
    [
        ("/EWS/Exchange.asmx", "absent", True),  # Allow: no binding is fine
        ("/EWS/Exchange.asmx", "right", True),
        ("/EWS/Exchange.asmx", "wrong", False),  # ... a wrong one is not (a TLS-intercepting proxy)
        ("/autodiscover/autodiscover.svc", "wrong", True),  # None: not checked
        ("/PowerShell", "absent", False),  # Require
        ("/PowerShell", "right", True),
    ],
)
def test_cu14_defaults_per_virtual_directory(cu14_lab: Lab, path: str, binding: str, accepted: bool) -> None:
    status = ntlm_status(cu14_lab, path, binding)
    assert (status != 401) is accepted, status


def test_strict_scenario_requires_the_binding_everywhere(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("extended-protection-strict,ps-windows-auth", mailboxes=2)
    for path in ("/EWS/Exchange.asmx", "/autodiscover/autodiscover.svc", "/PowerShell"):
        assert ntlm_status(lab, path, "absent") == 401, path
        assert ntlm_status(lab, path, "right") != 401, path


@pytest.mark.parametrize("scheme", ["NTLM", "Negotiate"])
def test_the_ntlm_challenge_names_the_labs_server_and_domain(cu14_lab: Lab, scheme: str) -> None:
    from spnego._ntlm_raw.messages import AvId, Challenge
    from spnego._spnego import unpack_token

    o = cu14_lab.state.onprem
    url = o.ews_url
    context = ssl.create_default_context(cafile=cu14_lab.state.ca_bundle)
    with httpx.Client(verify=context, trust_env=False, timeout=10) as client:
        ntlm = spnego.client(o.admin_upn, o.admin_password, protocol=scheme.lower())
        token = ntlm.step()
        assert token is not None
        headers = {"Content-Type": "text/xml"}
        answer = client.post(
            url, content=b"<x/>", headers={**headers, "Authorization": f"{scheme} {base64.b64encode(token).decode()}"}
        )
        reply = base64.b64decode(answer.headers["WWW-Authenticate"].split(" ", 1)[1])
        raw = reply if reply.startswith(b"NTLMSSP\x00") else unpack_token(reply).response_token
        names = Challenge.unpack(raw).target_info
        assert names is not None
        assert names[AvId.nb_domain_name] == "FABRIKAM" and names[AvId.nb_computer_name] == "EXCH01"
        assert (
            names[AvId.dns_computer_name] == "exch01.fabrikam.test" and names[AvId.dns_domain_name] == "fabrikam.test"
        )
        final = ntlm.step(reply)  # the client signs this very challenge (MIC): the handshake still completes
        assert final is not None
        done = client.post(
            url, content=b"<x/>", headers={**headers, "Authorization": f"{scheme} {base64.b64encode(final).decode()}"}
        )
        assert done.status_code != 401
