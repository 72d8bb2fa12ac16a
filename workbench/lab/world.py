"""What the lab's services share: the tenant, the token issuer, the scenarios and where each service listens."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .http import Response
from .tenant import Tenant
from .tokens import TokenIssuer


@dataclass
class World:
    tenant: Tenant
    issuer: TokenIssuer
    scenarios: frozenset[str]
    auto_approve: float | None = None  # seconds after which a device code is approved as the seeded admin
    device_interval: int = 1  # Entra says 5; the lab polls faster so tests and the demo do not wait
    throttle_first: int = 2  # graph-throttled: requests per client answered 429 before the rest pass
    retry_after: int = 1
    login_url: str = ""
    graph_url: str = ""
    outlook_url: str = ""
    _counters: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def has(self, scenario: str) -> bool:
        return scenario in self.scenarios

    def bump(self, key: str) -> int:
        """How many times `key` was seen before (thread-safe), for faults that hit the first N requests."""
        with self._lock:
            seen = self._counters.get(key, 0)
            self._counters[key] = seen + 1
            return seen


class Service:
    """A lab service of the Microsoft 365 tenant."""

    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def tenant(self) -> Tenant:
        return self.world.tenant


def now() -> datetime:
    return datetime.now(UTC)


def graph_error(status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """Microsoft Graph's error body: {"error": {"code", "message", "innerError": {...}}}."""
    stamp = now().strftime("%Y-%m-%dT%H:%M:%S")
    request_id = str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": stamp, "request-id": request_id, "client-request-id": request_id},
        }
    }
    return Response.json(status, body, headers)
