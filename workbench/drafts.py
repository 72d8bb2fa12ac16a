"""Turning what an admin typed into a `Connection`.

A draft holds raw text, exactly as the wizard fields or CLI options hold it; `build()` validates every field,
reports every problem at once (so a form can mark them all) and returns a connection. `errors()` runs the same
rules without building anything, field by field and across fields, so a form can validate as the admin types;
`warnings()` says what is allowed but worth knowing. One home for the rules, used by the wizard, the CLI and the
Python API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TypeVar

from . import validate
from .model import (
    AppRegistration,
    CertificateCredential,
    Cloud,
    Connection,
    Credential,
    CustomEndpoints,
    Discovery,
    M365Settings,
    OnPremSettings,
    PowerShellAuth,
    Registration,
    TlsTrust,
    TrustMode,
)
from .validate import FieldError

T = TypeVar("T")


class DraftInvalid(ValueError):
    """One or more fields are wrong; `errors` has one entry per field, in form order."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors

    def for_field(self, name: str) -> str | None:
        return next((error.message for error in self.errors if error.field == name), None)


class _Collector:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def take(self, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except FieldError as error:
            self.errors.append(error)
            return None

    def fail(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))

    def check(self) -> None:
        if self.errors:
            raise DraftInvalid(self.errors)


@dataclass(frozen=True, slots=True)
class Stamp:
    """Identity and time for a new or edited connection (injected, so tests freeze them)."""

    id: str
    now: datetime


def _stamp_fields(stamp: Stamp, existing: Connection | None) -> dict[str, object]:
    if existing is None:
        return {"id": stamp.id, "created": stamp.now, "updated": stamp.now, "last_verification": None}
    return {
        "id": existing.id,
        "created": existing.created,
        "updated": stamp.now,
        "last_verification": existing.last_verification,
    }


_PROBE_STAMP = Stamp("draft", datetime(2000, 1, 1))  # errors() builds nothing it keeps


class _Checks:
    """What both drafts offer a form."""

    def _probe(self) -> None:
        raise NotImplementedError

    def errors(self) -> list[FieldError]:
        """Every problem with the draft as it stands, one entry per field, in form order (empty: it is valid)."""
        try:
            self._probe()
        except DraftInvalid as invalid:
            return invalid.errors
        return []

    def error_for(self, name: str) -> str | None:
        """The message for one field, as the form shows it under that field while the admin types."""
        return next((error.message for error in self.errors() if error.field == name), None)

    def warnings(self) -> list[str]:
        return []


@dataclass(slots=True)
class M365Draft(_Checks):
    tenant_id: str = ""
    client_id: str = ""
    app_account: str = ""
    name: str = ""
    cloud: str = Cloud.GLOBAL.value
    authority_host: str = ""
    graph_url: str = ""
    ews_url: str = ""
    ca_bundle: str = ""
    registration: str = Registration.MANUAL.value
    app_registration: AppRegistration | None = None

    def _probe(self) -> None:
        from .model import ClientSecretCredential

        self.build(ClientSecretCredential(secret_ref=None), _PROBE_STAMP)

    def build(self, credential: Credential, stamp: Stamp, existing: Connection | None = None) -> Connection:
        c = _Collector()
        name = c.take(lambda: validate.connection_name(self.name)) if self.name.strip() else None
        tenant = c.take(lambda: validate.tenant_id(self.tenant_id))
        client = c.take(lambda: validate.client_id(self.client_id))
        account = c.take(lambda: validate.app_account(self.app_account))
        try:
            cloud = Cloud(self.cloud)
        except ValueError:
            cloud = Cloud.GLOBAL
            c.fail("cloud", f"Cloud must be one of {', '.join(m.value for m in Cloud)}, not '{self.cloud}'")
        endpoints = None
        custom_given = any(v.strip() for v in (self.authority_host, self.graph_url, self.ews_url))
        if cloud is Cloud.CUSTOM:
            authority = c.take(
                lambda: validate.base_url(
                    self.authority_host,
                    field="authority_host",
                    label="Authority host",
                    example="https://login.microsoftonline.com",
                )
            )
            graph = c.take(lambda: validate.base_url(self.graph_url, field="graph_url", label="Graph URL"))
            ews = c.take(lambda: validate.https_url(self.ews_url, field="ews_url", label="EWS URL"))
            if authority and graph and ews:
                endpoints = CustomEndpoints(authority_host=authority, graph_url=graph, ews_url=ews)
        elif custom_given:
            c.fail("cloud", "Authority host, Graph URL and EWS URL are only used with the custom cloud")
        bundle = c.take(lambda: validate.ca_bundle(self.ca_bundle)) if self.ca_bundle.strip() else None
        try:
            registration = Registration(self.registration)
        except ValueError:
            registration = Registration.MANUAL
            c.fail("registration", f"Registration must be automatic or manual, not '{self.registration}'")
        c.check()
        assert tenant and client and account
        settings = M365Settings(
            tenant_id=tenant,
            client_id=client,
            app_account=account,
            credential=credential,
            cloud=cloud,
            custom_endpoints=endpoints,
            ca_bundle=bundle,
            registration=registration,
            app_registration=self.app_registration,
        )
        return Connection(
            name=name or default_m365_name(account),
            settings=settings,
            **_stamp_fields(stamp, existing),  # type: ignore[arg-type]
        )


