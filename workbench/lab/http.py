"""A small HTTPS server for the lab: real TLS on loopback, HTTP/1.1 keep-alive, regex routes. (Without a TLS
context it serves plain HTTP: the autodiscover redirect site on port 80 is the one such listener.)

Each connection is served by its own thread and the TLS handshake happens in that thread, so a client that
connects and says nothing cannot stall the others. A connection carries a `state` dict across its requests,
which connection-oriented authentication (NTLM) needs.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_BODY = 16 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    connection: dict[str, Any]
    peer_certificate_der: bytes | None = None  # the server's own certificate, for channel binding
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None
    close: bool = False

    @classmethod
    def json(cls, status: int, value: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(status, json.dumps(value).encode(), headers or [], "application/json; charset=utf-8")

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        return cls(status, text.encode("utf-8"), [], "text/html; charset=utf-8")

    @classmethod
    def xml(cls, status: int, text: str | bytes, headers: list[tuple[str, str]] | None = None) -> Response:
        body = text.encode("utf-8") if isinstance(text, str) else text
        return cls(status, body, headers or [], "text/xml; charset=utf-8")

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


Handler = Callable[[Request], Response]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern + r"\Z"), handler))

    def routes(self) -> list[tuple[str, re.Pattern[str]]]:
        """What this router serves: (method, path pattern), in the order they are tried."""
        return [(method, pattern) for method, pattern, _ in self._routes]

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            allowed = True
            if method == request.method:
                request.params = {key: unquote(value) for key, value in match.groupdict().items() if value is not None}
                return handler(request)
        if allowed:
            return Response(405, b"Method Not Allowed", content_type="text/plain")
        return Response(404, b"Not Found", content_type="text/plain")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.state: dict[str, Any] = {}

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        lab = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            connection=self.state,
            peer_certificate_der=lab.certificate_der,
        )
        try:
            response = lab.router.dispatch(request)
        except Exception as error:  # noqa: BLE001  (a lab bug must show as a 500, not a dropped connection)
            response = Response(500, f"lab error: {error!r}".encode(), content_type="text/plain")
        lab.count(request, response)
        delay = lab.latency_for(request)
        if delay:
            time.sleep(delay)
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("request-id", str(uuid.uuid4()))
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LabServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.owner.silent:
            self.owner.hold(request)
            return
        # Headers and body go out as separate writes; without this, Nagle's algorithm and the client's delayed
        # ACK add ~40 ms to every small answer.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.owner.tls is None:
            self.RequestHandlerClass(request, client_address, self)  # type: ignore[arg-type]
            return
        try:
            tls = self.owner.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refused our certificate: that is the client's answer, not our error
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            with contextlib.suppress(OSError):
                tls.close()


@dataclass(frozen=True, slots=True)
class Hit:
    """One request as the lab saw it: which name the client asked for (Host) and whether it sent credentials."""

    host: str
    method: str
    path: str
    status: int
    authorization: str  # the scheme of the Authorization header ("Basic", "NTLM", "Negotiate"), or ""


class LabServer:
    """One HTTPS endpoint (plain HTTP when `tls` is None) on loopback; by default 127.0.0.1 with a free port."""

    def __init__(
        self,
        name: str,
        router: Router,
        tls: ssl.SSLContext | None,
        certificate_der: bytes | None = None,
        latency: Callable[[Request], float] | None = None,
        *,
        address: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        if not address[0].startswith("127."):
            raise ValueError("the lab listens on loopback only")
        self.name = name
        self.router = router
        self.tls = tls
        self.certificate_der = certificate_der
        self._latency = latency
        self.silent = False  # accept connections and never answer (a hung server)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self.requests: list[tuple[str, str, int]] = []
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = _Server(address, _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"lab-{name}", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{self.host}:{self.port}"

    def start(self) -> LabServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for held in self._held:
            with contextlib.suppress(OSError):
                held.close()

    def latency_for(self, request: Request) -> float:
        return self._latency(request) if self._latency else 0.0

    def count(self, request: Request, response: Response) -> None:
        scheme = (request.header("Authorization") or "").split(" ", 1)[0]
        host = urlsplit(f"//{request.header('Host') or ''}").hostname or ""
        with self._lock:
            self.requests.append((request.method, request.path, response.status))
            self.hits.append(Hit(host.lower(), request.method, request.path, response.status, scheme))

    def hold(self, connection: socket.socket) -> None:
        """Keep a connection open without answering until the lab stops."""
        with self._lock:
            self._held.append(connection)
        self._stopping.wait()


def server_tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
