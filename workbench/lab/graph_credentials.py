"""Graph v1.0's credential and consent endpoints, as the lab serves them beside the application upsert:

- `POST /applications/{id}/addPassword` and `removePassword` (the only way to change client secrets: a PATCH of
  `passwordCredentials` is refused);
- `applications(appId='…')` to read, update and delete an app by its client id;
- `POST /servicePrincipals/{id}/appRoleAssignments` (granting from the client's side);
- `oauth2PermissionGrants` (delegated consent): list, create, delete.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .http import Request, Response, Router
from .tenant import Application, PasswordCredential
from .world import graph_error, now

if TYPE_CHECKING:
    from .graph import Caller, Graph

V1 = "/v1.0"
SECRET_DAYS = 730  # Entra's longest secret lifetime offered in the portal (24 months)


def _stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def register(graph: Graph, router: Router) -> None:
    add = router.add
    auth: Callable[[Callable[[Request, Caller], Response]], Callable[[Request], Response]] = graph.auth
    add("POST", rf"{V1}/applications/(?P<id>[0-9a-f-]+)/addPassword", auth(lambda r, c: add_password(graph, r, c)))
    add(
        "POST",
        rf"{V1}/applications/(?P<id>[0-9a-f-]+)/removePassword",
        auth(lambda r, c: remove_password(graph, r, c)),
    )
    by_app = rf"{V1}/applications\(appId='(?P<app>[^']+)'\)"
    add("GET", by_app, graph.directory(lambda r, c: by_app_id(graph, r, c, graph.get_application)))
    add("PATCH", by_app, auth(lambda r, c: by_app_id(graph, r, c, graph.patch_application)))
    add("DELETE", by_app, auth(lambda r, c: by_app_id(graph, r, c, graph.delete_application)))
    add(
        "POST",
        rf"{V1}/servicePrincipals/(?P<id>[0-9a-f-]+)/appRoleAssignments",
        auth(lambda r, c: assign_from_client(graph, r, c)),
    )
    add("GET", rf"{V1}/oauth2PermissionGrants", graph.directory(lambda r, c: list_grants(graph, r, c)))
    add("POST", rf"{V1}/oauth2PermissionGrants", auth(lambda r, c: create_grant(graph, r, c)))
    add("DELETE", rf"{V1}/oauth2PermissionGrants/(?P<grant>[^/]+)", auth(lambda r, c: delete_grant(graph, r, c)))


def _app(graph: Graph, request: Request) -> Application | Response:
    app = graph.tenant.applications.get(request.params["id"])
    if app is None:
        return graph.not_found(request.params["id"])
    return app


def add_password(graph: Graph, request: Request, caller: Caller) -> Response:
    if not graph.may_register(caller):
        return graph_error(403, "Authorization_RequestDenied", graph.denied)
    wanted = (request.json() or {}).get("passwordCredential") or {}
    with graph.tenant.lock:
        app = _app(graph, request)
        if isinstance(app, Response):
            return app
        start = now()
        end = start + timedelta(days=SECRET_DAYS)
        if wanted.get("endDateTime"):
            try:
                end = datetime.fromisoformat(str(wanted["endDateTime"]).replace("Z", "+00:00"))
            except ValueError:
                return graph_error(400, "Request_BadRequest", "Invalid value specified for property 'endDateTime'.")
        credential = PasswordCredential(
            key_id=graph.tenant.new_id(),
            secret=secrets.token_urlsafe(30).replace("-", "~"),
            start=start,
            end=end,
            display_name=str(wanted.get("displayName") or ""),
        )
        app.password_credentials.append(credential)
    return Response.json(
        200,
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.passwordCredential",
            "customKeyIdentifier": None,
            "displayName": credential.display_name,
            "endDateTime": _stamp(credential.end),
            "hint": credential.secret[:3],
            "keyId": credential.key_id,
            "secretText": credential.secret,  # returned this once, as Graph does
            "startDateTime": _stamp(credential.start),
        },
    )


def remove_password(graph: Graph, request: Request, caller: Caller) -> Response:
    if not graph.may_register(caller):
        return graph_error(403, "Authorization_RequestDenied", graph.denied)
    key_id = str((request.json() or {}).get("keyId") or "")
    with graph.tenant.lock:
        app = _app(graph, request)
        if isinstance(app, Response):
            return app
        kept = [p for p in app.password_credentials if p.key_id != key_id]
        if len(kept) == len(app.password_credentials):
            return graph_error(
                400, "Request_BadRequest", f"No password credential with key id '{key_id}' exists on the application."
            )
        app.password_credentials = kept
    return Response(204)


def by_app_id(
    graph: Graph, request: Request, caller: Caller, handler: Callable[[Request, Caller], Response]
) -> Response:
    """The same operation as on `applications/{id}`, addressed by the client id."""
    app = graph.tenant.application_by_app_id(request.params["app"])
    if app is None:
        return graph.not_found(request.params["app"])
    request.params["id"] = app.object_id
    return handler(request, caller)


def assign_from_client(graph: Graph, request: Request, caller: Caller) -> Response:
    """`POST /servicePrincipals/{client}/appRoleAssignments`: the principal must be the service principal in the
    path; otherwise the same rules as granting from the resource's side."""
    body = request.json() or {}
    if str(body.get("principalId")) != request.params["id"]:
        return graph_error(
            400, "Request_BadRequest", "The principalId of the assignment must be the service principal addressed."
        )
    return graph.grant(caller, str(body.get("resourceId") or ""), body)


def list_grants(graph: Graph, request: Request, caller: Caller) -> Response:
    from .odata import page

    grants = list(graph.tenant.permission_grants.values())
    client = request.query_value("$filter")
    if client:
        import re

        match = re.fullmatch(r"clientId eq '([^']*)'", client.strip())
        if match is None:
            return graph_error(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{client}'.",
            )
        grants = [g for g in grants if g["clientId"] == match.group(1)]
    return page(request, graph.world.graph_url, "oauth2PermissionGrants", grants)


def create_grant(graph: Graph, request: Request, caller: Caller) -> Response:
    if not caller.may(
        {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"},
        {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
    ):
        return graph_error(403, "Authorization_RequestDenied", graph.denied)
    body = request.json() or {}
    with graph.tenant.lock:
        sps = graph.tenant.service_principals
        for field in ("clientId", "resourceId"):
            if str(body.get(field)) not in sps:
                return graph.not_found(str(body.get(field)))
        consent = str(body.get("consentType") or "")
        if consent not in {"AllPrincipals", "Principal"} or (consent == "Principal") != bool(body.get("principalId")):
            return graph_error(
                400,
                "Request_BadRequest",
                "consentType must be AllPrincipals (no principalId) or Principal (with principalId).",
            )
        grant_id = secrets.token_urlsafe(24)
        grant = {
            "id": grant_id,
            "clientId": str(body["clientId"]),
            "consentType": consent,
            "principalId": body.get("principalId"),
            "resourceId": str(body["resourceId"]),
            "scope": str(body.get("scope") or "").strip(),
        }
        graph.tenant.permission_grants[grant_id] = grant
    return Response.json(201, grant)


def delete_grant(graph: Graph, request: Request, caller: Caller) -> Response:
    if not caller.may(
        {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"},
        {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
    ):
        return graph_error(403, "Authorization_RequestDenied", graph.denied)
    with graph.tenant.lock:
        if graph.tenant.permission_grants.pop(request.params["grant"], None) is None:
            return graph.not_found(request.params["grant"])
    return Response(204)
