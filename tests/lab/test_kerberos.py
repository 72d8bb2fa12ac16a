"""The lab's Kerberos realm (a real MIT KDC on loopback) and Exchange's /PowerShell taking Kerberos only, through
unmodified clients: pypsrp with auth="kerberos", pyspnego, python-gssapi; and the workbench's own ticket requests
(`workbench.net.kerberos`), one process serving two organisations with the same realm name."""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import hashlib
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import spnego

from tests.lab.conftest import kerberos_profile, powershell, run_cmdlet
from workbench.lab import Lab, LabState
from workbench.model import PowerShellAuth, Secret
from workbench.net import kerberos
from workbench.net import powershell as ps
from workbench.net.kerberos import KerberosError, KerberosProblem
from workbench.net.routes import Route, RouteTable, bind

pytestmark = pytest.mark.kerberos


def locate(state: LabState, **overrides: object) -> kerberos.Realm:
    o = state.onprem
    host = o.server_fqdn.split(":")[0]
    arguments: dict[str, object] = {"realm": None, "kdc": None, "dns_servers": (o.dns,), "timeout": 5.0}
    return kerberos.locate(o.admin_upn, host, **(arguments | overrides))  # type: ignore[arg-type]


def open_pool(state: LabState, ticket: kerberos.Ticket) -> object:
    o = state.onprem
    host, port = o.server_fqdn.split(":")
    table = RouteTable()
    table.set(host, int(port), Route(connect_to="127.0.0.1", ca_bundle=state.ca_bundle))
    with bind(table):
        return ps.open_pool(host, int(port), PowerShellAuth.KERBEROS, o.admin_upn, Secret(o.admin_password), 10, ticket)


def test_state_and_dns_publish_the_realm(healthy_lab: Lab) -> None:
    o = healthy_lab.state.onprem
    assert o.kerberos is not None
    assert (o.kerberos.realm, o.kerberos.spn) == ("FABRIKAM.TEST", "HTTP/exch01.fabrikam.test")
    realm = locate(healthy_lab.state)  # through the lab's DNS: SRV _kerberos._tcp.fabrikam.test -> dc01
    assert realm.kdcs == (("127.0.0.1", int(o.kerberos.kdc.rsplit(":", 1)[1])),)
    assert (realm.principal, realm.spn) == ("administrator@FABRIKAM.TEST", "HTTP/exch01.fabrikam.test@FABRIKAM.TEST")


def test_unmodified_pypsrp_with_kerberos(healthy_lab: Lab) -> None:
    with powershell(healthy_lab.state, "kerberos") as pool:
        server = run_cmdlet(pool, "Get-ExchangeServer").output[0].adapted_properties
    assert server["Fqdn"] == "exch01.fabrikam.test"


def test_the_kdc_requires_pre_authentication_as_active_directory_does(healthy_lab: Lab) -> None:
    """The first AS-REQ (no pre-authentication data) is answered "Additional pre-authentication required", as a
    domain controller answers it: the KDC hands out nothing encrypted with the password's key before proof."""
    import sys

    profile = kerberos_profile(healthy_lab.state)
    script = (
        "import krb5, sys\n"
        "c = krb5.init_context()\n"
        "p = krb5.parse_name_flags(c, b'administrator@FABRIKAM.TEST')\n"
        "krb5.get_init_creds_password(c, p, krb5.get_init_creds_opt_alloc(c), sys.stdin.read().encode())\n"
    )
    environment = {"KRB5_CONFIG": str(profile), "KRB5_TRACE": "/dev/stderr", "KRB5CCNAME": "MEMORY:t"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=healthy_lab.state.onprem.admin_password,
        capture_output=True,
        text=True,
        env=environment,
        timeout=30,
        check=True,
    )
    assert "Additional pre-authentication required" in done.stderr
    assert "Received error from KDC" in done.stderr


def test_ntlm_inside_negotiate_is_refused_on_powershell(healthy_lab: Lab) -> None:
    """A SPNEGO token that offers NTLM first (what Negotiate sends without Kerberos) is refused on /PowerShell,
    while EWS takes it."""
    o = healthy_lab.state.onprem
    context = ssl.create_default_context(cafile=healthy_lab.state.ca_bundle)
    base = o.ews_url.rsplit("/EWS/", 1)[0]
    with httpx.Client(verify=context, trust_env=False, timeout=10) as client:
        for path, accepted in (("/PowerShell", False), ("/EWS/Exchange.asmx", True)):
            client.post(base + path, content=b"")
            ntlm = spnego.client(o.admin_upn, o.admin_password, protocol="ntlm")
            token = ntlm.step()
            assert token is not None
            answer = client.post(
                base + path, content=b"<x/>", headers={"Authorization": f"Negotiate {base64.b64encode(token).decode()}"}
            )
            offered = answer.headers.get("WWW-Authenticate", "")
            challenged = answer.status_code == 401 and len(offered.split(" ", 1)) == 2  # an NTLM CHALLENGE
            assert challenged is accepted, (path, answer.status_code, offered)