@dataclass(slots=True)
class OnPremDraft(_Checks):
    admin_upn: str = ""
    name: str = ""
    discovery: str = Discovery.AUTODISCOVER.value
    server: str = ""
    ews_url: str = ""
    powershell_auth: str = ""  # empty: Basic for an IP address, Kerberos for a name
    kerberos_realm: str = ""  # empty: the admin's UPN domain in capitals
    kerberos_kdc: str = ""  # empty: found through DNS (SRV _kerberos._tcp.<realm>)
    ca_bundle: str = ""
    pin_sha256: str = ""
    dns_servers: list[str] = field(default_factory=list)

    def _probe(self) -> None:
        self.build(None, _PROBE_STAMP)

    def warnings(self) -> list[str]:
        """Allowed, but worth knowing before the first verification (a server given as an IP address)."""
        if self.discovery != Discovery.MANUAL.value or not self.server.strip():
            return []
        try:
            return validate.server_warnings(validate.server_address(self.server))
        except FieldError:
            return []

    def build(self, password_ref: str | None, stamp: Stamp, existing: Connection | None = None) -> Connection:
        c = _Collector()
        name = c.take(lambda: validate.connection_name(self.name)) if self.name.strip() else None
        upn = c.take(lambda: validate.admin_upn(self.admin_upn))
        try:
            discovery = Discovery(self.discovery)
        except ValueError:
            discovery = Discovery.AUTODISCOVER
            c.fail("discovery", f"Discovery must be autodiscover or manual, not '{self.discovery}'")
        address = None
        ews_url = None
        if discovery is Discovery.MANUAL:
            address = c.take(lambda: validate.server_address(self.server))
            if self.ews_url.strip():
                ews_url = c.take(lambda: validate.https_url(self.ews_url, field="ews_url", label="EWS URL"))
            elif address is not None:
                ews_url = validate.ews_url_for(address)
        elif self.server.strip() or self.ews_url.strip():
            c.fail("server", "Server and EWS URL are found by autodiscover; choose manual to enter them")
        auth: PowerShellAuth | None = None
        if self.powershell_auth:
            try:
                auth = PowerShellAuth(self.powershell_auth)
            except ValueError:
                c.fail(
                    "powershell_auth",
                    "PowerShell authentication must be kerberos, basic or ntlm, "
                    f"not '{validate.shown(self.powershell_auth)}'",
                )
        if auth is None:
            auth = PowerShellAuth.BASIC if address is not None and address.is_ip else PowerShellAuth.KERBEROS
        elif address is not None and address.is_ip and auth is not PowerShellAuth.BASIC:
            c.fail(
                "powershell_auth",
                f"{address.host} is an IP address: Kerberos and NTLM need a server name, so remote "
                "PowerShell must use basic",
            )
        realm = kdc = None
        if self.kerberos_realm.strip() or self.kerberos_kdc.strip():
            if auth is not PowerShellAuth.KERBEROS:
                wrong = "kerberos_realm" if self.kerberos_realm.strip() else "kerberos_kdc"
                c.fail(wrong, "A Kerberos realm or KDC is used only with Kerberos authentication")
            if self.kerberos_realm.strip():
                realm = c.take(lambda: validate.kerberos_realm(self.kerberos_realm))
            if self.kerberos_kdc.strip():
                kdc = c.take(lambda: validate.kdc(self.kerberos_kdc).netloc)
        tls = TlsTrust()
        if self.ca_bundle.strip() and self.pin_sha256.strip():
            c.fail("pin_sha256", "Trust the server either through a CA bundle or a pinned fingerprint, not both")
        elif self.ca_bundle.strip():
            bundle = c.take(lambda: validate.ca_bundle(self.ca_bundle))
            tls = TlsTrust(mode=TrustMode.CA_BUNDLE, ca_bundle=bundle)
        elif self.pin_sha256.strip():
            pin = c.take(lambda: validate.sha256_fingerprint(self.pin_sha256))
            tls = TlsTrust(mode=TrustMode.PINNED, pin_sha256=pin)
        resolvers = tuple(
            resolver for text in self.dns_servers if (resolver := c.take(partial(validate.dns_server, text)))
        )
        c.check()
        assert upn
        settings = OnPremSettings(
            admin_upn=upn,
            password_ref=password_ref,
            discovery=discovery,
            server=address.netloc if address else None,
            ews_url=ews_url,
            powershell_auth=auth,
            kerberos_realm=realm,
            kerberos_kdc=kdc,
            tls=tls,
            dns_servers=resolvers,
        )
        return Connection(
            name=name or upn,
            settings=settings,
            **_stamp_fields(stamp, existing),  # type: ignore[arg-type]
        )


