"""A certificate in the personal certificate store (the public part; its key lives in the vault)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CertificateSource(StrEnum):
    PFX = "pfx"
    PEM = "pem"
    GENERATED = "generated"


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateInfo:
    thumbprint: str  # SHA-1 of the DER, upper-case hex (Windows certmgr, Entra "Certificates & secrets")
    sha256: str  # SHA-256 of the DER, upper-case hex
    subject: str  # RFC 4514, e.g. "CN=Exchange Workbench"
    issuer: str
    serial: str  # hex
    not_before: datetime
    not_after: datetime
    key_size: int
    source: CertificateSource
    added: datetime
    cert_pem: str

    def expired(self, now: datetime) -> bool:
        return now >= self.not_after

    def days_left(self, now: datetime) -> int:
        return (self.not_after - now).days
