"""Microsoft Graph over httpx: bearer token, the connection's CA bundle, Graph's error bodies, and throttling
(429/503 with Retry-After) retried a bounded number of times. Each request has a wall-clock deadline (its connect
and read timeouts added up, as for requests: `workbench.net.adapter`), past which it fails as a read timeout."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from workbench.model import Secret

from . import deadline
from .httpx_deadline import total_timeout, watch_client

MAX_RETRIES = 3
MAX_WAIT = 30.0
MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class GraphError(Exception):
    status: int
    code: str
    message: str
    request_id: str | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        rid = f" (request-id {self.request_id})" if self.request_id else ""
        return f"HTTP {self.status} {self.code}: {self.message}{rid}"


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()


class Graph:
    def __init__(
        self,
        graph_url: str,
        token: Secret,
        *,
        ca_bundle: str | None,
        timeout: float,
        on_throttle: Callable[[float], None] | None = None,
    ) -> None:
        self._client = watch_client(
            httpx.Client(
                base_url=f"{graph_url}/v1.0",
                verify=ssl_context(ca_bundle),
                timeout=timeout,
                headers={"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"},
            )
        )
        self._watchdog = deadline.Watchdog("graph-deadlines")  # used outside a verification run only
        self._on_throttle = on_throttle

    def throttled(self, on_throttle: Callable[[float], None]) -> Graph:
        """The same connection pool, reporting throttling waits to `on_throttle` (one view per check)."""
        view = object.__new__(Graph)
        view._client = self._client
        view._watchdog = self._watchdog
        view._on_throttle = on_throttle
        return view

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, **params: str) -> dict[str, Any]:
        return self.send("GET", path, params=params)[1]

    def get_all(self, path: str, params: dict[str, str] | None = None, max_pages: int = MAX_PAGES) -> list[Any]:
        """Every item of a collection, following `@odata.nextLink` (at most `max_pages` pages). A next link to
        another host is refused: the bearer token goes only where this client was pointed."""
        body = self.send("GET", path, params=params)[1]
        items: list[Any] = list(body.get("value") or [])
        for _ in range(max_pages - 1):
            link = body.get("@odata.nextLink")
            if not isinstance(link, str) or not link:
                return items
            if httpx.URL(link).copy_with(path="/", query=None, fragment=None) != self._client.base_url.copy_with(
                path="/", query=None, fragment=None
            ):
                raise GraphError(0, "UntrustedNextLink", f"Graph's next page points at another host: {link[:200]}")
            body = self.send("GET", link)[1]
            items += list(body.get("value") or [])
        raise GraphError(0, "TooManyPages", f"{path} has more than {max_pages} pages; stopped reading")

    def send(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One request: (status, JSON body or {} when there is none), or GraphError. Throttling is waited out."""
        for attempt in range(MAX_RETRIES + 1):
            response = self._request(method, path, params=params or None, json=body, headers=headers)
            if response.status_code < 400:
                try:
                    parsed = response.json() if response.content else {}
                except ValueError:
                    parsed = {}
                return response.status_code, parsed if isinstance(parsed, dict) else {}
            error = _error(response)
            if error.status in (429, 503) and attempt < MAX_RETRIES:
                wait = min(error.retry_after or 2.0 * (attempt + 1), MAX_WAIT)
                if self._on_throttle:
                    self._on_throttle(wait)
                time.sleep(wait)
                continue
            raise error
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request and its whole answer, within its deadline."""
        seconds = total_timeout(self._client.timeout)
        with deadline.within(seconds, self._watchdog) as limit:
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                if limit.ended:
                    raise _late(limit) from error
                raise
            if limit.ended:  # cut short where the connection was shut down
                raise _late(limit)
            return response


def _late(limit: deadline.Deadline) -> httpx.ReadTimeout:
    if limit.expired:
        return httpx.ReadTimeout(f"Read timed out: Graph's answer did not come complete within {limit.seconds:g} s")
    return httpx.ReadTimeout("Read timed out: the request was given up before Graph's answer came complete")


def _error(response: httpx.Response) -> GraphError:
    retry_after = response.headers.get("Retry-After")
    try:
        parsed = response.json()
    except ValueError:
        parsed = {}
    found = parsed.get("error") if isinstance(parsed, dict) else None
    body: dict[str, Any] = found if isinstance(found, dict) else {}
    inner = body.get("innerError")
    inner = inner if isinstance(inner, dict) else {}
    return GraphError(
        response.status_code,
        str(body.get("code") or f"HTTP{response.status_code}"),
        str(body.get("message") or response.reason_phrase),
        inner.get("request-id"),
        _seconds(retry_after),
    )


def _seconds(value: str | None) -> float | None:
    """Retry-After as seconds; the HTTP-date form and anything malformed count as "not given"."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 3600 else None
