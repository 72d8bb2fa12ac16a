"""The simulated Microsoft 365 tenant: directory, applications, consent, mailboxes, device-code sign-ins.

Plain mutable state behind one lock; the Entra, Graph and EWS handlers read and change it. `seed_tenant` builds
the tenant every lab run starts with, then applies the scenarios that are about state.
"""

from __future__ import annotations

import base64
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from workbench.certificates import build_certificate
from workbench.clouds import (
    EXCHANGE_ONLINE_APP_ID,
    GRAPH_APP_ID,
    GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID,
    GRAPH_COMMAND_LINE_TOOLS_NAME,
)

_DER = Encoding.DER

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
CLOUD_APPLICATION_ADMINISTRATOR = "158c047a-c907-4556-b7ef-446551a6b5f7"
APPLICATION_DEVELOPER = "cf1c38e5-3621-4004-a7cb-879624dced7c"
ROLE_NAMES = {
    GLOBAL_ADMINISTRATOR: "Global Administrator",
    PRIVILEGED_ROLE_ADMINISTRATOR: "Privileged Role Administrator",
    APPLICATION_ADMINISTRATOR: "Application Administrator",
    CLOUD_APPLICATION_ADMINISTRATOR: "Cloud Application Administrator",
    APPLICATION_DEVELOPER: "Application Developer",
}
# Who may create an application when "Users can register applications" is No (Graph "Create application";
# Entra "Delegate application management permissions").
APP_CREATOR_ROLES = {
    GLOBAL_ADMINISTRATOR,
    APPLICATION_ADMINISTRATOR,
    CLOUD_APPLICATION_ADMINISTRATOR,
    APPLICATION_DEVELOPER,
}

# Application permissions the resource service principals publish (id, value), as Microsoft publishes them.
GRAPH_APP_ROLES = [
    ("df021288-bdef-4463-88db-98f22de89214", "User.Read.All"),
    ("498476ce-e0fe-48b0-b801-37ba7e2685c6", "Organization.Read.All"),
    ("7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All"),
    ("810c84a8-4a9e-49e6-bf7d-12d183f40d01", "Mail.Read"),
    ("e2a3a72e-5f79-4c64-b1b1-878b674786c9", "Mail.ReadWrite"),
    ("40f97065-369a-49f4-947c-6a255697ae91", "MailboxSettings.Read"),
    ("1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Application.ReadWrite.All"),
    ("06b708a9-e830-4db3-a914-8e69da51d44f", "AppRoleAssignment.ReadWrite.All"),
]
EXCHANGE_APP_ROLES = [
    ("dc890d15-9560-4a4c-9b7f-a736ec74ec40", "full_access_as_app"),
    ("dc50a0fb-09a3-484d-be87-e023b12c6440", "Exchange.ManageAsApp"),
]
SEEDED_APP_ROLES = {
    GRAPH_APP_ID: ["User.Read.All", "Organization.Read.All", "Mail.ReadWrite"],
    EXCHANGE_ONLINE_APP_ID: ["full_access_as_app"],
}
GRAPH_RESOURCE = "https://graph.microsoft.com"
EXCHANGE_RESOURCE = "https://outlook.office365.com"
# Microsoft's first-party public clients: their application objects live in Microsoft's own tenant, so no tenant
# (and no Graph /applications listing) holds them; every tenant holds their service principals. The workbench
# seeds none of them: they are Microsoft's.
FIRST_PARTY_PUBLIC_CLIENTS = {GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID: GRAPH_COMMAND_LINE_TOOLS_NAME}


@dataclass
class User:
    id: str
    upn: str
    display_name: str
    has_mailbox: bool = True
    password: str | None = None  # only for accounts that sign in interactively
    roles: list[str] = field(default_factory=list)  # active directory role template ids (what memberOf shows)
    eligible_roles: list[str] = field(default_factory=list)  # PIM-eligible, not activated: not in memberOf
    groups: list[tuple[str, str]] = field(default_factory=list)  # (id, displayName) of security groups
    ews_blocked_by_policy: bool = False  # outside the app's application access policy

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "userPrincipalName": self.upn,
            "mail": self.upn if self.has_mailbox else None,
            "accountEnabled": True,
        }


