"""Simulated Exchange Online EWS: bearer tokens, `full_access_as_app`, the ExchangeImpersonation header that
app-only tokens must carry, and the tenant-level EWS switch that Microsoft turned off by default in October 2026."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from .http import Request, Response, Router
from .soap import M, ServerVersion, SoapParseError, T, envelope, error_message, fault, parse, q
from .tenant import EXCHANGE_RESOURCE, Tenant, User
from .tokens import TokenInvalid
from .world import World

EXCHANGE_ONLINE = ServerVersion(15, 20, 8769, 21, "V2018_01_08")
EWS_AUDIENCES = {EXCHANGE_RESOURCE, "https://outlook.office.com", "00000002-0000-0ff1-ce00-000000000000"}
WWW_AUTHENTICATE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
    'token_types="app_asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login.microsoftonline.com/'
    'common/oauth2/authorize", error="invalid_token"'
)

# Distinguished folders exchangelib may ask for, with their display names and classes.
DISTINGUISHED = {
    "root": ("Root", None),
    "msgfolderroot": ("Top of Information Store", "IPF.Note"),
    "inbox": ("Inbox", "IPF.Note"),
    "publicfoldersroot": ("Public Folders", None),
}


def _unauthorized(diagnostics: str) -> Response:
    return Response(401, b"", [("WWW-Authenticate", WWW_AUTHENTICATE), ("x-ms-diagnostics", diagnostics)])


def folder_id(mailbox: str, name: str) -> str:
    return hashlib.sha256(f"{mailbox}/{name}".encode()).hexdigest()


class ExchangeOnlineEws:
    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def tenant(self) -> Tenant:
        return self.world.tenant

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
            return Response.xml(200, envelope(EXCHANGE_ONLINE, get_folder(soap.operation, mailbox)))
        return Response.xml(
            200,
            envelope(
                EXCHANGE_ONLINE,
                error_message(soap.name, "ErrorInvalidRequest", f"The lab does not implement {soap.name}."),
            ),
        )


def get_folder(operation: object, mailbox: User) -> str:
    """GetFolder of distinguished folders of one mailbox: what `account.root` and friends ask for."""
    from xml.etree.ElementTree import Element

    assert isinstance(operation, Element)
    ids = operation.find(q(M, "FolderIds"))
    messages = []
    for node in list(ids) if ids is not None else []:
        name = node.get("Id", "")
        if node.tag != q(T, "DistinguishedFolderId") or name not in DISTINGUISHED:
            messages.append(
                '<m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>The specified folder could not be '
                "found in the store.</m:MessageText><m:ResponseCode>ErrorFolderNotFound</m:ResponseCode>"
                "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetFolderResponseMessage>"
            )
            continue
        display, folder_class = DISTINGUISHED[name]
        fid = folder_id(mailbox.upn, name)
        class_xml = f"<t:FolderClass>{folder_class}</t:FolderClass>" if folder_class else ""
        messages.append(
            '<m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders>'
            f'<t:Folder><t:FolderId Id="{fid}" ChangeKey="AQAAAA=="/>'
            f'<t:ParentFolderId Id="{folder_id(mailbox.upn, "root")}" ChangeKey="AQAAAA=="/>{class_xml}'
            f"<t:DisplayName>{escape(display)}</t:DisplayName><t:TotalCount>0</t:TotalCount>"
            "<t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount></t:Folder>"
            "</m:Folders></m:GetFolderResponseMessage>"
        )
    return (
        f'<m:GetFolderResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>{"".join(messages)}'
        "</m:ResponseMessages></m:GetFolderResponse>"
    )
