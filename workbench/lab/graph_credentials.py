"""Graph v1.0's credential and consent endpoints, as the lab serves them beside the application upsert:

- `POST /applications/{id}/addPassword` and `removePassword` (the only way to change client secrets: a PATCH of
  `passwordCredentials` is refused);
- `POST /applications/{id}/addKey` and `removeKey`, which an app may call on itself: the request carries a proof of
  possession, a JWT signed with one of the app's current keys (audience `00000002-0000-0000-c000-000000000000`,
  issuer the app's object id, at most ten minutes long);
- `applications(appId='…')` to read, update and delete an app by its client id;
- `POST /servicePrincipals/{id}/appRoleAssignments` (granting from the client's side);
- `oauth2PermissionGrants` (delegated consent): list, create, delete.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography import x509

from .graph_caller import Caller
from .http import Request, Response, Router
from .tenant import Application, KeyCredential, PasswordCredential, Tenant
from .world import World, graph_error, now

V1 = "/v1.0"
SECRET_DAYS = 730  # Entra's longest secret lifetime offered in the portal (24 months)

Handler = Callable[[Request, Caller], Response]


class GraphService(Protocol):
    """What these endpoints use of the rest of Graph (`graph.Graph`, which registers them): its world and tenant,
    its token checks, its refusals, and the application and app-role operations they share with it."""

    denied: str  # Graph's message for a 403

    @property
    def world(self) -> World: ...

    @property
    def tenant(self) -> Tenant: ...

    def auth(self, handler: Handler) -> Callable[[Request], Response]: ...

    def directory(self, handler: Handler) -> Callable[[Request], Response]: ...

    def may_register(self, caller: Caller) -> bool: ...

    def not_found(self, what: str) -> Response: ...

    def get_application(self, request: Request, caller: Caller) -> Response: ...

    def patch_application(self, request: Request, caller: Caller) -> Response: ...

    def delete_application(self, request: Request, caller: Caller) -> Response: ...

    def grant(self, caller: Caller, resource_id: str, body: dict[str, Any]) -> Response: ...


def _stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def register(graph: GraphService, router: Router) -> None:
    add = router.add
    auth: Callable[[Handler], Callable[[Request], Response]] = graph.auth
    add("POST", rf"{V1}/applications/(?P<id>[0-9a-f-]+)/addPassword", auth(lambda r, c: add_password(graph, r, c)))
    add(
        "POST",
        rf"{V1}/applications/(?P<id>[0-9a-f-]+)/removePassword",
        auth(lambda r, c: remove_password(graph, r, c)),
    )
    add("POST", rf"{V1}/applications/(?P<id>[0-9a-f-]+)/addKey", auth(lambda r, c: add_key(graph, r, c)))
    add("POST", rf"{V1}/applications/(?P<id>[0-9a-f-]+)/removeKey", auth(lambda r, c: remove_key(graph, r, c)))
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


def _app(graph: GraphService, request: Request) -> Application | Response:
    app = graph.tenant.applications.get(request.params["id"])
    if app is None:
        return graph.not_found(request.params["id"])
    return app


def add_password(graph: GraphService, request: Request, caller: Caller) -> Response:
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


def remove_password(graph: GraphService, request: Request, caller: Caller) -> Response:
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


PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"


def key_credential_from(tenant: Tenant, raw: dict[str, Any]) -> KeyCredential | str:
    """A key credential from Graph's JSON (`key`: the base64 DER certificate), or why it cannot be one."""
    try:
        der = base64.b64decode(str(raw.get("key", "")), validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        return "Invalid value specified for property 'key' of resource 'KeyCredential'."
    if raw.get("type", "AsymmetricX509Cert") != "AsymmetricX509Cert" or raw.get("usage", "Verify") != "Verify":
        return "Only keyCredentials of type 'AsymmetricX509Cert' with usage 'Verify' can be added."

    def when(text: object, default: datetime) -> datetime:
        if not isinstance(text, str) or not text:
            return default
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    identifier = raw.get("customKeyIdentifier")
    custom: bytes | None = None
    if identifier is not None:  # Edm.Binary: base64, refused otherwise as Graph refuses a malformed value
        try:
            custom = base64.b64decode(str(identifier), validate=True)
        except (binascii.Error, ValueError):
            return "Invalid value specified for property 'customKeyIdentifier' of resource 'KeyCredential'."
    try:
        start = when(raw.get("startDateTime"), cert.not_valid_before_utc)
        end = when(raw.get("endDateTime"), cert.not_valid_after_utc)
    except ValueError:
        return "Invalid value specified for property 'startDateTime' or 'endDateTime' of resource 'KeyCredential'."
    return KeyCredential(
        key_id=str(raw.get("keyId") or tenant.new_id()),
        der=der,
        display_name=str(raw.get("displayName") or cert.subject.rfc4514_string()),
        start=start,
        end=end,
        custom_key_identifier=custom,
    )


def _proof_problem(app: Application, proof: str) -> str | None:
    """Why `proof` does not prove possession of one of `app`'s current keys, or None when it does."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    current = [k for k in app.key_credentials if k.start <= now() < k.end]
    if not current:
        return "The application has no current certificate to sign the proof with."
    for key in current:
        public = key.certificate.public_key()
        if not isinstance(public, RSAPublicKey):
            continue
        try:
            claims = jwt.decode(
                proof,
                public,
                algorithms=["RS256", "PS256"],
                audience=PROOF_AUDIENCE,
                options={"require": ["aud", "iss", "nbf", "exp"]},
            )
        except jwt.PyJWTError:
            continue
        if claims.get("iss") != app.object_id:
            return "The proof's issuer must be the application's object id."
        if float(claims["exp"]) - float(claims["nbf"]) > 600:
            return "The proof may be valid for ten minutes at most."
        return None
    return "The proof is not signed with any of the application's current keys, or it has expired."


def _own_app(graph: GraphService, request: Request, caller: Caller, proof: object) -> Application | Response:
    """The app addressed, when the caller is that app (or may manage apps) and `proof` proves possession of one of
    its current keys; Graph's refusal otherwise. Call with the tenant's lock held."""
    app = _app(graph, request)
    if isinstance(app, Response):
        return app
    if caller.claims.get("appid") != app.app_id and not graph.may_register(caller):
        return graph_error(403, "Authorization_RequestDenied", graph.denied)
    problem = _proof_problem(app, str(proof or ""))
    if problem is not None:
        return graph_error(400, "Request_BadRequest", f"Invalid proof. {problem}")
    return app


def add_key(graph: GraphService, request: Request, caller: Caller) -> Response:
    body = request.json() or {}
    with graph.tenant.lock:
        app = _own_app(graph, request, caller, body.get("proof"))
        if isinstance(app, Response):
            return app
        made = key_credential_from(graph.tenant, body.get("keyCredential") or {})
        if isinstance(made, str):
            return graph_error(400, "Request_BadRequest", made)
        app.key_credentials.append(made)
    return Response.json(
        200,
        {
            "keyId": made.key_id,
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "displayName": made.display_name,
            "startDateTime": _stamp(made.start),
            "endDateTime": _stamp(made.end),
            "key": None,
        },
    )


def remove_key(graph: GraphService, request: Request, caller: Caller) -> Response:
    body = request.json() or {}
    key_id = str(body.get("keyId") or "")
    with graph.tenant.lock:
        app = _own_app(graph, request, caller, body.get("proof"))
        if isinstance(app, Response):
            return app
        kept = [k for k in app.key_credentials if k.key_id != key_id]
        if len(kept) == len(app.key_credentials):
            return graph_error(
                400, "Request_BadRequest", f"No key credential with key id '{key_id}' exists on the application."
            )
        app.key_credentials = kept
    return Response(204)


def by_app_id(
    graph: GraphService, request: Request, caller: Caller, handler: Callable[[Request, Caller], Response]
) -> Response:
    """The same operation as on `applications/{id}`, addressed by the client id."""
    app = graph.tenant.application_by_app_id(request.params["app"])
    if app is None:
        return graph.not_found(request.params["app"])
    request.params["id"] = app.object_id
    return handler(request, caller)


def assign_from_client(graph: GraphService, request: Request, caller: Caller) -> Response:
    """`POST /servicePrincipals/{client}/appRoleAssignments`: the principal must be the service principal in the
    path; otherwise the same rules as granting from the resource's side."""
    body = request.json() or {}
    if str(body.get("principalId")) != request.params["id"]:
        return graph_error(
            400, "Request_BadRequest", "The principalId of the assignment must be the service principal addressed."
        )
    return graph.grant(caller, str(body.get("resourceId") or ""), body)


def list_grants(graph: GraphService, request: Request, caller: Caller) -> Response:
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


def create_grant(graph: GraphService, request: Request, caller: Caller) -> Response:
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


def delete_grant(graph: GraphService, request: Request, caller: Caller) -> Response:
    if not caller.may(
        {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"},
        {"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
    ):
        return graph_error(403, "Authorization_RequestDenied", graph.denied)
    with graph.tenant.lock:
        if graph.tenant.permission_grants.pop(request.params["grant"], None) is None:
            return graph.not_found(request.params["grant"])
    return Response(204)