@dataclass
class KeyCredential:
    key_id: str
    der: bytes
    display_name: str
    start: datetime
    end: datetime
    # customKeyIdentifier is Edm.Binary (base64 in JSON): what the client sent, else the certificate's SHA-1
    # thumbprint bytes, as Graph sets it for an uploaded certificate.
    custom_key_identifier: bytes | None = None

    @property
    def identifier(self) -> bytes:
        return self.custom_key_identifier if self.custom_key_identifier is not None else self.sha1

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @property
    def sha1(self) -> bytes:
        return self.certificate.fingerprint(hashes.SHA1())  # noqa: S303  (Entra's x5t)

    @property
    def sha256(self) -> bytes:
        return self.certificate.fingerprint(hashes.SHA256())


@dataclass
class PasswordCredential:
    key_id: str
    secret: str
    start: datetime
    end: datetime
    display_name: str = "lab secret"


@dataclass
class Application:
    object_id: str
    app_id: str
    display_name: str
    created: datetime
    unique_name: str | None = None
    key_credentials: list[KeyCredential] = field(default_factory=list)
    password_credentials: list[PasswordCredential] = field(default_factory=list)
    required_resource_access: list[dict[str, Any]] = field(default_factory=list)
    sign_in_audience: str = "AzureADMyOrg"
    public_client: bool = False
    usable_from: datetime | None = None  # propagation: unknown to token requests before this instant

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.object_id,
            "appId": self.app_id,
            "displayName": self.display_name,
            "uniqueName": self.unique_name,
            "createdDateTime": self.created.isoformat().replace("+00:00", "Z"),
            "signInAudience": self.sign_in_audience,
            "isFallbackPublicClient": self.public_client,
            "requiredResourceAccess": self.required_resource_access,
            "keyCredentials": [
                {
                    "keyId": k.key_id,
                    "type": "AsymmetricX509Cert",
                    "usage": "Verify",
                    "displayName": k.display_name,
                    "customKeyIdentifier": base64.b64encode(k.identifier).decode("ascii"),
                    "startDateTime": k.start.isoformat().replace("+00:00", "Z"),
                    "endDateTime": k.end.isoformat().replace("+00:00", "Z"),
                    "key": None,
                }
                for k in self.key_credentials
            ],
            "passwordCredentials": [
                {
                    "keyId": p.key_id,
                    "displayName": p.display_name,
                    "hint": p.secret[:3],
                    "secretText": None,
                    "startDateTime": p.start.isoformat().replace("+00:00", "Z"),
                    "endDateTime": p.end.isoformat().replace("+00:00", "Z"),
                }
                for p in self.password_credentials
            ],
        }


@dataclass
class ServicePrincipal:
    id: str
    app_id: str
    display_name: str
    names: list[str] = field(default_factory=list)  # servicePrincipalNames: resource identifiers
    app_roles: list[tuple[str, str]] = field(default_factory=list)  # (id, value)
    account_enabled: bool = True  # False: "Enabled for users to sign in" = No (Entra: AADSTS7000112)

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "appId": self.app_id,
            "displayName": self.display_name,
            "accountEnabled": self.account_enabled,
            "servicePrincipalNames": self.names,
            "appRoles": [
                {
                    "id": role_id,
                    "value": value,
                    "displayName": value,
                    "allowedMemberTypes": ["Application"],
                    "isEnabled": True,
                }
                for role_id, value in self.app_roles
            ],
        }


@dataclass
class AppRoleAssignment:
    id: str
    principal_id: str
    resource_id: str
    app_role_id: str
    created: datetime

    def as_graph(self, tenant: Tenant) -> dict[str, Any]:
        principal = tenant.service_principals.get(self.principal_id)
        resource = tenant.service_principals.get(self.resource_id)
        return {
            "id": self.id,
            "principalId": self.principal_id,
            "principalType": "ServicePrincipal",
            "principalDisplayName": principal.display_name if principal else None,
            "resourceId": self.resource_id,
            "resourceDisplayName": resource.display_name if resource else None,
            "appRoleId": self.app_role_id,
            "createdDateTime": self.created.isoformat().replace("+00:00", "Z"),
        }


@dataclass
class DeviceFlow:
    device_code: str
    user_code: str
    client_id: str
    scopes: list[str]
    created: datetime
    expires: datetime
    approved_by: User | None = None
    declined: bool = False
    redeemed: bool = False


@dataclass
class RefreshGrant:
    """What a refresh token the lab handed out stands for: who signed in, for which app, consented to what."""

    user: User
    client_id: str
    scopes: list[str]
    expires: datetime