@pytest.mark.parametrize(
    ("path", "binding", "accepted"),
    [
        ("/PowerShell", "right", True),
        ("/PowerShell", "absent", False),  # Extended Protection: Require
        ("/PowerShell", "wrong", False),
        ("/EWS/Exchange.asmx", "absent", True),  # Allow
        ("/EWS/Exchange.asmx", "wrong", False),
    ],
)
def test_kerberos_channel_binding_per_virtual_directory(
    healthy_lab: Lab, path: str, binding: str, accepted: bool
) -> None:
    import gssapi

    state = healthy_lab.state
    realm = locate(state)
    ticket = kerberos.obtain(realm, Secret(state.onprem.admin_password), 10)
    try:
        context = ssl.create_default_context(cafile=state.ca_bundle)
        url = state.onprem.ews_url.rsplit("/EWS/", 1)[0] + path
        with httpx.Client(verify=context, trust_env=False, timeout=10) as client:
            first = client.post(url, content=b"")
            assert "Negotiate" in first.headers.get_list("WWW-Authenticate")
            stream = first.extensions["network_stream"]
            der = stream.get_extra_info("ssl_object").getpeercert(True) if binding == "right" else b"other"
            bindings = (
                None
                if binding == "absent"
                else gssapi.raw.ChannelBindings(
                    application_data=b"tls-server-end-point:" + hashlib.sha256(der).digest()
                )
            )
            client_context = gssapi.SecurityContext(
                name=gssapi.Name(realm.spn, gssapi.NameType.kerberos_principal),
                creds=gssapi.Credentials(usage="initiate", store={b"ccache": ticket.cache_name}),
                usage="initiate",
                mech=gssapi.MechType.kerberos,
                channel_bindings=bindings,
            )
            token = client_context.step()
            assert token is not None
            answer = client.post(
                url, content=b"", headers={"Authorization": f"Negotiate {base64.b64encode(token).decode()}"}
            )
        assert (answer.status_code != 401) is accepted, answer.status_code
    finally:
        ticket.close()


def test_ticket_failures_have_their_own_kinds(healthy_lab: Lab) -> None:
    state = healthy_lab.state
    realm = locate(state)
    cases = [
        (realm, "wrong password", KerberosProblem.PREAUTH_FAILED),
        (dataclasses.replace(realm, principal="ghost@FABRIKAM.TEST"), None, KerberosProblem.UNKNOWN_PRINCIPAL),
        (dataclasses.replace(realm, spn="HTTP/mail.fabrikam.test@FABRIKAM.TEST"), None, KerberosProblem.NO_SPN),
        (dataclasses.replace(realm, kdcs=(("127.0.0.1", 9),)), None, KerberosProblem.KDC_UNREACHABLE),
    ]
    for where, password, kind in cases:
        with pytest.raises(KerberosError) as caught:
            kerberos.obtain(where, Secret(password or state.onprem.admin_password), 10)
        assert caught.value.problem is kind, caught.value.message
    with pytest.raises(KerberosError) as by_ip:  # no KDC is asked: an address has no service principal
        kerberos.locate("a@fabrikam.test", "127.0.0.1", realm=None, kdc=None, dns_servers=(), timeout=1)
    assert by_ip.value.problem is KerberosProblem.NO_SPN
    with pytest.raises(KerberosError) as no_srv:
        locate(state, realm="OTHER.TEST")
    assert no_srv.value.problem is KerberosProblem.KDC_NOT_FOUND


