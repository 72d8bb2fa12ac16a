"""How a connection is summed up in one line each — where it points, how it authenticates, how its last
verification went — for the dashboard, the connection manager and the CLI's tables alike."""

from __future__ import annotations

from datetime import datetime

from .model import CertificateCredential, Cloud, Connection, M365Settings

CLOUD_LABELS = {
    Cloud.GLOBAL: "Microsoft 365",
    Cloud.USGOV_HIGH: "GCC High",
    Cloud.USGOV_DOD: "DoD",
    Cloud.CHINA: "21Vianet",
    Cloud.CUSTOM: "custom cloud",
}


def target_of(connection: Connection) -> str:
    """The tenant (and non-global cloud), or the server (or the domain autodiscover starts from)."""
    s = connection.settings
    if isinstance(s, M365Settings):
        cloud = "" if s.cloud is Cloud.GLOBAL else f" [{s.cloud.value}]"
        return f"tenant {s.tenant_id}{cloud}"
    return s.server if s.server else f"autodiscover ({s.admin_upn.rpartition('@')[2]})"


def location_of(connection: Connection) -> str:
    """Where the connection lives: the cloud, or the on-premises server."""
    s = connection.settings
    if isinstance(s, M365Settings):
        return CLOUD_LABELS[s.cloud]
    return s.server or "autodiscover"


def credential_of(connection: Connection) -> str:
    s = connection.settings
    if isinstance(s, M365Settings):
        if isinstance(s.credential, CertificateCredential):
            return f"certificate {s.credential.thumbprint[:8]}…"
        return "client secret" if s.credential.secret_ref else "client secret (NOT SET)"
    return s.admin_upn if s.password_ref else f"{s.admin_upn} (password NOT SET)"


def authentication_of(connection: Connection) -> str:
    """The kind of authentication, as the connection manager's column shows it."""
    s = connection.settings
    if isinstance(s, M365Settings):
        return "certificate" if isinstance(s.credential, CertificateCredential) else "client secret"
    return s.powershell_auth.label


def age(then: datetime, now: datetime) -> str:
    """'just now', '5 min ago', '3 h ago', '2 d ago'."""
    seconds = int((now - then).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def status_of(connection: Connection, now: datetime | None = None) -> str:
    """'never verified', or the status with its time (and its age, given `now`)."""
    summary = connection.last_verification
    if summary is None:
        return "never verified"
    if now is not None:
        return f"{summary.status.value} {age(summary.at, now)}"
    return f"{summary.status.value} {summary.at:%Y-%m-%d %H:%M}"