@dataclass
class Tenant:
    id: str
    display_name: str
    initial_domain: str
    default_domain: str
    rng: random.Random
    users: dict[str, User] = field(default_factory=dict)  # by id
    applications: dict[str, Application] = field(default_factory=dict)  # by object id
    service_principals: dict[str, ServicePrincipal] = field(default_factory=dict)  # by id
    assignments: dict[str, AppRoleAssignment] = field(default_factory=dict)
    device_flows: dict[str, DeviceFlow] = field(default_factory=dict)  # by device code
    refresh_tokens: dict[str, RefreshGrant] = field(default_factory=dict)  # by token
    permission_grants: dict[str, dict[str, Any]] = field(default_factory=dict)  # oauth2PermissionGrants, by id
    lock: threading.RLock = field(default_factory=threading.RLock)
    ews_enabled: bool = True
    propagation_delay: timedelta = timedelta(0)
    users_can_register_apps: bool = True  # Entra's user setting "Users can register applications" (default Yes)

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # ------------------------------------------------------------ lookups

    def user(self, id_or_upn: str) -> User | None:
        key = id_or_upn.lower()
        return next((u for u in self.users.values() if u.id == key or u.upn.lower() == key), None)

    def application_by_app_id(self, app_id: str) -> Application | None:
        return next((a for a in self.applications.values() if a.app_id == app_id.lower()), None)

    def application_by_unique_name(self, unique_name: str) -> Application | None:
        return next((a for a in self.applications.values() if a.unique_name == unique_name), None)

    def service_principal_by_app_id(self, app_id: str) -> ServicePrincipal | None:
        return next((s for s in self.service_principals.values() if s.app_id == app_id.lower()), None)

    def resource_for(self, identifier: str) -> ServicePrincipal | None:
        """The resource service principal for a scope's resource part (URI or app id)."""
        key = identifier.rstrip("/").lower()
        return next(
            (s for s in self.service_principals.values() if key in {n.lower() for n in s.names} or key == s.app_id),
            None,
        )

    def granted_roles(self, client_sp: ServicePrincipal, resource: ServicePrincipal) -> list[str]:
        role_values = dict(resource.app_roles)
        return sorted(
            role_values[a.app_role_id]
            for a in self.assignments.values()
            if a.principal_id == client_sp.id and a.resource_id == resource.id and a.app_role_id in role_values
        )

    def matches_tenant(self, tenant: str) -> bool:
        return tenant.lower() in {self.id, self.initial_domain, self.default_domain}

    # ------------------------------------------------------------ changes

    def add_service_principal(self, app: Application) -> ServicePrincipal:
        sp = ServicePrincipal(id=self.new_id(), app_id=app.app_id, display_name=app.display_name, names=[app.app_id])
        self.service_principals[sp.id] = sp
        return sp

    def assign(self, principal: ServicePrincipal, resource: ServicePrincipal, role_value: str) -> AppRoleAssignment:
        role_id = next(rid for rid, value in resource.app_roles if value == role_value)
        assignment = AppRoleAssignment(self.new_id(), principal.id, resource.id, role_id, datetime.now(UTC))
        self.assignments[assignment.id] = assignment
        return assignment

    def delete_application(self, app: Application) -> None:
        del self.applications[app.object_id]
        sp = self.service_principal_by_app_id(app.app_id)
        if sp is not None:
            del self.service_principals[sp.id]
            for key in [k for k, a in self.assignments.items() if sp.id in (a.principal_id, a.resource_id)]:
                del self.assignments[key]


@dataclass(frozen=True, slots=True)
class SeededApp:
    """What the lab hands out for its pre-registered app (the state file's m365 section)."""

    client_id: str
    client_secret: str
    certificate_der: bytes
    private_key: rsa.RSAPrivateKey


