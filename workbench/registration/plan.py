"""The dry run: what registration will create or change in the tenant, read before anything is written.

One app per tenant and installation: its `uniqueName` is derived from the installation id, so a re-run after a
failure, an edit, or a second connection to the same tenant updates the same app (`PATCH
/applications(uniqueName=…)` with `Prefer: create-if-missing`) and never creates a duplicate.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from workbench.net.graph import Graph, GraphError
from workbench.text import visible

from .permissions import ADMIN_SCOPES, PERMISSIONS, Permission

APP_DISPLAY_NAME = "Exchange Workbench"
UNIQUE_NAME_PREFIX = "exchange-workbench"
CERTIFICATE_SUBJECT = "CN=Exchange Workbench"
CERTIFICATE_DAYS = 365  # Entra's portal and most tenants' policies expect app certificates to be renewed yearly
KEY_BITS = 2048


def unique_name_for(installation_id: str) -> str:
    return f"{UNIQUE_NAME_PREFIX}-{installation_id}"


@dataclass(frozen=True, slots=True)
class ExistingApp:
    """The app as the tenant holds it now."""

    object_id: str
    app_id: str
    display_name: str
    key_thumbprints: tuple[str, ...]
    service_principal_id: str | None
    granted: tuple[str, ...]  # permission labels already consented


@dataclass(frozen=True, slots=True)
class RegistrationPlan:
    tenant_id: str
    admin_upn: str
    display_name: str
    unique_name: str
    permissions: tuple[Permission, ...]
    certificate_subject: str
    certificate_days: int
    new_certificate: bool  # False: re-registration keeps the connection's certificate
    keep_thumbprints: tuple[str, ...]  # certificates of this installation's connections that stay on the app
    existing: ExistingApp | None

    @property
    def to_grant(self) -> tuple[Permission, ...]:
        granted = set(self.existing.granted) if self.existing else set()
        return tuple(p for p in self.permissions if p.label not in granted)

    @property
    def dropped_keys(self) -> tuple[str, ...]:
        """Keys on the app that no connection of this installation uses (left by an interrupted run)."""
        if self.existing is None:
            return ()
        return tuple(t for t in self.existing.key_thumbprints if t not in self.keep_thumbprints)

    def lines(self) -> list[tuple[str, str]]:
        """The plan as label/value rows, for the CLI: the overview, then one row per permission."""
        rows = self.overview()
        # What the admin's sign-in holds (delegated Graph); RoleManagement.Read.Directory reads their roles.
        rows.insert(2, ("Sign-in scopes", ", ".join(ADMIN_SCOPES)))
        for permission, granted in self.permission_states():
            state = "already granted" if granted else "grant (admin consent)"
            rows.insert(-1, (permission.label, f"{state}: to {permission.reason}"))
        return rows

    def permission_states(self) -> list[tuple[Permission, bool]]:
        """Each permission, and whether the app holds it already."""
        granted = set(self.existing.granted) if self.existing else set()
        return [(p, p.label in granted) for p in self.permissions]

    def overview(self) -> list[tuple[str, str]]:
        """Everything but the permissions, as short label/value rows (the console lists permissions apart)."""
        app = self.existing
        rows = [
            ("Tenant", self.tenant_id),
            ("Signed in as", self.admin_upn),
            (
                "Application",
                f"update '{app.display_name}' (app ID {app.app_id})"
                if app
                else f"create '{self.display_name}' (single tenant)",
            ),
            ("Unique name", self.unique_name),
        ]
        if self.new_certificate:
            rows.append(
                (
                    "Certificate",
                    f"new, {self.certificate_subject}, RSA {KEY_BITS}, SHA-256, valid {self.certificate_days} days; "
                    "the private key stays in this workbench's certificate store",
                )
            )
        else:
            rows.append(("Certificate", "keep the connection's certificate"))
        if self.keep_thumbprints:
            rows.append(("Kept keys", ", ".join(self.keep_thumbprints)))
        if self.dropped_keys:
            rows.append(("Removed keys", f"{', '.join(self.dropped_keys)} (no connection of this workbench uses them)"))
        rows.append(("Service principal", "keep" if app and app.service_principal_id else "create"))
        return rows


def survey(graph: Graph, unique_name: str) -> ExistingApp | None:
    """Read what the tenant holds under `unique_name`: the app, its keys, its service principal and the
    permissions already granted to it. None when there is no such app."""
    try:
        app = graph.get(
            f"/applications(uniqueName='{unique_name}')", **{"$select": "id,appId,displayName,keyCredentials"}
        )
    except GraphError as error:
        if error.status == 404:
            return None
        raise
    app_id = str(app.get("appId") or "")
    sp_id: str | None = None
    granted: list[str] = []
    try:
        sp = graph.get(f"/servicePrincipals(appId='{app_id}')", **{"$select": "id,appId"})
        sp_id = str(sp.get("id") or "") or None
    except GraphError as error:
        if error.status != 404:
            raise
    if sp_id:
        granted = _granted(graph, sp_id)
    keys = [key_label(k) for k in app.get("keyCredentials") or [] if isinstance(k, dict)]
    return ExistingApp(
        object_id=str(app.get("id") or ""),
        app_id=app_id,
        display_name=visible(str(app.get("displayName") or "")),
        key_thumbprints=tuple(keys),
        service_principal_id=sp_id,
        granted=tuple(granted),
    )


_HEX_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")


def key_thumbprint(identifier: object) -> str | None:
    """The SHA-1 thumbprint (upper hex) a key credential's `customKeyIdentifier` names, or None.

    The property is Edm.Binary, so JSON carries it base64: for a certificate Graph stores the thumbprint's 20
    bytes. A key uploaded with the thumbprint as hex text (PnP does) reads back as that text. Anything else (not a
    string, not base64, another length) names no certificate of ours: a server's answer is untrusted input."""
    if not isinstance(identifier, str) or not identifier or len(identifier) > 1024:
        return None
    if _HEX_THUMBPRINT.fullmatch(identifier):
        return identifier.upper()
    try:
        raw = base64.b64decode(identifier, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex().upper() if len(raw) == 20 else None


def key_label(key: dict[str, Any]) -> str:
    """How the plan names an existing key: its thumbprint, else its key id with why it cannot be matched."""
    thumbprint = key_thumbprint(key.get("customKeyIdentifier"))
    if thumbprint is not None:
        return thumbprint
    key_id = visible(str(key.get("keyId") or "?"))[:64]
    return f"key {key_id} (no certificate thumbprint)"


def resource_roles(graph: Graph, resource_app_id: str) -> tuple[str, dict[str, str]]:
    """A resource API's service principal id and its application permissions (value -> app role id)."""
    sp: dict[str, Any] = graph.get(f"/servicePrincipals(appId='{resource_app_id}')", **{"$select": "id,appId,appRoles"})
    roles = {
        str(role.get("value")): str(role.get("id"))
        for role in sp.get("appRoles") or []
        if isinstance(role, dict) and "Application" in (role.get("allowedMemberTypes") or [])
    }
    return str(sp.get("id") or ""), roles


def _granted(graph: Graph, sp_id: str) -> list[str]:
    """Permission labels granted to our service principal, matched against the resources' published roles."""
    assigned = graph.get_all(f"/servicePrincipals/{sp_id}/appRoleAssignments")
    held = {(str(a.get("resourceId")), str(a.get("appRoleId"))) for a in assigned if isinstance(a, dict)}
    labels: list[str] = []
    resources: dict[str, tuple[str, dict[str, str]]] = {}
    for permission in PERMISSIONS:
        if permission.resource_app_id not in resources:
            resources[permission.resource_app_id] = resource_roles(graph, permission.resource_app_id)
        resource_sp, roles = resources[permission.resource_app_id]
        if (resource_sp, roles.get(permission.value, "")) in held:
            labels.append(permission.label)
    return labels


def build_plan(
    *,
    existing: ExistingApp | None,
    tenant_id: str,
    admin_upn: str,
    unique_name: str,
    keep_thumbprints: tuple[str, ...],
    new_certificate: bool,
) -> RegistrationPlan:
    return RegistrationPlan(
        tenant_id=tenant_id,
        admin_upn=admin_upn,
        display_name=APP_DISPLAY_NAME,
        unique_name=unique_name,
        permissions=PERMISSIONS,
        certificate_subject=CERTIFICATE_SUBJECT,
        certificate_days=CERTIFICATE_DAYS,
        new_certificate=new_certificate,
        keep_thumbprints=tuple(t.upper() for t in keep_thumbprints),
        existing=existing,
    )
