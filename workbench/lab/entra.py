"""Simulated Entra ID: OpenID discovery, the v2.0 token endpoint (client credentials with a secret or a signed
assertion, device code), the device-code endpoint and the page where a person enters the code.

Errors have Entra's shape: `{"error", "error_description": "AADSTSnnnn: …\\r\\nTrace ID: …", "error_codes": [n]}`.
"""

from __future__ import annotations

import html
import secrets
import string
import uuid
from datetime import timedelta
from typing import Any

from .http import Request, Response, Router
from .tenant import FIRST_PARTY_PUBLIC_CLIENTS, GRAPH_RESOURCE, DeviceFlow, RefreshGrant, ServicePrincipal, User
from .tokens import client_info, unsigned_id_token, verify_client_assertion
from .world import Service, World, now

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DELEGATED_SCOPES = {  # what the tenant consented to for the public clients (other scopes: AADSTS65001)
    "Application.ReadWrite.All",
    "RoleManagement.Read.Directory",
    "AppRoleAssignment.ReadWrite.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "User.Read",
    "Directory.Read.All",
}
RESERVED_SCOPES = {"openid", "profile", "offline_access"}


def _delegated(scopes: list[str]) -> list[str]:
    """The permission names of requested delegated scopes ("https://graph.microsoft.com/User.Read" -> "User.Read"),
    without the OpenID Connect ones."""
    return [scope.rsplit("/", 1)[-1] for scope in scopes if scope not in RESERVED_SCOPES]


def aad_error(world: World, status: int, error: str, code: int, description: str) -> Response:
    stamp = now().strftime("%Y-%m-%d %H:%M:%SZ")
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    return Response.json(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": str(trace),
            "correlation_id": str(correlation),
            "error_uri": f"{world.login_url}/error?code={code}",
        },
    )