def seed_tenant(
    *,
    rng: random.Random,
    mailboxes: int,
    scenarios: frozenset[str],
    organisation_client_id: str | None,
    now: datetime,
    propagation_seconds: float = 4.0,
) -> tuple[Tenant, SeededApp, dict[str, str]]:
    """The tenant a lab run starts with. Returns it, the app handed out, and the seeded accounts (role -> UPN)."""
    domain = "contoso.test"
    tenant = Tenant(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        display_name="Contoso (lab)",
        initial_domain="contosolab.onmicrosoft.com",
        default_domain=domain,
        rng=rng,
    )
    if "ews-disabled" in scenarios:
        tenant.ews_enabled = False
    if "propagation-delay" in scenarios:
        tenant.propagation_delay = timedelta(seconds=propagation_seconds)

    def add_user(local: str, name: str, **kwargs: Any) -> User:
        user = User(id=tenant.new_id(), upn=f"{local}@{domain}", display_name=name, **kwargs)
        tenant.users[user.id] = user
        return user

    admin_password = f"Lab-{rng.getrandbits(48):012x}!"
    admin_roles = [GLOBAL_ADMINISTRATOR]
    eligible: list[str] = []
    if "not-admin" in scenarios:
        admin_roles = []
    elif "role-eligible-not-active" in scenarios:
        admin_roles, eligible = [], [GLOBAL_ADMINISTRATOR]
    elif "app-registration-restricted" in scenarios:
        admin_roles = [PRIVILEGED_ROLE_ADMINISTRATOR]
        tenant.users_can_register_apps = False
    admin = add_user(
        "admin",
        "Lab Administrator",
        password=admin_password,
        roles=admin_roles,
        eligible_roles=eligible,
        groups=[(tenant.new_id(), "IT Administrators (lab)")],
    )
    account = add_user("backup", "Backup Service Account", has_mailbox="account-no-mailbox" not in scenarios)
    add_user("nomailbox", "Directory-only User", has_mailbox=False)
    add_user("ceo", "Restricted Mailbox", ews_blocked_by_policy=True)
    for n in range(1, mailboxes + 1):
        add_user(f"user{n:05d}", f"Lab User {n}")

    for app_id, name, names, roles in [
        (GRAPH_APP_ID, "Microsoft Graph", [GRAPH_RESOURCE, GRAPH_APP_ID], GRAPH_APP_ROLES),
        (
            EXCHANGE_ONLINE_APP_ID,
            "Office 365 Exchange Online",
            [EXCHANGE_RESOURCE, "https://outlook.office.com", EXCHANGE_ONLINE_APP_ID],
            EXCHANGE_APP_ROLES,
        ),
    ]:
        sp = ServicePrincipal(tenant.new_id(), app_id, name, names, list(roles))
        tenant.service_principals[sp.id] = sp

    for client_id, name in FIRST_PARTY_PUBLIC_CLIENTS.items():
        first_party = ServicePrincipal(tenant.new_id(), client_id, name, [client_id])
        first_party.account_enabled = "sign-in-client-blocked" not in scenarios
        tenant.service_principals[first_party.id] = first_party

    # The organisation's own public client ("Allow public client flows" = Yes), the way out when a tenant blocks
    # Microsoft's: registered in the tenant like any app.
    own = Application(
        object_id=tenant.new_id(),
        app_id=(organisation_client_id or tenant.new_id()).lower(),
        display_name="Contoso admin sign-in (lab)",
        created=now,
        public_client=True,
    )
    tenant.applications[own.object_id] = own
    tenant.add_service_principal(own)

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _app_certificate(key, now)
    secret = f"lab~{rng.getrandbits(160):040x}"
    app = Application(
        object_id=tenant.new_id(), app_id=tenant.new_id(), display_name="Exchange Workbench (lab)", created=now
    )
    start, end = now - timedelta(days=30), now + timedelta(days=335)
    if "expired-secret" in scenarios:
        end = now - timedelta(days=2)
    stored_secret = f"lab~{rng.getrandbits(160):040x}" if "bad-secret" in scenarios else secret
    app.password_credentials.append(PasswordCredential(tenant.new_id(), stored_secret, start, end))
    registered = (
        cert
        if "cert-not-registered" not in scenarios
        else _app_certificate(rsa.generate_private_key(public_exponent=65537, key_size=2048), now)
    )
    key_end = now - timedelta(days=1) if "expired-cert" in scenarios else cert.not_valid_after_utc
    app.key_credentials.append(
        KeyCredential(tenant.new_id(), registered.public_bytes(_DER), "CN=Exchange Workbench (lab)", start, key_end)
    )
    handed_out_client_id = tenant.new_id() if "unknown-client" in scenarios else app.app_id
    tenant.applications[app.object_id] = app
    client_sp = tenant.add_service_principal(app)
    if "no-consent" not in scenarios:
        for resource_app_id, values in SEEDED_APP_ROLES.items():
            resource = tenant.service_principal_by_app_id(resource_app_id)
            assert resource is not None
            for value in values:
                tenant.assign(client_sp, resource, value)
    accounts = {
        "admin": admin.upn,
        "admin_password": admin_password,
        "app_account": account.upn,
        "organisation_client_id": own.app_id,
    }
    return tenant, SeededApp(handed_out_client_id, secret, cert.public_bytes(_DER), key), accounts


def _app_certificate(key: rsa.RSAPrivateKey, now: datetime) -> x509.Certificate:
    return build_certificate(key, "CN=Exchange Workbench (lab)", now - timedelta(days=30), now + timedelta(days=335))
