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


# The fields of a connection as the wizard names them, by their place in the stored document (what the pending
# changes and a conflict list): the admin never reads `settings.password_ref`.
FIELD_LABELS = {
    "name": "Name",
    "kind": "Kind",
    "settings.tenant_id": "Tenant ID",
    "settings.client_id": "Client ID",
    "settings.app_account": "Dedicated application account",
    "settings.credential.type": "Credential",
    "settings.credential.secret_ref": "Client secret",
    "settings.credential.thumbprint": "Certificate thumbprint",
    "settings.credential.sha256": "Certificate SHA-256",
    "settings.cloud": "Cloud",
    "settings.custom_endpoints": "Custom endpoints",
    "settings.custom_endpoints.authority_host": "Authority host",
    "settings.custom_endpoints.graph_url": "Graph URL",
    "settings.custom_endpoints.ews_url": "EWS URL",
    "settings.ca_bundle": "CA bundle",
    "settings.registration": "App registration",
    "settings.app_registration": "Registered app",
    "settings.app_registration.app_object_id": "Registered app's object ID",
    "settings.app_registration.unique_name": "Registered app's unique name",
    "settings.app_registration.sign_in_client_id": "Sign-in client",
    "settings.admin_upn": "Administrator's UPN",
    "settings.password_ref": "Password",
    "settings.discovery": "Discovery",
    "settings.server": "Server",
    "settings.ews_url": "EWS URL",
    "settings.powershell_auth": "Remote PowerShell authentication",
    "settings.kerberos_realm": "Kerberos realm",
    "settings.kerberos_kdc": "KDC",
    "settings.tls.mode": "Certificate trust",
    "settings.tls.ca_bundle": "CA bundle",
    "settings.tls.pin_sha256": "Pinned SHA-256 fingerprint",
    "settings.dns_servers": "DNS servers",
}


def field_label(path: str) -> str:
    """A stored field's name for the admin (`settings.tls.pin_sha256` -> "Pinned SHA-256 fingerprint"); a field
    this table does not know yet reads as its last part, in words."""
    known = FIELD_LABELS.get(path)
    if known is not None:
        return known
    words = path.rpartition(".")[2].replace("_", " ").strip()
    return words[:1].upper() + words[1:]


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
