"""The admin's device-code sign-in (MSAL public client) and the check of the admin's directory roles.

Over SSH no browser runs where the workbench runs: the admin opens the verification URL anywhere, types the code,
and signs in there. The client is Microsoft Graph Command Line Tools (Microsoft's first-party public client, in
every tenant) unless the connection or `WORKBENCH_PUBLIC_CLIENT_ID` names another: the organisation's own public
client, for tenants that disabled or block Microsoft's.

Every wait is bounded: the code's lifetime (at most `MAX_SIGN_IN_WAIT`), and each HTTP call's timeout.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from workbench import validate
from workbench.checks import problems
from workbench.clouds import (
    GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID,
    GRAPH_COMMAND_LINE_TOOLS_NAME,
    SIGN_IN_PAGE_HOSTS,
    CloudEndpoints,
    microsoft_cloud_of,
)
from workbench.model import Secret
from workbench.net import identity
from workbench.net.graph import Graph, GraphError
from workbench.redaction import redact
from workbench.text import visible

from .permissions import ADMIN_SCOPES, PIM_ACTIVATE, REGISTERING_ROLES, ROLE_READ_SCOPE

PUBLIC_CLIENT_ENV = "WORKBENCH_PUBLIC_CLIENT_ID"
MAX_SIGN_IN_WAIT = 900.0  # seconds, whatever the server says the code lives


@dataclass(frozen=True, slots=True)
class SignInClient:
    """The public client that signs the admin in, and where that choice came from."""

    client_id: str
    origin: str  # "connection" (the connection, the wizard field or --public-client-id), "environment", "default"

    @property
    def description(self) -> str:
        if self.origin == "default":
            return f"{self.client_id} ({GRAPH_COMMAND_LINE_TOOLS_NAME}, Microsoft's; the default)"
        if self.origin == "environment":
            return f"{self.client_id} (from {PUBLIC_CLIENT_ENV})"
        return f"{self.client_id} (the connection's sign-in client)"


def sign_in_client(override: str | None = None, environ: Mapping[str, str] | None = None) -> SignInClient:
    """The client that signs the admin in: the connection's own choice, else the environment's, else Microsoft
    Graph Command Line Tools. A value that is not a GUID is refused with the place it came from."""
    env = os.environ if environ is None else environ
    for value, origin, where in (
        (override, "connection", "the connection's sign-in client"),
        (env.get(PUBLIC_CLIENT_ENV), "environment", PUBLIC_CLIENT_ENV),
    ):
        if value and value.strip():
            try:
                return SignInClient(validate.client_id(value), origin)
            except validate.FieldError as error:
                raise validate.FieldError("public_client_id", f"{where}: {error.message}") from None
    return SignInClient(GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID, "default")


def public_client_id(override: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The id of `sign_in_client(...)`."""
    return sign_in_client(override, environ).client_id


