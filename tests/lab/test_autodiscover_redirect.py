"""The lab's autodiscover redirect scenarios, through unmodified dnspython and requests: only the plain-HTTP
redirect of `http://autodiscover.<domain>/autodiscover/autodiscover.xml` leads to the server, the redirect site
answers nothing but that GET probe, and the POX URL it points to refuses a SOAP request."""

from __future__ import annotations

from collections.abc import Callable

import dns.resolver
import pytest
import requests

from tests.lab.conftest import session_for
from tests.lab.test_onprem_ews import resolver
from workbench.lab import Lab, LabState
from workbench.lab.autodiscover import FOREIGN_HOST
from workbench.lab.http import LabServer, Router

XML = "/autodiscover/autodiscover.xml"
SOAP = (
    b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    b'<a:GetUserSettingsRequestMessage xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover"/>'
    b"</s:Body></s:Envelope>"
)


def site(state: LabState) -> str:
    """The redirect site as a client reaches it: autodiscover.<domain> through the lab's DNS, then port 80."""
    address = str(resolver(state).resolve(f"autodiscover.{state.onprem.domain}.", "A")[0])
    assert address.startswith("127.") and address != "127.0.0.1"  # its own loopback address, never a public one
    assert state.onprem.redirect_site == f"{address}:80"
    return address


def plain(state: LabState) -> requests.Session:
    s = session_for(state)
    s.headers["Host"] = f"autodiscover.{state.onprem.domain}"
    return s


@pytest.mark.parametrize(
    ("scenario", "host"),
    [("autodiscover-redirect", "exch01.fabrikam.test"), ("autodiscover-redirect-foreign", FOREIGN_HOST)],
)
def test_the_xml_probe_is_answered_with_a_302_to_https(make_lab: Callable[..., Lab], scenario: str, host: str) -> None:
    state = make_lab(scenario).state
    port = state.onprem.server_fqdn.rsplit(":", 1)[1]
    answer = plain(state).get(f"http://{site(state)}{XML}", allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"https://{host}:{port}{XML}"
    assert "Authorization" not in answer.request.headers  # an anonymous probe


def test_the_redirect_site_answers_nothing_but_the_probe(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("autodiscover-redirect").state
    base = f"http://{site(state)}"
    with plain(state) as s:
        assert s.get(f"{base}/autodiscover/autodiscover.svc", allow_redirects=False, timeout=5).status_code == 404
        assert s.post(f"{base}{XML}", data=SOAP, allow_redirects=False, timeout=5).status_code == 405
        assert s.post(f"{base}/autodiscover/autodiscover.svc", data=SOAP, timeout=5).status_code == 404


def test_only_the_redirect_leads_to_the_server(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("autodiscover-redirect").state
    r = resolver(state)
    domain = state.onprem.domain
    with pytest.raises(dns.resolver.NXDOMAIN):
        r.resolve(f"{domain}.", "A")
    with pytest.raises((dns.resolver.NXDOMAIN, dns.resolver.NoAnswer)):
        r.resolve(f"_autodiscover._tcp.{domain}.", "SRV")
    with pytest.raises(requests.exceptions.ConnectionError):  # no https autodiscover at autodiscover.<domain>
        session_for(state).post(f"https://{site(state)}/autodiscover/autodiscover.svc", data=SOAP, timeout=5)


def test_the_foreign_host_is_in_another_dns_domain_the_lab_serves(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("autodiscover-redirect-foreign").state
    assert not FOREIGN_HOST.endswith(f".{state.onprem.domain}")
    assert str(resolver(state).resolve(f"{FOREIGN_HOST}.", "A")[0]) == "127.0.0.1"


def test_the_pox_url_refuses_a_soap_request_after_authentication(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("autodiscover-redirect").state
    o = state.onprem
    url = f"https://{o.server}{XML}"
    with session_for(state) as s:
        assert s.post(url, data=SOAP, timeout=5).status_code == 401  # authentication first, as everywhere
        answer = s.post(url, data=SOAP, auth=(o.admin_upn, o.admin_password), timeout=5)
        browsed = s.get(url, auth=(o.admin_upn, o.admin_password), timeout=5)
    for refused in (answer, browsed):
        assert refused.status_code == 200
        assert "<ErrorCode>600</ErrorCode><Message>Invalid Request</Message>" in refused.text


def test_the_lab_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LabServer("outside", Router(), None, address=("0.0.0.0", 0))


def test_the_two_redirect_scenarios_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="exclude"):
        Lab("autodiscover-redirect,autodiscover-redirect-foreign")
