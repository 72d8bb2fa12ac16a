"""Simulated Microsoft Graph v1.0: the directory, mail folders and application registration.

Tokens are validated (signature, audience, lifetime); permissions come from the token's `roles` (app-only) or
`scp` (delegated, together with the signed-in user's directory roles), and refusals carry Graph's own codes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import graph_credentials
from .graph_caller import Caller
from .http import Request, Response, Router
from .odata import page, refuse_bad_options
from .tenant import (
    APP_CREATOR_ROLES,
    GLOBAL_ADMINISTRATOR,
    GRAPH_RESOURCE,
    PRIVILEGED_ROLE_ADMINISTRATOR,
    ROLE_NAMES,
    Application,
    ServicePrincipal,
    User,
)
from .tokens import TokenInvalid
from .world import Service, graph_error, now

GRAPH_AUDIENCES = {GRAPH_RESOURCE, "00000003-0000-0000-c000-000000000000"}
DENIED = "Insufficient privileges to complete the operation."
# Reading applications and service principals (and their role assignments), as Graph v1.0 requires it.
DIRECTORY_READ_ROLES = {
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
}
DIRECTORY_READ_SCOPES = {
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
}
V1 = "/v1.0"
# Reading a member object returned by memberOf / transitiveMemberOf needs the permission to read that object type;
# without it Graph returns the object with `@odata.type` and `id` only ("Limited information returned for
# inaccessible member objects", Graph docs). Delegated or application, the rule is the same.
MEMBER_READ = {
    "#microsoft.graph.directoryRole": {
        "RoleManagement.Read.Directory",
        "RoleManagement.ReadWrite.Directory",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    },
    "#microsoft.graph.group": {
        "GroupMember.Read.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    },
}


def _odata(context: str, value: Any) -> Response:
    return Response.json(200, {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}", **value})


def _select(request: Request, item: dict[str, Any]) -> dict[str, Any]:
    wanted = request.query_value("$select")
    if not wanted:
        return item
    fields = {f.strip() for f in wanted.split(",")}
    # Graph returns the id (and the OData annotations) whatever $select names.
    return {key: value for key, value in item.items() if key in fields or key == "id" or key.startswith("@odata")}


def _not_found(what: str) -> Response:
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects are not present.",
    )


def _equality_filter(request: Request, fields: dict[str, str]) -> tuple[str, str] | Response | None:
    """`$filter=<property> eq '<value>'` for the given properties -> (attribute, value); Graph's 400 otherwise."""
    text = request.query_value("$filter")
    if not text:
        return None
    match = re.fullmatch(r"(\w+) eq '([^']*)'", text.strip())
    if match is None or match.group(1) not in fields:
        return graph_error(
            400,
            "Request_UnsupportedQuery",
            f"Unsupported or invalid query filter clause specified for property '{text}'.",
        )
    return fields[match.group(1)], match.group(2)


def _limited(item: dict[str, Any]) -> dict[str, Any]:
    """A member object the token may not read: its type and id, every other property null."""
    return {key: (value if key in {"@odata.type", "id"} else None) for key, value in item.items()}


