"""`--timeout` bounds every network call. A server that accepts the connection, offers Basic, and then never
answers once credentials arrive used to hold EWS for 30 s (exchangelib's process-wide timeout) and PowerShell for
25 s (a read-timeout floor) whatever the admin asked for."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from workbench.checks.events import Finished
from workbench.checks.target import Target
from workbench.drafts import OnPremDraft, Stamp
from workbench.model import Secret
from workbench.verification import Verification

RELEASE = threading.Event()


class HangsOnCredentials(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.headers.get("Authorization"):
            RELEASE.wait(60)  # hangs until the test ends (bounded)
            return
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="hang"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hanging_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hang")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path / "hang.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HangsOnCredentials)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    RELEASE.clear()
    try:
        yield server.server_address[1], hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    finally:
        RELEASE.set()
        server.shutdown()
        server.server_close()


def test_timeout_bounds_ews_and_powershell(hanging_server: tuple[int, str]) -> None:
    port, pin = hanging_server
    connection = OnPremDraft(
        admin_upn="admin@fabrikam.test", discovery="manual", server=f"127.0.0.1:{port}", pin_sha256=pin
    ).build("secret:pw", Stamp("hang", datetime.now(UTC)))
    target = Target(connection, lambda ref: Secret("pw"), lambda thumbprint: None, timeout=3.0)

    async def go() -> dict[str, Finished]:
        verification = Verification(target)
        try:
            return {e.check: e async for e in verification.events() if isinstance(e, Finished)}
        finally:
            verification.close()

    started = time.monotonic()
    result = asyncio.run(go())
    elapsed = time.monotonic() - started
    for check in ("onprem.ews", "onprem.powershell"):
        outcome = result[check].outcome
        assert outcome.problem is not None and outcome.problem.code == "TIMEOUT", (check, outcome.detail)
        assert result[check].duration_ms < 12_000, (check, result[check].duration_ms)  # 3 s asked; was 25-30 s
    assert elapsed < 20, elapsed
