"""Autodiscover's HTTP redirect as Microsoft's protocol has it, against the lab: an anonymous GET of
http://autodiscover.<domain>/autodiscover/autodiscover.xml, a 301/302 to an https URL, then the SOAP request to
https://<that host>/autodiscover/autodiscover.svc. A redirect outside the admin's domain is followed only when the
admin allows that host — and until then not one request, let alone the password, goes there."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.engine.conftest import onprem_connection, verify
from workbench.checks.events import AwaitingConfirmation, ConfirmationRequest, Status
from workbench.checks.problems import Action
from workbench.lab import Lab
from workbench.lab.autodiscover import FOREIGN_HOST, start_redirect_site
from workbench.lab.dns import LabDns, Zone
from workbench.lab.http import LabServer, Request, Response, Router
from workbench.model import Secret
from workbench.net import routes
from workbench.net.autodiscover import Autodiscoverer, AutodiscoverFailed

PROBE = "http://autodiscover.fabrikam.test/autodiscover/autodiscover.xml"


def _trace(result: object) -> list[str]:
    return [p.message for p in result.progress() if p.check == "onprem.locate"]  # type: ignore[attr-defined]


@pytest.mark.kerberos
def test_the_http_redirect_leads_to_the_server(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("autodiscover-redirect")
    state = lab.state
    port = state.onprem.server_fqdn.rsplit(":", 1)[1]
    result = verify(state, onprem_connection(state))
    assert result.failures() == [], _trace(result)
    trace = _trace(result)
    assert f"GET {PROBE}: 302 to https://exch01.fabrikam.test:{port}/autodiscover/autodiscover.xml" in trace
    svc = f"POST https://exch01.fabrikam.test:{port}/autodiscover/autodiscover.svc: ExternalEwsUrl "
    assert any(line.startswith(svc) for line in trace), trace
    assert not [e for e in result.events if isinstance(e, AwaitingConfirmation)]  # its own domain: no question
    hits = lab.server("exchange").hits
    assert not [h for h in hits if h.path.lower().endswith(".xml")]  # the SOAP request never goes to the POX URL
    site = lab.server("autodiscover-redirect").hits
    assert [(h.method, h.path, h.authorization) for h in site] == [("GET", "/autodiscover/autodiscover.xml", "")]


def test_a_redirect_to_another_domain_is_not_followed_without_permission(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("autodiscover-redirect-foreign")
    state = lab.state
    result = verify(state, onprem_connection(state))  # the engine's default answer: no
    assert result.status("onprem.locate") is Status.FAILED
    outcome = result.checks["onprem.locate"].outcome
    assert outcome.problem is not None and outcome.problem.code == "AUTODISCOVER_REDIRECT_NOT_ALLOWED"
    assert FOREIGN_HOST in outcome.problem.title and FOREIGN_HOST in outcome.detail
    assert outcome.problem.action is not None and outcome.problem.action.kind is Action.ALLOW_AUTODISCOVER_REDIRECT
    assert outcome.problem.action.params["host"] == FOREIGN_HOST
    asked = [e.request for e in result.events if isinstance(e, AwaitingConfirmation)]
    assert [(r.action, r.server) for r in asked] == [(Action.ALLOW_AUTODISCOVER_REDIRECT, FOREIGN_HOST)]
    assert any(f"{FOREIGN_HOST} is outside fabrikam.test" in line for line in _trace(result))
    # The canary: not one request reached the foreign host, so neither did the password.
    assert [h for h in lab.server("exchange").hits if h.host == FOREIGN_HOST] == []


def test_a_redirect_to_another_domain_is_followed_once_the_admin_allows_that_host(
    make_lab: Callable[..., Lab],
) -> None:
    lab = make_lab("autodiscover-redirect-foreign")
    state = lab.state
    asked: list[ConfirmationRequest] = []

    async def allow_the_hoster(request: ConfirmationRequest) -> bool:
        asked.append(request)
        return request.action is Action.ALLOW_AUTODISCOVER_REDIRECT and request.server == FOREIGN_HOST

    result = verify(state, onprem_connection(state), confirm=allow_the_hoster)
    assert result.failures() == [], _trace(result)
    assert len(asked) == 1 and state.onprem.admin_upn in asked[0].question and FOREIGN_HOST in asked[0].question
    foreign = [h for h in lab.server("exchange").hits if h.host == FOREIGN_HOST]
    assert {h.path for h in foreign} == {"/autodiscover/autodiscover.svc"}
    assert any(h.authorization for h in foreign)


def test_an_srv_record_naming_another_domain_is_not_followed_without_permission(make_lab: Callable[..., Lab]) -> None:
    """DNS answers are no more authenticated than the HTTP redirect: an SRV record naming a host outside the
    admin's domain gets the same question, and until the answer not one request goes there (it used to get the
    signed-in request at once)."""
    lab = make_lab("autodiscover-srv-foreign")
    state = lab.state
    result = verify(state, onprem_connection(state))  # the engine's default answer: no
    outcome = result.checks["onprem.locate"].outcome
    assert result.status("onprem.locate") is Status.FAILED, _trace(result)
    assert outcome.problem is not None and outcome.problem.code == "AUTODISCOVER_REDIRECT_NOT_ALLOWED"
    assert "DNS SRV _autodiscover._tcp.fabrikam.test names" in outcome.problem.causes[0]
    asked = [e.request for e in result.events if isinstance(e, AwaitingConfirmation)]
    assert [(r.action, r.server) for r in asked] == [(Action.ALLOW_AUTODISCOVER_REDIRECT, FOREIGN_HOST)]
    assert "DNS answers are not authenticated" in dict(asked[0].details)["Risk"]
    assert [h for h in lab.server("exchange").hits if h.host.startswith(FOREIGN_HOST)] == []


@pytest.mark.kerberos
def test_an_srv_record_naming_another_domain_is_followed_once_allowed(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("autodiscover-srv-foreign")
    state = lab.state

    async def allow_the_hoster(request: ConfirmationRequest) -> bool:
        return request.action is Action.ALLOW_AUTODISCOVER_REDIRECT and request.server == FOREIGN_HOST

    result = verify(state, onprem_connection(state), confirm=allow_the_hoster)
    assert result.failures() == [], _trace(result)
    foreign = [h for h in lab.server("exchange").hits if h.host.startswith(FOREIGN_HOST)]
    assert foreign and all(h.path == "/autodiscover/autodiscover.svc" for h in foreign)


@pytest.fixture
def odd_site() -> Iterator[tuple[list[tuple[int, str]], str]]:
    """A redirect site on port 80 answering the probe as the test says, and a DNS zone that names it."""
    answers: list[tuple[int, str]] = []

    def probe(request: Request) -> Response:
        status, location = answers[0]
        response = Response.html(status, "<html></html>")
        if location:
            response.headers.append(("Location", location))
        return response

    router = Router()
    router.add("GET", r"/autodiscover/autodiscover\.xml", probe)
    import random

    site: LabServer = start_redirect_site(router, random.Random())
    dns = LabDns(Zone(a={"autodiscover.odd.test": site.host, "mail.odd.test": "127.0.0.1"})).start()
    try:
        yield answers, dns.address
    finally:
        dns.stop()
        site.stop()


@pytest.mark.parametrize(
    ("status", "location", "reason"),
    [
        (302, "http://mail.odd.test/autodiscover/autodiscover.xml", "HTTP 302 to a URL that is not https"),
        (307, "https://mail.odd.test/autodiscover/autodiscover.xml", "HTTP 307, not a 301 or 302 redirect"),
        (200, "", "HTTP 200, not a 301 or 302 redirect"),
        (301, "", "HTTP 301 without a Location"),
    ],
)
def test_anything_but_a_301_or_302_to_https_ends_the_step_with_its_reason(
    odd_site: tuple[list[tuple[int, str]], str], status: int, location: str, reason: str
) -> None:
    answers, dns = odd_site
    answers.append((status, location))
    with routes.bind(routes.RouteTable()):
        finder = Autodiscoverer(
            "admin@odd.test",
            Secret("S3cretPW"),
            dns_servers=(dns,),
            ca_bundle=None,
            pin_sha256=None,
            timeout=3,
            report=lambda index, line, status: None,
        )
        with pytest.raises(AutodiscoverFailed):
            finder.discover()
    probe = f"GET http://autodiscover.odd.test/autodiscover/autodiscover.xml: {reason}"
    assert any(step.startswith(probe) for step in finder.steps), finder.steps