def _parse_time(text: object, default: datetime) -> datetime:
    if not isinstance(text, str) or not text:
        return default
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Graph(Service):
    def router(self) -> Router:
        r = Router()
        add = r.add
        add("GET", rf"{V1}/organization", self._auth(self.organization))
        add("GET", rf"{V1}/users", self._auth(self.list_users))
        add("GET", rf"{V1}/users/(?P<user>[^/]+)", self._auth(self.get_user))
        add("GET", rf"{V1}/users/(?P<user>[^/]+)/mailFolders(?:/(?P<folder>[^/]+))?", self._auth(self.mail_folders))
        add("GET", rf"{V1}/me", self._auth(self.me))
        add("GET", rf"{V1}/me/(?P<relation>memberOf|transitiveMemberOf)", self._auth(self.member_of))
        add("GET", rf"{V1}/applications", self._auth(self.list_applications))
        add("POST", rf"{V1}/applications", self._auth(self.create_application))
        add("GET", rf"{V1}/applications/(?P<id>[0-9a-f-]+)", self._directory(self.get_application))
        add("PATCH", rf"{V1}/applications/(?P<id>[0-9a-f-]+)", self._auth(self.patch_application))
        add("DELETE", rf"{V1}/applications/(?P<id>[0-9a-f-]+)", self._auth(self.delete_application))
        add("PATCH", rf"{V1}/applications\(uniqueName='(?P<unique>[^']+)'\)", self._auth(self.upsert_application))
        add("GET", rf"{V1}/applications\(uniqueName='(?P<unique>[^']+)'\)", self._directory(self.get_by_unique_name))
        add("GET", rf"{V1}/servicePrincipals", self._directory(self.list_service_principals))
        add("POST", rf"{V1}/servicePrincipals", self._auth(self.create_service_principal))
        add("GET", rf"{V1}/servicePrincipals\(appId='(?P<app>[^']+)'\)", self._directory(self.get_sp_by_app))
        add("GET", rf"{V1}/servicePrincipals/(?P<id>[0-9a-f-]+)", self._directory(self.get_sp))
        add(
            "GET",
            rf"{V1}/servicePrincipals/(?P<id>[0-9a-f-]+)/appRoleAssignments",
            self._directory(self.assignments_of),
        )
        add("GET", rf"{V1}/servicePrincipals/(?P<id>[0-9a-f-]+)/appRoleAssignedTo", self._directory(self.assigned_to))
        add("POST", rf"{V1}/servicePrincipals/(?P<id>[0-9a-f-]+)/appRoleAssignedTo", self._auth(self.assign))
        graph_credentials.register(self, r)
        return r

    # What the credential and consent endpoints (graph_credentials) share with the rest of Graph.
    denied = DENIED

    def auth(self, handler: Callable[[Request, Caller], Response]) -> Callable[[Request], Response]:
        return self._auth(handler)

    def directory(self, handler: Callable[[Request, Caller], Response]) -> Callable[[Request], Response]:
        return self._directory(handler)

    def may_register(self, caller: Caller) -> bool:
        return self._may_register(caller)

    @staticmethod
    def not_found(what: str) -> Response:
        return _not_found(what)

    # ---------------------------------------------------------------- authentication, throttling

    def _directory(self, handler: Callable[[Request, Caller], Response]) -> Callable[[Request], Response]:
        """A directory read: the token must hold Application.Read.All, Directory.Read.All or more (Graph's 403
        otherwise)."""

        def guarded(request: Request, caller: Caller) -> Response:
            if not caller.may(DIRECTORY_READ_ROLES, DIRECTORY_READ_SCOPES | {"AppRoleAssignment.ReadWrite.All"}):
                return graph_error(403, "Authorization_RequestDenied", DENIED)
            return handler(request, caller)

        return self._auth(guarded)

    def _auth(self, handler: Callable[[Request, Caller], Response]) -> Callable[[Request], Response]:
        def wrapped(request: Request) -> Response:
            header = request.header("Authorization") or ""
            if not header.startswith("Bearer "):
                return graph_error(
                    401, "InvalidAuthenticationToken", "Access token is empty.", [("WWW-Authenticate", "Bearer")]
                )
            try:
                claims = self.world.issuer.validate(header[7:], GRAPH_AUDIENCES)
            except TokenInvalid as error:
                return graph_error(401, "InvalidAuthenticationToken", str(error), [("WWW-Authenticate", "Bearer")])
            if claims.get("tid") != self.tenant.id:
                return graph_error(
                    401, "InvalidAuthenticationToken", "Access token validation failure. Invalid issuer."
                )
            refused = refuse_bad_options(request)
            if refused is not None:
                return refused
            if (
                self.world.has("graph-throttled")
                and self.world.bump(f"graph:{claims.get('appid')}") < self.world.throttle_first
            ):
                return graph_error(
                    429,
                    "TooManyRequests",
                    "Too many requests.",
                    [("Retry-After", str(self.world.retry_after))],
                )
            with self.tenant.lock:
                # A token without permissions is refused by each operation, with that operation's own code.
                user = self.tenant.user(str(claims["oid"])) if claims.get("scp") else None
                return handler(request, Caller(claims, user))

        return wrapped

    # ---------------------------------------------------------------- directory

    def organization(self, request: Request, caller: Caller) -> Response:
        if not caller.may({"Organization.Read.All", "Directory.Read.All"}, {"User.Read", "Directory.Read.All"}):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        t = self.tenant
        org = {
            "id": t.id,
            "displayName": t.display_name,
            "tenantType": "AAD",
            "verifiedDomains": [
                {
                    "capabilities": "Email, OfficeCommunicationsOnline",
                    "isDefault": True,
                    "isInitial": False,
                    "name": t.default_domain,
                    "type": "Managed",
                },
                {
                    "capabilities": "Email, OfficeCommunicationsOnline",
                    "isDefault": False,
                    "isInitial": True,
                    "name": t.initial_domain,
                    "type": "Managed",
                },
            ],
        }
        return _odata("organization", {"value": [_select(request, org)]})

    def _user_or_404(self, key: str) -> User | Response:
        user = self.tenant.user(key)
        return user if user is not None else _not_found(key)

    def list_users(self, request: Request, caller: Caller) -> Response:
        if not caller.may(
            {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All"},
            {"User.ReadBasic.All", "User.Read.All", "Directory.Read.All"},
        ):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        users = sorted(self.tenant.users.values(), key=lambda u: u.upn)
        wanted = _equality_filter(request, {"userPrincipalName": "upn", "mail": "upn", "displayName": "display_name"})
        if isinstance(wanted, Response):
            return wanted
        if wanted is not None:
            users = [u for u in users if str(getattr(u, wanted[0])).lower() == wanted[1].lower()]
        return page(request, self.world.graph_url, "users", [_select(request, u.as_graph()) for u in users])

    def get_user(self, request: Request, caller: Caller) -> Response:
        found = self._user_or_404(request.params["user"])
        if isinstance(found, Response):
            return found
        is_self = caller.user is not None and caller.user.id == found.id
        if not is_self and not caller.may(
            {"User.Read.All", "Directory.Read.All"}, {"User.Read.All", "Directory.Read.All"}
        ):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        return _odata("users/$entity", _select(request, found.as_graph()))

    def mail_folders(self, request: Request, caller: Caller) -> Response:
        key = request.params["user"]
        user = self.tenant.user(key)
        if user is None:
            return graph_error(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        if not caller.may({"Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"}, {"Mail.Read", "Mail.ReadWrite"}):
            return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if not user.has_mailbox:
            return graph_error(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        if user.ews_blocked_by_policy:
            return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        folders: list[dict[str, Any]] = [
            {
                "id": f"{user.id}-{name.lower().replace(' ', '')}",
                "displayName": name,
                "parentFolderId": f"{user.id}-root",
                "childFolderCount": 0,
                "unreadItemCount": 0,
                "totalItemCount": 0,
                "isHidden": False,
            }
            for name in ("Inbox", "Drafts", "Sent Items", "Deleted Items", "Archive")
        ]
        folder = request.params.get("folder")
        if folder:
            match = next((f for f in folders if str(f["displayName"]).lower().replace(" ", "") == folder.lower()), None)
            return _odata("users/mailFolders/$entity", match) if match else _not_found(folder)
        top = int(request.query_value("$top") or 10)
        return _odata(f"users('{user.upn}')/mailFolders", {"value": folders[:top]})

    def me(self, request: Request, caller: Caller) -> Response:
        if caller.user is None:
            return graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        return _odata("users/$entity", _select(request, caller.user.as_graph()))

    def member_of(self, request: Request, caller: Caller) -> Response:
        if caller.user is None:
            return graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        members: list[dict[str, Any]] = [
            {
                "@odata.type": "#microsoft.graph.directoryRole",
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.tenant.id}/{template}")),
                "displayName": ROLE_NAMES[template],
                "description": None,
                "roleTemplateId": template,
            }
            for template in caller.user.roles  # active assignments only: a PIM-eligible role is not a membership
        ]
        members += [
            {
                "@odata.type": "#microsoft.graph.group",
                "id": group_id,
                "displayName": name,
                "securityEnabled": True,
                "mailEnabled": False,
            }
            for group_id, name in caller.user.groups
        ]
        held = caller.scopes | caller.roles
        shown = [item if held & MEMBER_READ[item["@odata.type"]] else _limited(item) for item in members]
        return page(request, self.world.graph_url, "directoryObjects", [_select(request, m) for m in shown])

    # ---------------------------------------------------------------- applications

    def _may_register(self, caller: Caller) -> bool:
        return caller.may({"Application.ReadWrite.All"}, {"Application.ReadWrite.All"})

    def _may_create_application(self, caller: Caller) -> bool:
        """Creating an app on behalf of a user: any user while "Users can register applications" is Yes; else
        only Global Administrator, Application Administrator, Cloud Application Administrator or Application
        Developer. (App-only tokens need only the permission.)"""
        if not self._may_register(caller):
            return False
        if caller.user is None or self.tenant.users_can_register_apps:
            return True
        return bool(set(caller.user.roles) & APP_CREATOR_ROLES)

    def _app_fields(self, app: Application, body: dict[str, Any]) -> Response | None:
        if "passwordCredentials" in body:  # Graph changes secrets only through addPassword / removePassword
            return graph_error(
                400,
                "Request_BadRequest",
                "Property 'passwordCredentials' cannot be updated with PATCH; use the addPassword and removePassword "
                "actions.",
            )
        if "displayName" in body:
            app.display_name = str(body["displayName"])
        if "signInAudience" in body:
            app.sign_in_audience = str(body["signInAudience"])
        if "requiredResourceAccess" in body:
            app.required_resource_access = list(body["requiredResourceAccess"] or [])
        if "keyCredentials" in body:
            keys = []
            for raw in body["keyCredentials"] or []:
                made = graph_credentials.key_credential_from(self.tenant, raw if isinstance(raw, dict) else {})
                if isinstance(made, str):
                    return graph_error(400, "Request_BadRequest", made)
                keys.append(made)
            app.key_credentials = keys  # PATCH replaces the whole collection, as Graph does
        return None

    def _new_application(self, body: dict[str, Any], unique_name: str | None) -> Application | Response:
        app = Application(
            object_id=self.tenant.new_id(),
            app_id=self.tenant.new_id(),
            display_name=str(body.get("displayName") or ""),
            created=now(),
            unique_name=unique_name,
            usable_from=now() + self.tenant.propagation_delay,
        )
        if not app.display_name:
            return graph_error(400, "Request_BadRequest", "Property 'displayName' is required.")
        problem = self._app_fields(app, body)
        if problem is not None:
            return problem
        self.tenant.applications[app.object_id] = app
        return app

    def list_applications(self, request: Request, caller: Caller) -> Response:
        if not caller.may(
            {"Application.Read.All", "Application.ReadWrite.All"}, {"Application.Read.All", "Application.ReadWrite.All"}
        ):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        apps = list(self.tenant.applications.values())
        wanted = _equality_filter(
            request, {"appId": "app_id", "displayName": "display_name", "uniqueName": "unique_name"}
        )
        if isinstance(wanted, Response):
            return wanted
        if wanted is not None:
            apps = [a for a in apps if getattr(a, wanted[0]) == wanted[1]]
        return page(request, self.world.graph_url, "applications", [_select(request, a.as_graph()) for a in apps])

    def create_application(self, request: Request, caller: Caller) -> Response:
        if not self._may_create_application(caller):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        body = request.json() or {}
        with self.tenant.lock:
            unique = body.get("uniqueName")
            if unique and self.tenant.application_by_unique_name(unique):
                return graph_error(
                    400,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "Another object with the same value for property uniqueName already exists.",
                )
            created = self._new_application(body, unique)
        return created if isinstance(created, Response) else Response.json(201, created.as_graph())

    def get_application(self, request: Request, caller: Caller) -> Response:
        app = self.tenant.applications.get(request.params["id"])
        return Response.json(200, _select(request, app.as_graph())) if app else _not_found(request.params["id"])

    def get_by_unique_name(self, request: Request, caller: Caller) -> Response:
        app = self.tenant.application_by_unique_name(request.params["unique"])
        return Response.json(200, _select(request, app.as_graph())) if app else _not_found(request.params["unique"])

    def patch_application(self, request: Request, caller: Caller) -> Response:
        if not self._may_register(caller):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        with self.tenant.lock:
            app = self.tenant.applications.get(request.params["id"])
            if app is None:
                return _not_found(request.params["id"])
            problem = self._app_fields(app, request.json() or {})
        return problem or Response(204)

    def upsert_application(self, request: Request, caller: Caller) -> Response:
        if not self._may_register(caller):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        unique = request.params["unique"]
        body = request.json() or {}
        create = "create-if-missing" in (request.header("Prefer") or "").lower()
        with self.tenant.lock:
            app = self.tenant.application_by_unique_name(unique)
            if app is not None:
                problem = self._app_fields(app, body)
                return problem or Response(204)
            if not create:
                return _not_found(unique)
            if not self._may_create_application(caller):
                return graph_error(403, "Authorization_RequestDenied", DENIED)
            created = self._new_application(body, unique)
        return created if isinstance(created, Response) else Response.json(201, created.as_graph())

    def delete_application(self, request: Request, caller: Caller) -> Response:
        if not self._may_register(caller):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        with self.tenant.lock:
            app = self.tenant.applications.get(request.params["id"])
            if app is None:
                return _not_found(request.params["id"])
            self.tenant.delete_application(app)
        return Response(204)

    # ---------------------------------------------------------------- service principals and consent

    def list_service_principals(self, request: Request, caller: Caller) -> Response:
        sps = list(self.tenant.service_principals.values())
        wanted = _equality_filter(request, {"appId": "app_id"})
        if isinstance(wanted, Response):
            return wanted
        if wanted is not None:
            sps = [s for s in sps if getattr(s, wanted[0]) == wanted[1].lower()]
        return page(request, self.world.graph_url, "servicePrincipals", [_select(request, s.as_graph()) for s in sps])

    def create_service_principal(self, request: Request, caller: Caller) -> Response:
        if not self._may_register(caller):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        app_id = str((request.json() or {}).get("appId", "")).lower()
        with self.tenant.lock:
            app = self.tenant.application_by_app_id(app_id)
            if app is None:
                return graph_error(
                    400,
                    "Request_BadRequest",
                    f"The appId '{app_id}' of the service principal does not reference a valid application object.",
                )
            if self.tenant.service_principal_by_app_id(app_id) is not None:
                return graph_error(
                    409,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "The service principal cannot be created, updated, or restored because the service principal "
                    f"name {app_id} is already in use.",
                )
            sp = self.tenant.add_service_principal(app)
        return Response.json(201, sp.as_graph())

    def _sp_response(self, request: Request, sp: ServicePrincipal | None, key: str) -> Response:
        return Response.json(200, _select(request, sp.as_graph())) if sp else _not_found(key)

    def get_sp_by_app(self, request: Request, caller: Caller) -> Response:
        return self._sp_response(
            request, self.tenant.service_principal_by_app_id(request.params["app"]), request.params["app"]
        )

    def get_sp(self, request: Request, caller: Caller) -> Response:
        return self._sp_response(
            request, self.tenant.service_principals.get(request.params["id"]), request.params["id"]
        )

    def _assignments(self, request: Request, end: str) -> Response:
        """The app role assignments a service principal holds (`principal_id`) or grants (`resource_id`)."""
        sp_id = request.params["id"]
        if sp_id not in self.tenant.service_principals:
            return _not_found(sp_id)
        items = [a.as_graph(self.tenant) for a in self.tenant.assignments.values() if getattr(a, end) == sp_id]
        return page(request, self.world.graph_url, "appRoleAssignments", items)

    def assignments_of(self, request: Request, caller: Caller) -> Response:
        return self._assignments(request, "principal_id")

    def assigned_to(self, request: Request, caller: Caller) -> Response:
        return self._assignments(request, "resource_id")

    def assign(self, request: Request, caller: Caller) -> Response:
        return self.grant(caller, request.params["id"], request.json() or {})

    def grant(self, caller: Caller, resource_id: str, body: dict[str, Any]) -> Response:
        """An app role assignment of `body` (principalId, resourceId, appRoleId) on the resource `resource_id`."""
        if not caller.may(
            {"AppRoleAssignment.ReadWrite.All"},
            {"AppRoleAssignment.ReadWrite.All"},
            {GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR},
        ):
            return graph_error(403, "Authorization_RequestDenied", DENIED)
        with self.tenant.lock:
            resource = self.tenant.service_principals.get(resource_id)
            if resource is None or body.get("resourceId") != resource.id:
                return _not_found(str(body.get("resourceId") or resource_id))
            principal = self.tenant.service_principals.get(str(body.get("principalId")))
            if principal is None:
                return _not_found(str(body.get("principalId")))
            role = next((value for rid, value in resource.app_roles if rid == body.get("appRoleId")), None)
            if role is None:
                return graph_error(
                    400,
                    "Request_BadRequest",
                    f"Permission being assigned was not found on application '{resource.app_id}'.",
                )
            if any(
                a.principal_id == principal.id
                and a.resource_id == resource.id
                and a.app_role_id == body.get("appRoleId")
                for a in self.tenant.assignments.values()
            ):
                return graph_error(400, "Request_BadRequest", "Permission being assigned already exists on the object.")
            assignment = self.tenant.assign(principal, resource, role)
        return Response.json(201, assignment.as_graph(self.tenant))
