"""Model <-> JSON documents. The one place that knows how a connection or certificate looks on disk or in an
export. Every reader error is a `DocumentError` naming the field, so a hand-edited store says what is wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from .certificate import CertificateInfo, CertificateSource
from .connection import (
    AppRegistration,
    CertificateCredential,
    ClientSecretCredential,
    Cloud,
    Connection,
    ConnectionKind,
    Credential,
    CustomEndpoints,
    Discovery,
    M365Settings,
    OnPremSettings,
    PowerShellAuth,
    Registration,
    Settings,
    TlsTrust,
    TrustMode,
    VerificationStatus,
    VerificationSummary,
)

Document = dict[str, Any]
E = TypeVar("E", bound=StrEnum)

_SURROGATE = re.compile("[\ud800-\udfff]")
SECRET_REF = re.compile(r"secret:[A-Za-z0-9-]{1,64}")  # what storage.vault.new_ref mints


class DocumentError(ValueError):
    """A stored or imported document does not describe a valid object."""


class _Reader:
    def __init__(self, doc: object, where: str) -> None:
        if not isinstance(doc, Mapping):
            raise DocumentError(f"{where}: expected an object, found {type(doc).__name__}")
        self.doc = doc
        self.where = where

    def _get(self, key: str, optional: bool) -> object:
        if key not in self.doc or self.doc[key] is None:
            if optional:
                return None
            raise DocumentError(f"{self.where}: field '{key}' is missing")
        return self.doc[key]

    def text(self, key: str) -> str:
        value = self._get(key, optional=False)
        if not isinstance(value, str) or not value:
            raise DocumentError(f"{self.where}: field '{key}' must be a non-empty string")
        return self._encodable(key, value)

    def _encodable(self, key: str, value: str) -> str:
        if _SURROGATE.search(value):  # JSON allows "\ud800"; UTF-8 cannot write it back
            raise DocumentError(f"{self.where}: field '{key}' holds an invalid character (a lone UTF-16 surrogate)")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self._get(key, optional=True)
        if value is None:
            return None
        if not isinstance(value, str):
            raise DocumentError(f"{self.where}: field '{key}' must be a string")
        return self._encodable(key, value)

    def secret_ref(self, key: str) -> str | None:
        """A reference to a secret of this connection in the vault: only ever `secret:<id>`, minted by the
        workbench. Anything else (a certificate key's `cert-key:…`, another store's name) is refused."""
        value = self.opt_text(key)
        if value is not None and not SECRET_REF.fullmatch(value):
            raise DocumentError(f"{self.where}: field '{key}' is not a secret reference the workbench made")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key, optional=False)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DocumentError(f"{self.where}: field '{key}' must be a non-negative integer")
        return value

    def time(self, key: str) -> datetime:
        text = self.text(key)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise DocumentError(f"{self.where}: field '{key}' is not an ISO 8601 time: {text!r}") from None
        if value.tzinfo is None:
            raise DocumentError(f"{self.where}: field '{key}' has no time zone: {text!r}")
        return value

    def enum(self, key: str, kind: type[E], default: E | None = None) -> E:
        value = self._get(key, optional=default is not None)
        if value is None and default is not None:
            return default
        try:
            return kind(str(value))
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise DocumentError(f"{self.where}: field '{key}' is {value!r}; expected one of {allowed}") from None

    def sub(self, key: str, optional: bool = False) -> _Reader | None:
        value = self._get(key, optional)
        return None if value is None else _Reader(value, f"{self.where}.{key}")

    def str_list(self, key: str) -> tuple[str, ...]:
        value = self._get(key, optional=True)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise DocumentError(f"{self.where}: field '{key}' must be a list of strings")
        return tuple(value)


def _time(value: datetime) -> str:
    return value.isoformat()


# ---------------------------------------------------------------- connections


def connection_to_document(connection: Connection) -> Document:
    doc: Document = {
        "id": connection.id,
        "name": connection.name,
        "kind": connection.kind.value,
        "created": _time(connection.created),
        "updated": _time(connection.updated),
        "settings": _settings_to_document(connection.settings),
        "last_verification": None,
    }
    summary = connection.last_verification
    if summary is not None:
        doc["last_verification"] = {
            "at": _time(summary.at),
            "status": summary.status.value,
            "passed": summary.passed,
            "warnings": summary.warnings,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "duration_ms": summary.duration_ms,
        }
    return doc


def _settings_to_document(settings: Settings) -> Document:
    if isinstance(settings, M365Settings):
        credential: Document
        if isinstance(settings.credential, CertificateCredential):
            credential = {
                "type": "certificate",
                "thumbprint": settings.credential.thumbprint,
                "sha256": settings.credential.sha256,
            }
        else:
            credential = {"type": "client-secret", "secret_ref": settings.credential.secret_ref}
        endpoints = settings.custom_endpoints
        registration = settings.app_registration
        return {
            "tenant_id": settings.tenant_id,
            "client_id": settings.client_id,
            "app_account": settings.app_account,
            "credential": credential,
            "cloud": settings.cloud.value,
            "custom_endpoints": None
            if endpoints is None
            else {
                "authority_host": endpoints.authority_host,
                "graph_url": endpoints.graph_url,
                "ews_url": endpoints.ews_url,
            },
            "ca_bundle": settings.ca_bundle,
            "registration": settings.registration.value,
            "app_registration": None
            if registration is None
            else {
                "app_object_id": registration.app_object_id,
                "unique_name": registration.unique_name,
                "sign_in_client_id": registration.sign_in_client_id,
            },
        }
    return {
        "admin_upn": settings.admin_upn,
        "password_ref": settings.password_ref,
        "discovery": settings.discovery.value,
        "server": settings.server,
        "ews_url": settings.ews_url,
        "powershell_auth": settings.powershell_auth.value,
        "kerberos_realm": settings.kerberos_realm,
        "kerberos_kdc": settings.kerberos_kdc,
        "tls": {
            "mode": settings.tls.mode.value,
            "ca_bundle": settings.tls.ca_bundle,
            "pin_sha256": settings.tls.pin_sha256,
        },
        "dns_servers": list(settings.dns_servers),
    }


def connection_from_document(doc: object, where: str = "connection") -> Connection:
    reader = _Reader(doc, where)
    kind = reader.enum("kind", ConnectionKind)
    settings_reader = reader.sub("settings")
    assert settings_reader is not None
    settings: Settings = _m365_from(settings_reader) if kind is ConnectionKind.M365 else _onprem_from(settings_reader)
    summary = None
    summary_reader = reader.sub("last_verification", optional=True)
    if summary_reader is not None:
        summary = VerificationSummary(
            at=summary_reader.time("at"),
            status=summary_reader.enum("status", VerificationStatus),
            passed=summary_reader.integer("passed"),
            warnings=summary_reader.integer("warnings"),
            failed=summary_reader.integer("failed"),
            skipped=summary_reader.integer("skipped"),
            duration_ms=summary_reader.integer("duration_ms"),
        )
    return Connection(
        id=reader.text("id"),
        name=reader.text("name"),
        created=reader.time("created"),
        updated=reader.time("updated"),
        settings=settings,
        last_verification=summary,
    )


def _m365_from(reader: _Reader) -> M365Settings:
    cred_reader = reader.sub("credential")
    assert cred_reader is not None
    cred_type = cred_reader.text("type")
    credential: Credential
    if cred_type == "certificate":
        credential = CertificateCredential(
            thumbprint=cred_reader.text("thumbprint"), sha256=cred_reader.opt_text("sha256")
        )
    elif cred_type == "client-secret":
        credential = ClientSecretCredential(secret_ref=cred_reader.secret_ref("secret_ref"))
    else:
        raise DocumentError(f"{cred_reader.where}: type {cred_type!r} is neither 'certificate' nor 'client-secret'")
    endpoints = None
    endpoints_reader = reader.sub("custom_endpoints", optional=True)
    if endpoints_reader is not None:
        endpoints = CustomEndpoints(
            authority_host=endpoints_reader.text("authority_host"),
            graph_url=endpoints_reader.text("graph_url"),
            ews_url=endpoints_reader.text("ews_url"),
        )
    cloud = reader.enum("cloud", Cloud, Cloud.GLOBAL)
    if (cloud is Cloud.CUSTOM) != (endpoints is not None):
        raise DocumentError(f"{reader.where}: custom_endpoints must be given exactly when cloud is 'custom'")
    registration = None
    registration_reader = reader.sub("app_registration", optional=True)
    if registration_reader is not None:
        registration = AppRegistration(
            app_object_id=registration_reader.text("app_object_id"),
            unique_name=registration_reader.text("unique_name"),
            sign_in_client_id=registration_reader.opt_text("sign_in_client_id"),
        )
    return M365Settings(
        tenant_id=reader.text("tenant_id"),
        client_id=reader.text("client_id"),
        app_account=reader.text("app_account"),
        credential=credential,
        cloud=cloud,
        custom_endpoints=endpoints,
        ca_bundle=reader.opt_text("ca_bundle"),
        registration=reader.enum("registration", Registration, Registration.MANUAL),
        app_registration=registration,
    )


def _onprem_from(reader: _Reader) -> OnPremSettings:
    tls_reader = reader.sub("tls", optional=True)
    tls = TlsTrust()
    if tls_reader is not None:
        tls = TlsTrust(
            mode=tls_reader.enum("mode", TrustMode, TrustMode.SYSTEM),
            ca_bundle=tls_reader.opt_text("ca_bundle"),
            pin_sha256=tls_reader.opt_text("pin_sha256"),
        )
        if tls.mode is TrustMode.CA_BUNDLE and not tls.ca_bundle:
            raise DocumentError(f"{tls_reader.where}: mode 'ca-bundle' needs ca_bundle")
        if tls.mode is TrustMode.PINNED and not tls.pin_sha256:
            raise DocumentError(f"{tls_reader.where}: mode 'pinned' needs pin_sha256")
    discovery = reader.enum("discovery", Discovery, Discovery.AUTODISCOVER)
    server = reader.opt_text("server")
    if discovery is Discovery.MANUAL and not server:
        raise DocumentError(f"{reader.where}: manual discovery needs a server")
    return OnPremSettings(
        admin_upn=reader.text("admin_upn"),
        password_ref=reader.secret_ref("password_ref"),
        discovery=discovery,
        server=server,
        ews_url=reader.opt_text("ews_url"),
        powershell_auth=_powershell_auth(reader),
        kerberos_realm=reader.opt_text("kerberos_realm"),
        kerberos_kdc=reader.opt_text("kerberos_kdc"),
        tls=tls,
        dns_servers=reader.str_list("dns_servers"),
    )


def _powershell_auth(reader: _Reader) -> PowerShellAuth:
    # Before Kerberos was supported, "negotiate" was stored for every server given by name; it meant Kerberos
    # where the client had it, which is what such a connection needs.
    if reader.opt_text("powershell_auth") == "negotiate":
        return PowerShellAuth.KERBEROS
    return reader.enum("powershell_auth", PowerShellAuth, PowerShellAuth.KERBEROS)


# ---------------------------------------------------------------- certificates


def certificate_to_document(info: CertificateInfo) -> Document:
    document: Document = {
        "thumbprint": info.thumbprint,
        "sha256": info.sha256,
        "subject": info.subject,
        "issuer": info.issuer,
        "serial": info.serial,
        "not_before": _time(info.not_before),
        "not_after": _time(info.not_after),
        "key_size": info.key_size,
        "source": info.source.value,
        "added": _time(info.added),
        "cert_pem": info.cert_pem,
    }
    if info.made_for_app is not None:  # absent otherwise: a store written before the mark reads the same
        document["made_for_app"] = info.made_for_app
    return document


def certificate_from_document(doc: object, where: str = "certificate") -> CertificateInfo:
    reader = _Reader(doc, where)
    return CertificateInfo(
        thumbprint=reader.text("thumbprint"),
        sha256=reader.text("sha256"),
        subject=reader.text("subject"),
        issuer=reader.text("issuer"),
        serial=reader.text("serial"),
        not_before=reader.time("not_before"),
        not_after=reader.time("not_after"),
        key_size=reader.integer("key_size"),
        source=reader.enum("source", CertificateSource),
        added=reader.time("added"),
        cert_pem=reader.text("cert_pem"),
        made_for_app=reader.opt_text("made_for_app"),
    )
