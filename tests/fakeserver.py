"""Small HTTPS servers on loopback for hostile tests: a self-signed certificate, and handlers that record what
clients send or hang once credentials arrive. Every server binds a loopback address and stops with its test."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def self_signed(folder: Path, common_name: str, ip: str | None = None) -> tuple[Path, str]:
    """A PEM file with a fresh self-signed certificate and its key, and the certificate's SHA-256 (upper hex).
    With `ip`, the certificate names that address (so the PEM file can serve as a CA bundle for it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    pem = folder / f"{common_name}-{x509.random_serial_number():x}.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return pem, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


class Recording(http.server.BaseHTTPRequestHandler):
    """Answers every request 401 (Basic offered) and records its headers. Subclass per server: `seen` is shared
    by the instances of one class."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, str]]] = []
    release: ClassVar[threading.Event] = threading.Event()
    hang_on_credentials: ClassVar[bool] = False

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        type(self).seen.append(dict(self.headers.items()))
        if self.hang_on_credentials and self.headers.get("Authorization"):
            type(self).release.wait(60)  # bounded: the fixture releases it when the test ends
            return
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="fake"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def recorder(hang_on_credentials: bool = False) -> type[Recording]:
    """A handler class of its own (its own `seen` list)."""
    attributes = {"seen": [], "release": threading.Event(), "hang_on_credentials": hang_on_credentials}
    return type("FakeExchange", (Recording,), attributes)


@contextlib.contextmanager
def https_server(pem: Path, handler: type[Recording], host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serve `handler` over TLS on a loopback address; yields the port."""
    assert host.startswith("127."), "fake servers listen on loopback only"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


class Trickling(Recording):
    """Reads the request, then answers one byte of a never-ending header every `interval` seconds: each read of
    the client gets something well within any read timeout, so only a wall-clock deadline ends the request. It
    stops when the client goes away (`gone` is set then) or the test ends. With `on_credentials`, a request
    without an Authorization header is answered 401 (Basic offered) at once, and only credentials are trickled."""

    interval: ClassVar[float] = 0.25
    on_credentials: ClassVar[bool] = False
    gone: ClassVar[threading.Event] = threading.Event()

    def _answer(self) -> None:
        if self.on_credentials and not self.headers.get("Authorization"):
            super()._answer()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        type(self).seen.append(dict(self.headers.items()))
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self.wfile.flush()
            while not type(self).release.wait(self.interval):
                self.wfile.write(b"a")
                self.wfile.flush()
        except OSError:  # the client gave up and closed the connection
            type(self).gone.set()
        self.close_connection = True

    do_GET = do_POST = _answer


def trickler(interval: float = 0.25, on_credentials: bool = False) -> type[Trickling]:
    """A trickling handler class of its own (its own `seen` list, release and gone events)."""
    attributes = {
        "seen": [],
        "release": threading.Event(),
        "gone": threading.Event(),
        "interval": interval,
        "on_credentials": on_credentials,
    }
    return type("TricklingServer", (Trickling,), attributes)
