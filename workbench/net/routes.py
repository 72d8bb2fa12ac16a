"""Per-host routing and trust for requests-based clients (exchangelib, pypsrp, the autodiscover trace), scoped to
one verification run.

A route says, for one host and port: connect to this IP (found through the connection's own DNS servers, while
SNI, the Host header and the certificate check keep the real name), trust this CA bundle, or accept exactly the
certificate with this SHA-256 fingerprint. Hosts without a route are verified exactly as the system and the
environment say. Verification is never switched off for anyone: a pin replaces the chain check for the pinned
host only, with the fingerprint check that urllib3 performs on every handshake.

Routes live in a `RouteTable` that belongs to one run. The run binds it (`bind`) in the context of every check,
and that context travels into the run's worker threads; an adapter takes the table bound where it is created and
keeps it for its whole life. Two runs in one process — even two organisations with the same host name — never see
each other's routes, and nothing is left behind when a run ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from .adapter import DeadlineAdapter


@dataclass(frozen=True, slots=True)
class Route:
    connect_to: str | None = None  # IP address to connect to instead of resolving the name
    ca_bundle: str | None = None
    pin_sha256: str | None = None  # upper hex


class RouteTable:
    """The routes one run decided on. Thread-safe: a run's checks add routes from several worker threads."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, int], Route] = {}
        self._lock = threading.Lock()

    def set(self, host: str, port: int, route: Route) -> None:
        with self._lock:
            self._routes[(host.lower(), port)] = route

    def get(self, url: str) -> Route | None:
        parts = urlsplit(url)
        default = {"https": 443, "http": 80}.get(parts.scheme.lower())
        if default is None or not parts.hostname:
            return None
        with self._lock:
            return self._routes.get((parts.hostname.lower(), parts.port or default))

    def __len__(self) -> int:
        with self._lock:
            return len(self._routes)


_current: ContextVar[RouteTable | None] = ContextVar("workbench_routes", default=None)


@contextlib.contextmanager
def bind(table: RouteTable) -> Iterator[RouteTable]:
    """Make `table` the current run's routes in this context (and in threads started from a copy of it)."""
    token = _current.set(table)
    try:
        yield table
    finally:
        _current.reset(token)


def run_context(table: RouteTable | None = None) -> contextvars.Context:
    """A copy of the caller's context with a route table of its own: what a run's checks execute in."""
    context = contextvars.copy_context()
    context.run(_current.set, table if table is not None else RouteTable())
    return context


def current() -> RouteTable:
    """The routes of the run this code works for. Setting a route outside a run is a programming error: a
    process-wide fallback is exactly what let one run's trust leak into the next."""
    table = _current.get()
    if table is None:
        raise RuntimeError("no route table is bound: network routes belong to a verification run")
    return table


def set_route(host: str, port: int, route: Route) -> None:
    current().set(host, port, route)


class RoutingAdapter(DeadlineAdapter):
    """An HTTPAdapter that applies its run's route for the request's host, if there is one. Without a table (no
    run bound where it was made) it is requests' own adapter, with a wall-clock deadline on every request."""

    def __init__(self, *args: Any, routes: RouteTable | None = None, **kwargs: Any) -> None:
        self.routes = routes if routes is not None else _current.get()
        super().__init__(*args, **kwargs)

    def _route(self, url: str) -> Route | None:
        return self.routes.get(url) if self.routes is not None else None

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        route = self._route(request.url or "")
        if route is not None:
            verify = False if route.pin_sha256 else (route.ca_bundle or verify)
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if route is not None:
            name = urlsplit(request.url or "").hostname or ""
            if route.connect_to:
                host_params["host"] = route.connect_to
                pool_kwargs["server_hostname"] = name
                pool_kwargs["assert_hostname"] = name
            if route.pin_sha256:
                pool_kwargs["assert_fingerprint"] = route.pin_sha256
                pool_kwargs["assert_hostname"] = False
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        route = self._route(url)
        if route is not None and route.pin_sha256:
            super().cert_verify(conn, url, False, cert)
            conn.assert_fingerprint = route.pin_sha256  # checked by urllib3 on every handshake
            return
        if route is not None and route.ca_bundle:
            verify = route.ca_bundle
        super().cert_verify(conn, url, verify, cert)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        route = self._route(request.url or "")
        if route is not None and route.connect_to:
            request.headers["Host"] = urlsplit(request.url or "").netloc
        return super().send(request, *args, **kwargs)


def session(routes: RouteTable | None = None) -> requests.Session:
    """A requests session whose traffic follows the run's routes (proxies from the environment still apply). Plain
    HTTP goes only where autodiscover's redirect probe asks: a route for it carries an address, never trust."""
    s = requests.Session()
    table = routes if routes is not None else current()
    s.mount("https://", RoutingAdapter(max_retries=0, routes=table))
    s.mount("http://", RoutingAdapter(max_retries=0, routes=table))
    return s
