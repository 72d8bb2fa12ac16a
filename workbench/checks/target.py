"""What a verification run needs besides the plan: the connection, where its secrets and certificate key come
from, the per-call network timeout and the clock (injected, so tests can freeze it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from workbench.model import CertificateInfo, Connection, Secret


class SecretUnavailable(Exception):
    """The vault (or the certificate store) could not be read: a replaced key file, a wrong passphrase, a damaged
    file. The message says which, and what to do."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Target:
    connection: Connection
    secret: Callable[[str], Secret | None]  # vault reference -> secret
    certificate: Callable[[str], tuple[CertificateInfo, Secret] | None]  # SHA-1 thumbprint -> (info, key PEM)
    timeout: float = 20.0
    now: Callable[[], datetime] = field(default=_utc_now)

    @property
    def name(self) -> str:
        return self.connection.name