def default_m365_name(app_account: str) -> str:
    """Before the first verification tells us the tenant's default domain, the account's domain stands in."""
    return app_account.rpartition("@")[2]


def m365_draft(s: M365Settings, name: str) -> M365Draft:
    """The form Microsoft 365 settings would fill in."""
    endpoints = s.custom_endpoints
    return M365Draft(
        tenant_id=s.tenant_id,
        client_id=s.client_id,
        app_account=s.app_account,
        name=name,
        cloud=s.cloud.value,
        authority_host=endpoints.authority_host if endpoints else "",
        graph_url=endpoints.graph_url if endpoints else "",
        ews_url=endpoints.ews_url if endpoints else "",
        ca_bundle=s.ca_bundle or "",
        registration=s.registration.value,
        app_registration=s.app_registration,
    )


def draft_for(connection: Connection) -> M365Draft | OnPremDraft:
    """The form a stored connection would fill in (for editing, or re-checking an imported one)."""
    s = connection.settings
    if isinstance(s, M365Settings):
        return m365_draft(s, connection.name)
    return OnPremDraft(
        admin_upn=s.admin_upn,
        name=connection.name,
        discovery=s.discovery.value,
        server=s.server or "",
        ews_url=s.ews_url or "",
        powershell_auth=s.powershell_auth.value,
        kerberos_realm=s.kerberos_realm or "",
        kerberos_kdc=s.kerberos_kdc or "",
        ca_bundle=s.tls.ca_bundle or "",
        pin_sha256=s.tls.pin_sha256 or "",
        dns_servers=list(s.dns_servers),
    )


def revalidate(connection: Connection, stamp: Stamp) -> Connection:
    """Run a connection that did not come from a form (an import, a hand edit) through the form's rules.
    The result gets the stamp's id and time; the original creation time is kept."""
    draft = draft_for(connection)
    s = connection.settings
    if isinstance(draft, M365Draft):
        assert isinstance(s, M365Settings)
        credential = s.credential
        if isinstance(credential, CertificateCredential):  # what the form would accept, nothing else
            try:
                credential = CertificateCredential(
                    thumbprint=validate.thumbprint(credential.thumbprint),
                    sha256=validate.sha256_fingerprint(credential.sha256, field="sha256")
                    if credential.sha256
                    else None,
                )
            except FieldError as error:
                raise DraftInvalid([error]) from None
        built = draft.build(credential, stamp)
    else:
        assert isinstance(s, OnPremSettings)
        built = draft.build(s.password_ref, stamp)
    return replace(built, created=connection.created)
