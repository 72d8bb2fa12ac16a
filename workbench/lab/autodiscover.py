"""SOAP Autodiscover (GetUserSettings) for the simulated on-premises organisation, in the response shape
Exchange uses, including the cases that trip real clients: a server that publishes only InternalEwsUrl, an
unknown or mailbox-less user, and a broken autodiscover application."""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from .http import Request, Response, Router
from .httpauth import Authenticator
from .org import Organization

ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SCHEMAS = (
    "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, "
    "Exchange2013_SP1, Exchange2016"
)
USER_DN = "/o=Fabrikam/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}"


class Autodiscover:
    def __init__(
        self, org: Organization, auth: Authenticator, ews_url: Callable[[], str], *, internal_only: bool, broken: bool
    ) -> None:
        self.org = org
        self.auth = auth
        self.ews_url = ews_url
        self.internal_only = internal_only
        self.broken = broken

    def register(self, router: Router) -> None:
        router.add("POST", r"(?i)/autodiscover/autodiscover\.svc", self.handle)

    def handle(self, request: Request) -> Response:
        if self.broken:
            return Response.html(
                500,
                "<html><head><title>Runtime Error</title></head><body><h1>Server Error in '/Autodiscover' "
                "Application.</h1></body></html>",
            )
        result = self.auth.authenticate(
            request, ("NTLM", "Negotiate", "Basic"), self.org.fqdn, self.org.extended_protection["autodiscover"]
        )
        if result.response is not None:
            return result.response
        try:
            root = ElementTree.fromstring(request.body)
        except ElementTree.ParseError:
            return Response(400, b"Bad Request", content_type="text/plain")
        mailbox_node = root.find(f".//{{{ANS}}}Mailbox")
        mailbox = (mailbox_node.text or "").strip() if mailbox_node is not None else ""
        requested = [(s.text or "").strip() for s in root.iter(f"{{{ANS}}}Setting")]
        with self.org.lock:
            user = self.org.recipient(mailbox)
        if user is None or not user.has_mailbox:
            user_response = (
                "<UserResponse><ErrorCode>InvalidUser</ErrorCode>"
                f"<ErrorMessage>Invalid user: '{escape(mailbox)}'</ErrorMessage>"
                '<RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings/></UserResponse>'
            )
        else:
            url = self.ews_url()
            available = {
                "UserDisplayName": user.display_name,
                "UserDN": USER_DN.format(user.alias),
                "AutoDiscoverSMTPAddress": user.upn,
                "InternalEwsUrl": url,
                "CasVersion": "{}.{:02d}.{}.{:03d}".format(*self.org.build),
                "EwsSupportedSchemas": SCHEMAS,
                "InternalMailboxServer": self.org.fqdn,
                "ActiveDirectoryServer": f"dc01.{self.org.domain}",
            }
            if not self.internal_only:
                available["ExternalEwsUrl"] = url
            settings = "".join(
                f'<UserSetting i:type="StringSetting"><Name>{name}</Name><Value>{escape(available[name])}</Value>'
                "</UserSetting>"
                for name in requested
                if name in available
            )
            user_response = (
                "<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage>"
                f'<RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings>{settings}</UserSettings>'
                "</UserResponse>"
            )
        major, minor, build, revision = self.org.build
        body = (
            f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>'
            f'<a:Action s:mustUnderstand="1">{ANS}/Autodiscover/GetUserSettingsResponse</a:Action>'
            f'<h:ServerVersionInfo xmlns:h="{ANS}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
            f"<h:MajorVersion>{major}</h:MajorVersion><h:MinorVersion>{minor}</h:MinorVersion>"
            f"<h:MajorBuildNumber>{build}</h:MajorBuildNumber><h:MinorBuildNumber>{revision}</h:MinorBuildNumber>"
            "<h:Version>Exchange2015</h:Version></h:ServerVersionInfo></s:Header><s:Body>"
            f'<GetUserSettingsResponseMessage xmlns="{ANS}"><Response '
            'xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><ErrorCode>NoError</ErrorCode><ErrorMessage/>'
            f"<UserResponses>{user_response}</UserResponses></Response></GetUserSettingsResponseMessage>"
            "</s:Body></s:Envelope>"
        )
        return Response.xml(200, body, result.headers)