class SignInError(Exception):
    """The sign-in did not give us an admin. `kind` says why (declined, expired, cancelled, tenant, consent,
    blocked, not-admin, failed); the message says what happened and what to do."""

    def __init__(
        self, kind: str, message: str, raw: str | None = None, problem: problems.Problem | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.raw = redact(raw) if raw else None
        self.problem = problem  # the catalogue's entry, with its fixes, where there is one


@dataclass(frozen=True, slots=True)
class DeviceCode:
    user_code: str
    verification_uri: str  # where the admin enters the code, as the authority answered (made visible)
    expires_at: datetime
    message: str
    lifetime: int = 900  # seconds the code lives from when it was shown (a screen counts down with its own clock)
    authority_host: str = ""  # the host of the authority that gave the address (shown beside it)
    doubt: str | None = None  # why the address is not trusted (sign_in_page_doubt): shown as a warning

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(0, int((self.expires_at - (now or datetime.now(UTC))).total_seconds()))


# An https address whose host is plain letters, digits, dots and hyphens (no user info, no backslash, no
# look-alike letters) on the default port, then printable ASCII without a blank or a backslash.
_PAGE = re.compile(r"https://(?P<host>[A-Za-z0-9.-]+)(?::443)?(?:[/?#][\x21-\x5b\x5d-\x7e]*)?", re.ASCII)


def sign_in_page_doubt(address: str, authority_host: str) -> str | None:
    """Why the admin should not enter a code at `address`, the page the authority `authority_host` answered
    with; None when it is one of Microsoft's sign-in pages, or when the authority is not a Microsoft cloud's (a
    custom cloud, a proxy or the lab, is trusted as configured). The text is one visible line."""
    cloud = microsoft_cloud_of(authority_host)
    if cloud is None:
        return None
    found = _PAGE.fullmatch(address)
    if found is not None and found.group("host").lower().rstrip(".") in SIGN_IN_PAGE_HOSTS:
        return None
    # What a browser would take for the host, read without a URL parser (which may refuse or reinterpret it).
    host = re.split(r"[/?#\\]", address.partition("://")[2] or address, maxsplit=1)[0]
    where = f" (host {visible(host, limit=100)})" if host else ""
    return visible(
        f"{urlsplit(cloud.authority_host).netloc} answered with a sign-in address that is not one of Microsoft's "
        f"sign-in pages{where}. Do not enter the code there unless you know why; Microsoft's page for this cloud "
        f"is {cloud.device_login}."
    )


@dataclass(frozen=True, slots=True)
class Admin:
    """Who signed in, and the directory roles they hold (display names)."""

    upn: str
    name: str
    tenant_id: str
    roles: tuple[str, ...] = ()

    @property
    def may_register(self) -> bool:
        return any(role in REGISTERING_ROLES.values() for role in self.roles)


@dataclass(frozen=True)
class AdminSession:
    """A signed-in admin's delegated Graph token. The token never leaves this object except into a Graph
    client; `repr` shows who, not what."""

    admin: Admin
    token: Secret = field(repr=False)
    graph_url: str
    ca_bundle: str | None
    timeout: float

    def graph(self) -> Graph:
        return Graph(self.graph_url, self.token, ca_bundle=self.ca_bundle, timeout=self.timeout)


_EXPLAINED = {
    "authorization_declined": (
        "declined",
        "The sign-in was declined on the verification page. Start again and choose Sign in, not Decline",
    ),
    "expired_token": ("expired", "The code expired before anyone signed in with it. Start again for a new code"),
    "bad_verification_code": ("expired", "The code is no longer valid. Start again for a new code"),
}


class DeviceSignIn:
    """One device-code sign-in. `start()` asks for a code; `wait()` blocks until the admin signed in, declined,
    the code expired, or `cancelled()` turned true (checked every second)."""

    def __init__(
        self,
        endpoints: CloudEndpoints,
        *,
        tenant_id: str | None,
        client_id: str,
        ca_bundle: str | None,
        timeout: float = 20.0,
    ) -> None:
        self.endpoints = endpoints
        self.tenant_id = tenant_id or None
        self.client_id = client_id
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self._app: Any = None
        self._flow: dict[str, Any] | None = None

    @property
    def authority(self) -> str:
        return f"{self.endpoints.authority_host}/{self.tenant_id or 'organizations'}"

    def start(self) -> DeviceCode:
        import msal

        host = self.endpoints.authority_host
        try:
            self._app = msal.PublicClientApplication(
                self.client_id,
                authority=self.authority,
                http_client=identity.http_session(self.ca_bundle, self.timeout),
                instance_discovery=host.endswith(
                    (".microsoftonline.com", ".microsoftonline.us", ".microsoftonline.cn")
                ),
                timeout=self.timeout,
            )
        except ValueError as error:
            if self.tenant_id and "authority configuration" in str(error):
                raise SignInError(
                    "tenant",
                    f"Tenant {self.tenant_id} was not found at {host}. Check the tenant ID, pick the cloud the "
                    "tenant lives in, or leave the tenant ID empty: the sign-in tells which tenant it is",
                    str(error),
                ) from None
            raise SignInError(
                "failed", f"Cannot start the sign-in at {host}: {visible(str(error))}", str(error)
            ) from None
        except Exception as error:  # noqa: BLE001  (the network, TLS: said, with where)
            raise _unreachable(host, error) from None
        scopes = [f"{self.endpoints.graph_resource}/{scope}" for scope in ADMIN_SCOPES]
        try:
            flow: dict[str, Any] = self._app.initiate_device_flow(scopes=scopes)
        except Exception as error:  # noqa: BLE001
            raise _unreachable(host, error) from None
        if "user_code" not in flow:
            raise _answer_error(flow, "asking for a code", self.client_id)
        lifetime = min(float(flow.get("expires_in") or MAX_SIGN_IN_WAIT), MAX_SIGN_IN_WAIT)
        flow["expires_at"] = min(float(flow.get("expires_at") or 0) or time.time() + lifetime, time.time() + lifetime)
        self._flow = flow
        address = str(flow.get("verification_uri") or flow.get("verification_url") or "")
        return DeviceCode(
            user_code=visible(str(flow["user_code"])),
            verification_uri=visible(address),
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
            message=visible(str(flow.get("message") or "")),
            lifetime=int(lifetime),
            authority_host=visible(urlsplit(host).netloc or host),
            doubt=sign_in_page_doubt(address, host),
        )

    def wait(self, cancelled: Callable[[], bool] = lambda: False) -> AdminSession:
        if self._app is None or self._flow is None:
            raise RuntimeError("start() the sign-in first")
        flow = self._flow

        def stop(current: dict[str, Any]) -> bool:  # (this replaces MSAL's own check of the code's expiry)
            return cancelled() or time.time() >= float(current.get("expires_at") or 0)

        try:
            result: dict[str, Any] = self._app.acquire_token_by_device_flow(flow, exit_condition=stop)
        except Exception as error:  # noqa: BLE001
            raise _unreachable(self.endpoints.authority_host, error) from None
        if cancelled():
            raise SignInError("cancelled", "The sign-in was cancelled")
        if "access_token" not in result and result.get("error") in (None, "authorization_pending", "slow_down"):
            raise SignInError(*_EXPLAINED["expired_token"])
        if "access_token" not in result:
            raise _answer_error(result, "signing in", self.client_id)
        claims = result.get("id_token_claims") or {}
        tenant = str(claims.get("tid") or "")
        if self.tenant_id and tenant and tenant.lower() != self.tenant_id.lower():
            who = visible(str(claims.get("preferred_username") or "The account"))
            raise SignInError(
                "tenant",
                f"{who} belongs to tenant {visible(tenant)}, "
                f"not {self.tenant_id}. Sign in with an admin of {self.tenant_id}, or clear the tenant ID",
            )
        if not tenant:
            raise SignInError("failed", "The sign-in answered without naming the tenant (no id_token)")
        admin = Admin(
            upn=visible(str(claims.get("preferred_username") or "")),
            name=visible(str(claims.get("name") or "")),
            tenant_id=tenant,
        )
        return AdminSession(
            admin, Secret(str(result["access_token"])), self.endpoints.graph_url, self.ca_bundle, self.timeout
        )

    def close(self) -> None:
        if self._app is not None:
            self._app.http_client.close()


def _unreachable(where: str, error: BaseException) -> SignInError:
    return SignInError(
        "network",
        f"Cannot reach {visible(where)}: {visible(type(error).__name__)}: {visible(str(error))[:300]}. Check the "
        "cloud's endpoints, the network and the CA bundle",
        str(error),
    )


def _answer_error(answer: Mapping[str, Any], doing: str, client_id: str = "") -> SignInError:
    error = str(answer.get("error") or "")
    description = str(answer.get("error_description") or "")
    codes = tuple(int(c) for c in answer.get("error_codes") or [] if isinstance(c, int))
    first = visible(description.split("\r\n")[0].split("\n")[0])
    if error in _EXPLAINED:
        kind, message = _EXPLAINED[error]
        return SignInError(kind, message, description)
    if 65001 in codes:
        return SignInError(
            "consent",
            "Nobody consented to the sign-in client's permissions in this tenant. Sign in as a Global "
            "Administrator (who can consent for the organisation), or set another sign-in client "
            f"({PUBLIC_CLIENT_ENV})",
            description,
        )
    if 7000112 in codes:
        problem = problems.SIGN_IN_CLIENT_BLOCKED.fill(client_id=client_id, env=PUBLIC_CLIENT_ENV)
        return SignInError(
            "client-blocked",
            f"The tenant has disabled the sign-in client {client_id} (AADSTS7000112: its service principal is "
            "disabled). Use the organisation's own public client instead: register an app with 'Allow public "
            "client flows' set to Yes and the delegated Microsoft Graph permissions "
            f"{', '.join(ADMIN_SCOPES)} (admin consent granted), then give its application (client) ID in the "
            f"wizard's Sign-in client field, with --public-client-id, or in {PUBLIC_CLIENT_ENV}. Or ask an admin to "
            f"enable the service principal again (Enterprise applications > {client_id} > Properties > Enabled "
            "for users to sign in). Nothing was created",
            description,
            problem,
        )
    if 700016 in codes:
        return SignInError(
            "client-unknown",
            f"The sign-in client {client_id} does not exist in this tenant (AADSTS700016). Leave the sign-in "
            f"client empty to use {GRAPH_COMMAND_LINE_TOOLS_NAME} ({GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID}), or give "
            "the application (client) ID of the organisation's own public client. Nothing was created",
            description,
            problems.SIGN_IN_CLIENT_UNKNOWN.fill(client_id=client_id, env=PUBLIC_CLIENT_ENV),
        )
    if 53003 in codes:
        return SignInError(
            "blocked",
            "A Conditional Access policy blocked the sign-in (device-code sign-ins may be blocked). Check the "
            "sign-in logs in the Entra admin center, or register the app manually",
            description,
        )
    return SignInError("failed", f"Entra ID refused {doing}: {first or error or 'no reason given'}", description)


@dataclass(frozen=True, slots=True)
class DirectoryRoles:
    """The directory roles Graph let us read (display names), and how many it returned unreadable (`@odata.type`
    and `id` only: the token lacks the permission to read directory roles)."""

    names: tuple[str, ...]
    unreadable: int = 0


def directory_roles(session: AdminSession) -> DirectoryRoles:
    """The directory roles the signed-in admin holds (directly or through groups), by display name; the two that
    may register are named as Microsoft names them whatever the tenant's language."""
    graph = session.graph()
    try:
        try:
            items = graph.get_all("/me/transitiveMemberOf", {"$select": "id,displayName,roleTemplateId"})
        except GraphError as error:
            if error.status != 403:
                raise
            items = graph.get_all("/me/memberOf", {"$select": "id,displayName,roleTemplateId"})
    finally:
        graph.close()
    roles: list[str] = []
    unreadable = 0
    for item in items:
        if not isinstance(item, dict) or item.get("@odata.type") != "#microsoft.graph.directoryRole":
            continue  # groups, administrative units: not roles
        template = str(item.get("roleTemplateId") or "").lower()
        name = str(item.get("displayName") or "")
        if not template and not name:
            unreadable += 1  # Graph's "limited information": the type and the id, nothing else
            continue
        roles.append(REGISTERING_ROLES.get(template) or visible(name or template))
    return DirectoryRoles(tuple(sorted(set(roles))), unreadable)


def with_roles(session: AdminSession) -> AdminSession:
    """The session with the admin's roles filled in; SignInError when neither role that may register an app and
    grant its permissions is among them — before anything is created. "roles-unreadable" when Graph returned
    roles the token may not read (the role-reading scope was not consented), "not-admin" otherwise."""
    try:
        found = directory_roles(session)
    except Exception as error:  # noqa: BLE001  (Graph refused, the network failed: said, nothing written)
        raise SignInError(
            "failed", f"Cannot read {session.admin.upn}'s directory roles: {visible(str(error))}", str(error)
        ) from None
    roles = found.names
    admin = Admin(session.admin.upn, session.admin.name, session.admin.tenant_id, roles)
    if not admin.may_register and found.unreadable:
        raise SignInError(
            "roles-unreadable",
            f"{admin.upn} holds {found.unreadable} directory role(s) that Graph would not name: the sign-in's token "
            f"lacks {ROLE_READ_SCOPE}, so Graph returned each role with its type and id only. Consent to the "
            f"delegated Microsoft Graph permission {ROLE_READ_SCOPE} for the sign-in client (a Global "
            "Administrator consents on the sign-in page, or in Enterprise applications > the client > "
            "Permissions), then sign in again. Nothing was created",
        )
    if not admin.may_register:
        held = ", ".join(roles) if roles else "no directory role"
        raise SignInError(
            "not-admin",
            f"{admin.upn} holds {held}. Registering the app and granting its permissions needs Global "
            "Administrator or Privileged Role Administrator: sign in with such an account. If the account is "
            "eligible for one of them in Privileged Identity Management, activate the role first "
            f"({PIM_ACTIVATE}), then sign in again: an eligible role that is not active is not a membership. "
            "Nothing was created",
        )
    return AdminSession(admin, session.token, session.graph_url, session.ca_bundle, session.timeout)
