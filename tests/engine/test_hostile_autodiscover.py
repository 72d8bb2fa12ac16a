"""Autodiscover's plain-HTTP redirect is unauthenticated and unencrypted: it may not send the admin's password
to another domain. (It did: a 302 from http://autodiscover.<domain> to any https host with a trusted certificate
received the Basic credentials.)"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakeserver import https_server, recorder, self_signed
from workbench.lab.dns import LabDns, Zone
from workbench.model import Secret
from workbench.net import routes
from workbench.net.autodiscover import Autodiscoverer, AutodiscoverFailed, RedirectNeedsPermission


def finder_for(dns: LabDns, *, ca_bundle: str | None = None, pin_sha256: str | None = None) -> Autodiscoverer:
    """Autodiscover for admin@evil.test through `dns`, with the trust given."""
    return Autodiscoverer(
        "admin@evil.test",
        Secret("S3cretPW"),
        dns_servers=(dns.address,),
        ca_bundle=ca_bundle,
        pin_sha256=pin_sha256,
        timeout=3,
        report=lambda index, line, status: None,
    )


@pytest.fixture
def redirector() -> Iterator[tuple[str, list[str]]]:
    """A plain-HTTP listener on 127.0.0.5:80 answering every request with a redirect set by the test."""
    target: list[str] = []
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.5", 80))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(4096)
                location = target[0] if target else "https://example.invalid/"
                connection.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "127.0.0.5", target
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def test_a_redirect_to_another_domain_gets_no_credentials(tmp_path: Path, redirector: tuple[str, list[str]]) -> None:
    address, target = redirector
    pem, _ = self_signed(tmp_path, "attacker.other")
    handler = recorder()
    with https_server(pem, handler, host="127.0.0.6") as port:
        target.append(f"https://attacker.other:{port}/autodiscover/autodiscover.svc")
        dns = LabDns(Zone(a={"autodiscover.evil.test": address, "attacker.other": "127.0.0.6"})).start()
        try:
            with routes.bind(routes.RouteTable()):
                finder = finder_for(dns, ca_bundle=str(pem))  # a trusted certificate does not make it acceptable
                with pytest.raises(RedirectNeedsPermission) as needs:
                    finder.discover()  # stops and asks: nothing was sent to the target yet
                assert needs.value.target.host == "attacker.other"
                assert handler.seen == []
                with pytest.raises(AutodiscoverFailed):
                    finder.without_redirect(needs.value.target)  # the admin said no: on to the SRV record
        finally:
            dns.stop()
    assert any("attacker.other is outside evil.test" in step for step in finder.steps), finder.steps
    assert handler.seen == []  # not even a probe


def test_a_redirect_answering_the_signed_in_request_is_not_followed(tmp_path: Path) -> None:
    """A server that took the admin's credentials may answer 307 to anywhere: requests would follow it (and
    requests_ntlm would sign in again there, over plain HTTP too). Autodiscover follows only its own protocol's
    steps: the redirect is a step result, and the host it names receives nothing."""
    pem, sha256 = self_signed(tmp_path, "evil.test")
    elsewhere = recorder()

    class Redirecting(recorder()):  # type: ignore[misc]
        location = ""

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            type(self).seen.append(dict(self.headers.items()))
            if self.headers.get("Authorization"):
                self.send_response(307)
                self.send_header("Location", type(self).location)
            else:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="evil"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

    with (
        https_server(pem, elsewhere, host="127.0.0.8") as other,
        https_server(pem, Redirecting, host="127.0.0.7", port=443),
    ):
        Redirecting.location = f"https://evil.test:{other}/autodiscover/autodiscover.svc"
        dns = LabDns(Zone(a={"evil.test": "127.0.0.7"})).start()
        try:
            with routes.bind(routes.RouteTable()):
                finder = finder_for(dns, pin_sha256=sha256)  # the admin trusts this server's certificate
                with pytest.raises(AutodiscoverFailed):
                    finder.discover()
        finally:
            dns.stop()
    assert any(h.get("Authorization") for h in Redirecting.seen), (finder.steps, Redirecting.seen, elsewhere.seen)
    assert elsewhere.seen == []  # and the host its 307 named got nothing, not even an anonymous request
    assert any("307" in step and "not followed" in step for step in finder.steps), finder.steps
