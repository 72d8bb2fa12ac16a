"""Simulated Exchange Online EWS: bearer tokens, `full_access_as_app`, the ExchangeImpersonation header and the
X-AnchorMailbox HTTP header that app-only tokens must carry, and the tenant-level EWS switch that Microsoft turned
off by default in October 2026."""

from __future__ import annotations

from .http import Request, Response, Router
from .soap import ServerVersion, SoapParseError, envelope, error_message, fault, get_folder, parse
from .tenant import EXCHANGE_RESOURCE
from .tokens import TokenInvalid
from .world import Service

EXCHANGE_ONLINE = ServerVersion(15, 20, 8769, 21, "V2018_01_08")
EWS_AUDIENCES = {EXCHANGE_RESOURCE, "https://outlook.office.com", "00000002-0000-0ff1-ce00-000000000000"}
WWW_AUTHENTICATE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
    'token_types="app_asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login.microsoftonline.com/'
    'common/oauth2/authorize", error="invalid_token"'
)


def _unauthorized(diagnostics: str) -> Response:
    return Response(401, b"", [("WWW-Authenticate", WWW_AUTHENTICATE), ("x-ms-diagnostics", diagnostics)])


class ExchangeOnlineEws(Service):
    def router(self) -> Router:
        router = Router()
        router.add("POST", r"/EWS/Exchange\.asmx", self.ews)
        router.add("GET", r"/EWS/Exchange\.asmx", self.probe)
        return router

    def probe(self, request: Request) -> Response:
        return _unauthorized('2000000;reason="The request did not contain a bearer token."')

    def ews(self, request: Request) -> Response:
        header = request.header("Authorization") or ""
        if not header.startswith("Bearer "):
            return _unauthorized('2000000;reason="The request did not contain a bearer token."')
        try:
            claims = self.world.issuer.validate(header[7:], EWS_AUDIENCES)
        except TokenInvalid as error:
            return _unauthorized(f'2000001;reason="{error}";error_category="invalid_token"')
        if "full_access_as_app" not in claims.get("roles", []):
            return _unauthorized(
                '2000008;reason="The token contains no permissions, or permissions can not be understood.";'
                'error_category="invalid_grant"'
            )
        if not self.tenant.ews_enabled:
            return Response(403, b"")  # what EWS answers once the tenant's EwsEnabled is $false
        try:
            soap = parse(request.body)
        except SoapParseError as error:
            return fault("ErrorSchemaValidation", f"The request failed schema validation: {error}")
        if not (request.header("X-AnchorMailbox") or "").strip():
            # "Authenticate an EWS application by using OAuth": app-only (impersonation) requests must carry
            # X-AnchorMailbox, by which Exchange Online routes them to the mailbox's server. Microsoft documents the
            # requirement, not the answer; without it requests fail with ErrorNoRespondingCASInDestinationSite
            # (an EWS ResponseCode Microsoft documents), the closest documented shape.
            return fault(
                "ErrorNoRespondingCASInDestinationSite",
                "Exchange Web Services are not currently available for this request because none of the Client "
                "Access Servers in the destination site could process the request.",
            )
        target = soap.impersonated()
        if target is None:
            return fault(
                "ErrorInvalidExchangeImpersonationHeaderData",
                "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
            )
        with self.tenant.lock:
            mailbox = self.tenant.user(target)
        if mailbox is None or not mailbox.has_mailbox:
            return fault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
        if mailbox.ews_blocked_by_policy:
            return fault("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        if soap.name == "GetFolder":
            return Response.xml(200, envelope(EXCHANGE_ONLINE, get_folder(soap.operation, mailbox.upn)))
        return Response.xml(
            200,
            envelope(
                EXCHANGE_ONLINE,
                error_message(soap.name, "ErrorInvalidRequest", f"The lab does not implement {soap.name}."),
            ),
        )
