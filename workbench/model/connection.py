"""Connections: the things an admin defines, verifies and saves.

Frozen dataclasses; change one with `dataclasses.replace`. Nothing here holds a secret: client secrets and
passwords are referenced by vault id, certificate keys by thumbprint in the personal certificate store.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConnectionKind(StrEnum):
    M365 = "m365"
    ONPREM = "onprem"

    @property
    def label(self) -> str:
        return "Microsoft 365" if self is ConnectionKind.M365 else "On-premises Exchange"


class Cloud(StrEnum):
    GLOBAL = "global"
    USGOV_HIGH = "usgov-high"
    USGOV_DOD = "usgov-dod"
    CHINA = "china"
    CUSTOM = "custom"


class Registration(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class Discovery(StrEnum):
    AUTODISCOVER = "autodiscover"
    MANUAL = "manual"


class PowerShellAuth(StrEnum):
    """How remote PowerShell signs in. Exchange's PowerShell virtual directory takes Kerberos only, by default;
    Basic (over HTTPS) where an admin enabled it, which a server reached by IP address needs; NTLM only where an
    admin turned Windows authentication on."""

    KERBEROS = "kerberos"
    BASIC = "basic"
    NTLM = "ntlm"

    @property
    def label(self) -> str:
        return {"kerberos": "Kerberos", "basic": "Basic", "ntlm": "NTLM"}[self.value]


class TrustMode(StrEnum):
    SYSTEM = "system"
    CA_BUNDLE = "ca-bundle"
    PINNED = "pinned"


class VerificationStatus(StrEnum):
    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomEndpoints:
    """Endpoints of a sovereign or test cloud that is not in the built-in table."""

    authority_host: str
    graph_url: str
    ews_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateCredential:
    """App authenticates with a certificate whose private key is in the personal certificate store."""

    thumbprint: str  # SHA-1 of the DER, upper-case hex: what Entra and Windows show
    sha256: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSecretCredential:
    """App authenticates with a client secret kept in the vault. `secret_ref` is None when it was never set
    (for example after importing an export, which carries no secrets)."""

    secret_ref: str | None


Credential = CertificateCredential | ClientSecretCredential


@dataclass(frozen=True, slots=True, kw_only=True)
class AppRegistration:
    """What automatic registration created in Entra ID, kept so that editing reuses the same application."""

    app_object_id: str
    unique_name: str
    sign_in_client_id: str | None = None  # the public client the admin signs in to (None: the default)


@dataclass(frozen=True, slots=True, kw_only=True)
class M365Settings:
    tenant_id: str
    client_id: str
    app_account: str
    credential: Credential
    cloud: Cloud = Cloud.GLOBAL
    custom_endpoints: CustomEndpoints | None = None
    ca_bundle: str | None = None
    registration: Registration = Registration.MANUAL
    app_registration: AppRegistration | None = None

    @property
    def kind(self) -> ConnectionKind:
        return ConnectionKind.M365


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsTrust:
    """How the on-prem server's certificate is trusted: the system store, a CA bundle file, or a SHA-256
    fingerprint the admin looked at and accepted (per host, never a global switch)."""

    mode: TrustMode = TrustMode.SYSTEM
    ca_bundle: str | None = None
    pin_sha256: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OnPremSettings:
    admin_upn: str
    password_ref: str | None
    discovery: Discovery = Discovery.AUTODISCOVER
    server: str | None = None  # FQDN or IP, optional :port; None with autodiscover
    ews_url: str | None = None  # derived from server unless the admin edited it
    powershell_auth: PowerShellAuth = PowerShellAuth.KERBEROS
    kerberos_realm: str | None = None  # None: the admin's UPN domain in capitals
    kerberos_kdc: str | None = None  # host[:port]; None: DNS SRV _kerberos._tcp.<realm>
    tls: TlsTrust = TlsTrust()
    dns_servers: tuple[str, ...] = ()

    @property
    def kind(self) -> ConnectionKind:
        return ConnectionKind.ONPREM


Settings = M365Settings | OnPremSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class VerificationSummary:
    at: datetime
    status: VerificationStatus
    passed: int
    warnings: int
    failed: int
    skipped: int
    duration_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    id: str
    name: str
    created: datetime
    updated: datetime
    settings: Settings
    last_verification: VerificationSummary | None = None

    @property
    def kind(self) -> ConnectionKind:
        return self.settings.kind

    @property
    def secret_refs(self) -> tuple[str, ...]:
        """Vault references this connection owns (deleted with it)."""
        settings = self.settings
        if isinstance(settings, M365Settings):
            credential = settings.credential
            if isinstance(credential, ClientSecretCredential) and credential.secret_ref:
                return (credential.secret_ref,)
            return ()
        return (settings.password_ref,) if settings.password_ref else ()


@functools.lru_cache(maxsize=1 << 16)
def name_key(name: str) -> str:
    """Connection names are unique ignoring case, compatibility forms and surrounding blanks. (Cached: a store of
    10,000 connections checks every name on each commit.)"""
    return unicodedata.normalize("NFKC", name).strip().casefold()