class Entra(Service):
    def router(self) -> Router:
        router = Router()
        router.add("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration", self.discovery)
        router.add("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", self.token)
        router.add("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/devicecode", self.device_code)
        router.add("GET", r"/devicelogin", self.login_page)
        router.add("POST", r"/devicelogin", self.login_submit)
        return router

    # ---------------------------------------------------------------- discovery

    def _known(self, tenant: str) -> bool:
        return tenant.lower() in {"organizations", "common"} or self.tenant.matches_tenant(tenant)

    def _tenant_not_found(self, tenant: str) -> Response:
        return aad_error(
            self.world,
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
            "correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant.",
        )

    def discovery(self, request: Request) -> Response:
        tenant = request.params["tenant"]
        if not self._known(tenant):
            return self._tenant_not_found(tenant)
        base = self.world.login_url
        issuer_tenant = "{tenantid}" if tenant.lower() in {"organizations", "common"} else self.tenant.id
        return Response.json(
            200,
            {
                "issuer": f"{base}/{issuer_tenant}/v2.0",
                "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
            },
        )

    # ---------------------------------------------------------------- token endpoint

    def token(self, request: Request) -> Response:
        tenant = request.params["tenant"]
        form = request.form()
        if not self._known(tenant):
            return self._tenant_not_found(tenant)
        if self.world.has("conditional-access"):
            return aad_error(
                self.world,
                400,
                "invalid_grant",
                53003,
                "Access has been blocked by Conditional Access policies. The access policy does not allow token "
                "issuance.",
            )
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            return self._client_credentials(tenant, form, request)
        if grant == DEVICE_GRANT:
            return self._device_token(form)
        if grant == "refresh_token":
            return self._refresh_token(form)
        return aad_error(
            self.world, 400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
        )

    def _client_credentials(self, tenant: str, form: dict[str, str], request: Request) -> Response:
        world = self.world
        if tenant.lower() in {"organizations", "common"}:
            return aad_error(
                world,
                400,
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any provided credentials.",
            )
        client_id = form.get("client_id", "").lower()
        with self.tenant.lock:
            app = self.tenant.application_by_app_id(client_id)
            if app is None or (app.usable_from is not None and now() < app.usable_from):
                return self._unknown_client(client_id)
            if "client_secret" in form:
                problem = self._check_secret(app_secret_list=app.password_credentials, given=form["client_secret"])
                if problem is not None:
                    code, text = problem
                    return aad_error(world, 401, "invalid_client", code, text.format(app=app.app_id))
            elif form.get("client_assertion_type") == ASSERTION_TYPE and "client_assertion" in form:
                endpoint = f"{world.login_url}{request.path}"
                audiences = {endpoint, endpoint.replace("/v2.0/", "/")}
                assertion_problem = verify_client_assertion(form["client_assertion"], app, audiences)
                if assertion_problem is not None:
                    return aad_error(
                        world, 401, "invalid_client", assertion_problem.code, assertion_problem.description
                    )
            else:
                return aad_error(
                    world,
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                )
            resource, scope_error = self._resource(form.get("scope", ""), app_only=True)
            if scope_error is not None:
                return scope_error
            assert resource is not None
            client_sp = self.tenant.service_principal_by_app_id(app.app_id)
            if client_sp is None:
                return aad_error(
                    world,
                    400,
                    "invalid_client",
                    7000229,
                    f"The client application {app.app_id} is missing service principal in the tenant {self.tenant.id}.",
                )
            disabled = self._disabled_refusal(app.app_id, app.display_name)
            if disabled is not None:
                return disabled
            roles = self.tenant.granted_roles(client_sp, resource)
            claims: dict[str, Any] = {
                "aud": resource.names[0],
                "iss": f"https://sts.windows.net/{self.tenant.id}/",
                "tid": self.tenant.id,
                "appid": app.app_id,
                "azp": app.app_id,
                "oid": client_sp.id,
                "sub": client_sp.id,
                "idtyp": "app",
                "ver": "1.0",
            }
            if roles:
                claims["roles"] = roles
        token = world.issuer.issue(claims)
        return Response.json(
            200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )

    @staticmethod
    def _check_secret(app_secret_list: list[Any], given: str) -> tuple[int, str] | None:
        current = now()
        for credential in app_secret_list:
            if secrets.compare_digest(credential.secret.encode(), given.encode()):
                if current >= credential.end:
                    return (
                        7000222,
                        "The provided client secret keys for app '{app}' are expired. Visit the Azure portal to "
                        "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
                        "credentials for added security: https://aka.ms/certCreds.",
                    )
                return None
        return (
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            "value, not the client secret ID, for a secret added to app '{app}'.",
        )

    def _resource(self, scope: str, app_only: bool) -> tuple[ServicePrincipal | None, Response | None]:
        scopes = [s for s in scope.split() if s not in RESERVED_SCOPES]
        if app_only:
            if len(scopes) != 1 or not scopes[0].endswith("/.default"):
                return None, aad_error(
                    self.world,
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                    "value with /.default suffixed to the resource identifier (application ID URI).",
                )
            identifier = scopes[0][: -len("/.default")]
        else:
            identifier = scopes[0].rsplit("/", 1)[0] if scopes and "/" in scopes[0] else GRAPH_RESOURCE
        resource = self.tenant.resource_for(identifier)
        if resource is None:
            return None, aad_error(
                self.world,
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {identifier} was not found in the tenant named "
                f"{self.tenant.display_name}. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You might have sent your "
                "authentication request to the wrong tenant.",
            )
        return resource, None

    # ---------------------------------------------------------------- device code

    def device_code(self, request: Request) -> Response:
        tenant = request.params["tenant"]
        if not self._known(tenant):
            return self._tenant_not_found(tenant)
        form = request.form()
        client_id = form.get("client_id", "").lower()
        with self.tenant.lock:
            refused = self._public_client_refusal(client_id)
            if refused is not None:
                return refused
            code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
            flow = DeviceFlow(
                device_code=secrets.token_urlsafe(48),
                user_code=code,
                client_id=client_id,
                scopes=form.get("scope", "").split(),
                created=now(),
                expires=now() + timedelta(seconds=900),
            )
            self.tenant.device_flows[flow.device_code] = flow
        uri = f"{self.world.login_url}/devicelogin"
        return Response.json(
            200,
            {
                "user_code": flow.user_code,
                "device_code": flow.device_code,
                "verification_uri": uri,
                "expires_in": 900,
                "interval": self.world.device_interval,
                "message": f"To sign in, use a web browser to open the page {uri} and enter the code {flow.user_code} "
                "to authenticate.",
            },
        )

    def _unknown_client(self, client_id: str) -> Response:
        """AADSTS700016, as Entra words it for a client the tenant does not hold."""
        return aad_error(
            self.world,
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{self.tenant.display_name}'. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You may have sent your "
            "authentication request to the wrong tenant.",
        )

    def _public_client_refusal(self, client_id: str) -> Response | None:
        """Whether `client_id` may sign a user in with a device code, as Entra decides it: a Microsoft first-party
        public client (its service principal is in every tenant) or the tenant's own app with "Allow public client
        flows"; anything else is unknown (AADSTS700016) or confidential (AADSTS7000218); a client whose service
        principal the tenant disabled is AADSTS7000112."""
        app = self.tenant.application_by_app_id(client_id)
        first_party = FIRST_PARTY_PUBLIC_CLIENTS.get(client_id)
        if app is None and first_party is None:
            return self._unknown_client(client_id)
        if app is not None and not app.public_client:
            return aad_error(
                self.world,
                400,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        return self._disabled_refusal(client_id, first_party or (app.display_name if app else client_id))

    def _disabled_refusal(self, client_id: str, name: str) -> Response | None:
        sp = self.tenant.service_principal_by_app_id(client_id)
        if sp is not None and not sp.account_enabled:
            return aad_error(
                self.world, 400, "unauthorized_client", 7000112, f"Application '{client_id}'({name}) is disabled."
            )
        return None

    def _admin(self) -> User:
        return next(u for u in self.tenant.users.values() if u.password is not None)

    def _device_token(self, form: dict[str, str]) -> Response:
        world = self.world
        with self.tenant.lock:
            flow = self.tenant.device_flows.get(form.get("device_code", ""))
            if flow is None:
                return aad_error(world, 400, "bad_verification_code", 70019, "Verification code expired or invalid.")
            if now() >= flow.expires:
                return aad_error(world, 400, "expired_token", 70020, "The provided device code has expired.")
            if flow.declined:
                return aad_error(world, 400, "authorization_declined", 70000, "The user declined the sign-in request.")
            if (
                flow.approved_by is None
                and world.auto_approve is not None
                and now() >= flow.created + timedelta(seconds=world.auto_approve)
            ):
                flow.approved_by = self._admin()
            if flow.approved_by is None:
                return aad_error(
                    world,
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            if flow.redeemed:
                return aad_error(world, 400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed.")
            refused = self._public_client_refusal(form.get("client_id", "").lower())
            if refused is not None:
                return refused
            flow.redeemed = True
            user = flow.approved_by
            requested = _delegated(flow.scopes)
            unknown = [scope for scope in requested if scope not in DELEGATED_SCOPES and scope != ".default"]
            if unknown:
                return self._consent_required(flow.client_id)
            granted = sorted(DELEGATED_SCOPES) if ".default" in requested else requested or ["User.Read"]
        return self._user_tokens(user, flow.client_id, granted)

    def _consent_required(self, client_id: str) -> Response:
        """What Entra answers for a delegated permission nobody consented to (the lab knows `DELEGATED_SCOPES`)."""
        app = self.tenant.application_by_app_id(client_id)
        name = app.display_name if app is not None else FIRST_PARTY_PUBLIC_CLIENTS.get(client_id, client_id)
        return aad_error(
            self.world,
            400,
            "invalid_grant",
            65001,
            f"The user or administrator has not consented to use the application with ID '{client_id}' named "
            f"'{name}'. Send an interactive authorization request for this user and resource.",
        )

    def _refresh_token(self, form: dict[str, str]) -> Response:
        """The refresh-token grant, as MSAL's `acquire_token_silent` uses it: the same user and app, at most the
        scopes consented at sign-in; the refresh token is replaced by a new one."""
        with self.tenant.lock:
            held = self.tenant.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if held is None or now() >= held.expires:
                return aad_error(
                    self.world, 400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
                )
            if form.get("client_id", "").lower() != held.client_id:
                self.tenant.refresh_tokens[form.get("refresh_token", "")] = held
                return aad_error(
                    self.world,
                    400,
                    "invalid_grant",
                    70000,
                    "Provided grant is invalid or malformed: the refresh token was issued to another application.",
                )
            disabled = self._disabled_refusal(held.client_id, held.client_id)
            if disabled is not None:
                return disabled
            requested = _delegated(form.get("scope", "").split())
            if any(scope not in held.scopes for scope in requested if scope != ".default"):
                return self._consent_required(held.client_id)
        return self._user_tokens(held.user, held.client_id, held.scopes)

    def _user_tokens(self, user: User, client_id: str, granted: list[str]) -> Response:
        """A delegated access token, an id token and a refresh token remembered by the tenant."""
        world = self.world
        refresh = secrets.token_urlsafe(32)
        with self.tenant.lock:
            self.tenant.refresh_tokens[refresh] = RefreshGrant(
                user, client_id, list(granted), now() + timedelta(days=90)
            )
        claims = {
            "aud": GRAPH_RESOURCE,
            "iss": f"https://sts.windows.net/{self.tenant.id}/",
            "tid": self.tenant.id,
            "appid": client_id,
            "oid": user.id,
            "sub": user.id,
            "upn": user.upn,
            "name": user.display_name,
            "scp": " ".join(granted),
            "uti": secrets.token_urlsafe(16),  # Entra's unique token id: no two tokens are alike
            "idtyp": "user",
            "ver": "1.0",
        }
        id_claims = {
            "aud": client_id,
            "iss": f"{world.login_url}/{self.tenant.id}/v2.0",
            "tid": self.tenant.id,
            "oid": user.id,
            "sub": user.id,
            "preferred_username": user.upn,
            "name": user.display_name,
            "ver": "2.0",
        }
        return Response.json(
            200,
            {
                "token_type": "Bearer",
                "scope": " ".join(f"{GRAPH_RESOURCE}/{s}" for s in granted) + " openid profile",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": world.issuer.issue(claims),
                "refresh_token": refresh,
                "id_token": unsigned_id_token({**id_claims, "exp": int(now().timestamp()) + 3600}),
                "client_info": client_info(user.id, self.tenant.id),
            },
        )

    # ---------------------------------------------------------------- the page a person uses

    def login_page(self, request: Request) -> Response:
        return Response.html(200, _page("Enter code", _CODE_FORM))

    def login_submit(self, request: Request) -> Response:
        form = request.form()
        code = form.get("code", "").strip().upper()
        with self.tenant.lock:
            flow = next((f for f in self.tenant.device_flows.values() if f.user_code == code), None)
            if flow is None or now() >= flow.expires:
                return Response.html(
                    400, _page("Enter code", "<p class=error>That code is not valid.</p>" + _CODE_FORM)
                )
            if "username" not in form:
                return Response.html(200, _page("Sign in", _SIGN_IN_FORM.format(code=html.escape(code))))
            if form.get("decline"):
                flow.declined = True
                return Response.html(
                    200, _page("Declined", "<p>You declined the sign-in. You can close this window.</p>")
                )
            user = self.tenant.user(form.get("username", ""))
            if (
                user is None
                or user.password is None
                or not secrets.compare_digest(user.password.encode(), form.get("password", "").encode())
            ):
                return Response.html(
                    401,
                    _page(
                        "Sign in",
                        "<p class=error>Your account or password is incorrect.</p>"
                        + _SIGN_IN_FORM.format(code=html.escape(code)),
                    ),
                )
            flow.approved_by = user
        return Response.html(
            200,
            _page(
                "Signed in", f"<p>{html.escape(user.upn)} is signed in to the workbench. You can close this window.</p>"
            ),
        )


_CODE_FORM = """<form method=post action=/devicelogin>
<label>Code <input name=code autofocus autocomplete=off></label> <button>Next</button></form>"""
_SIGN_IN_FORM = """<form method=post action=/devicelogin><input type=hidden name=code value="{code}">
<label>Account <input name=username></label> <label>Password <input type=password name=password></label>
<button>Sign in</button> <button name=decline value=1>Decline</button></form>"""


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title} - Lab sign-in</title></head>"
        f"<body><h1>Exchange Workbench lab: {title}</h1>{body}</body></html>"
    )