def test_the_ticket_request_writes_nothing_to_disk(
    healthy_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ticket = kerberos.obtain(locate(healthy_lab.state), Secret(healthy_lab.state.onprem.admin_password), 10)
    try:
        assert ticket.cache_name.startswith(b"MEMORY:")
        assert list(tmp_path.iterdir()) == []  # the profile's folder is gone; no ticket cache was ever a file
        assert "password" not in repr(ticket).lower() and healthy_lab.state.onprem.admin_password not in repr(ticket)
    finally:
        ticket.close()


def test_two_organisations_with_one_realm_name_in_one_process(make_lab: Callable[..., Lab]) -> None:
    """Two labs are two forests that both call themselves FABRIKAM.TEST, each with its own KDC and keys. Verified
    at once in one process, each run's ticket comes from its own KDC and opens only its own server."""
    first, second = make_lab().state, make_lab().state
    assert first.onprem.kerberos and second.onprem.kerberos
    assert first.onprem.kerberos.kdc != second.onprem.kerberos.kdc

    def ticket_for(state: LabState) -> kerberos.Ticket:
        return kerberos.obtain(locate(state), Secret(state.onprem.admin_password), 10)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        tickets = list(pool.map(ticket_for, [first, second, first, second]))
    try:
        for state, ticket in zip([first, second, first, second], tickets, strict=True):
            runspace = open_pool(state, ticket)
            assert ps.run(runspace, "Get-ExchangeServer").output
            runspace.close()  # type: ignore[attr-defined]
        from pypsrp.exceptions import AuthenticationError

        with pytest.raises(AuthenticationError):  # the first forest's ticket means nothing to the second's server
            open_pool(second, tickets[0])
    finally:
        for ticket in tickets:
            ticket.close()


def test_without_kerberos_support_the_problem_says_what_to_install(tmp_path: Path) -> None:
    """In an interpreter where python-gssapi cannot be imported, obtain() fails as NOT_INSTALLED with the commands."""
    script = (
        "import sys; sys.modules['gssapi'] = None\n"
        "from workbench.net import kerberos\n"
        "from workbench.model import Secret\n"
        "realm = kerberos.Realm('FABRIKAM.TEST', (('127.0.0.1', 9),), 'a@FABRIKAM.TEST', 'HTTP/x@FABRIKAM.TEST')\n"
        "try:\n    kerberos.obtain(realm, Secret('x'), 1)\n"
        "except kerberos.KerberosError as e:\n    print(e.problem.value, '|', e.message)\n"
    )
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.startswith("not-installed | Kerberos support is not installed (gssapi is missing)")


def test_a_server_that_does_not_prove_itself_is_not_believed(healthy_lab: Lab, tmp_path: Path) -> None:
    """Mutual authentication: a server that takes the ticket and answers 200 without Kerberos's reply (anyone can,
    a ticket is not proof of the server) is refused before its answer reaches pypsrp."""
    from tests.fakeserver import https_server, recorder, self_signed
    from workbench.net.routes import session

    class Accepting(recorder()):  # type: ignore[misc]
        def _answer(self) -> None:
            type(self).seen.append(dict(self.headers.items()))
            self.send_response(200 if self.headers.get("Authorization") else 401)
            if not self.headers.get("Authorization"):
                self.send_header("WWW-Authenticate", "Negotiate")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

    pem, sha256 = self_signed(tmp_path, "exch01.fabrikam.test")
    ticket = kerberos.obtain(locate(healthy_lab.state), Secret(healthy_lab.state.onprem.admin_password), 10)
    try:
        with https_server(pem, Accepting) as port:
            table = RouteTable()
            table.set("127.0.0.1", port, Route(pin_sha256=sha256))
            client = session(table)
            client.auth = kerberos.KerberosAuth(ticket)
            with pytest.raises(KerberosError, match="did not prove its identity"):
                client.post(f"https://127.0.0.1:{port}/PowerShell", data=b"", timeout=10)
        assert any(h.get("Authorization", "").startswith("Negotiate ") for h in Accepting.seen)
    finally:
        ticket.close()


def test_an_ntlm_connection_to_ews_does_not_open_powershell(healthy_lab: Lab) -> None:
    """IIS authenticates each request against its own directory: a connection NTLM-authenticated for /EWS carries
    no identity to /PowerShell, which takes Kerberos only (the lab once reused it for any directory)."""
    from requests_ntlm import HttpNtlmAuth

    from tests.lab.conftest import session_for

    state = healthy_lab.state
    base = state.onprem.ews_url.rsplit("/EWS/", 1)[0]
    with session_for(state) as client:
        client.auth = HttpNtlmAuth(state.onprem.admin_upn, state.onprem.admin_password)
        assert client.post(f"{base}/EWS/Exchange.asmx", data=b"<x/>").status_code != 401
        client.auth = None
        again = client.post(f"{base}/EWS/Exchange.asmx", data=b"<x/>")
        assert again.status_code != 401  # the same connection stays authenticated for EWS, as IIS keeps it
        refused = client.post(f"{base}/PowerShell", data=b"")
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Negotiate"
