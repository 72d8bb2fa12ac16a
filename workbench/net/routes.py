"""Per-host routing and trust for requests-based clients (exchangelib, pypsrp, the autodiscover trace).

A route says, for one host and port: connect to this IP (found through the connection's own DNS servers, while
SNI, the Host header and the certificate check keep the real name), trust this CA bundle, or accept exactly the
certificate with this SHA-256 fingerprint. Hosts without a route are verified exactly as the system and the
environment say. Verification is never switched off for anyone: a pin replaces the chain check for the pinned
host only, with the fingerprint check that urllib3 performs on every handshake.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


@dataclass(frozen=True, slots=True)
class Route:
    connect_to: str | None = None  # IP address to connect to instead of resolving the name
    ca_bundle: str | None = None
    pin_sha256: str | None = None  # upper hex


_routes: dict[tuple[str, int], Route] = {}
_lock = threading.Lock()


def set_route(host: str, port: int, route: Route) -> None:
    with _lock:
        _routes[(host.lower(), port)] = route


def route_for(url: str) -> Route | None:
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    with _lock:
        return _routes.get((parts.hostname.lower(), parts.port or 443))


class RoutingAdapter(HTTPAdapter):
    """An HTTPAdapter that applies the route of the request's host, if it has one."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        route = route_for(request.url or "")
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
        route = route_for(url)
        if route is not None and route.pin_sha256:
            super().cert_verify(conn, url, False, cert)
            conn.assert_fingerprint = route.pin_sha256  # checked by urllib3 on every handshake
            return
        if route is not None and route.ca_bundle:
            verify = route.ca_bundle
        super().cert_verify(conn, url, verify, cert)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        route = route_for(request.url or "")
        if route is not None and route.connect_to:
            request.headers["Host"] = urlsplit(request.url or "").netloc
        return super().send(request, *args, **kwargs)


def session() -> requests.Session:
    """A requests session whose HTTPS traffic follows the routes (proxies from the environment still apply)."""
    s = requests.Session()
    s.mount("https://", RoutingAdapter(max_retries=0))
    return s
