"""SOAP Autodiscover (GetUserSettings) for the simulated on-premises organisation, in the response shape
Exchange uses, including the cases that trip real clients: a server that publishes only InternalEwsUrl, an
unknown or mailbox-less user, and a broken autodiscover application.

Beside it: the POX endpoint `/autodiscover/autodiscover.xml`, which refuses what is not a POX request (a SOAP
envelope, a GET) with POX error 600 "Invalid Request" as [MS-OXDSCLI] documents, and the plain-HTTP redirect
site at `http://autodiscover.<domain>`, which answers only the GET probe of `/autodiscover/autodiscover.xml`, with
a 302 to an https URL ("Autodiscover for Exchange", phase 3; [MS-OXWSADISC] "indirect attempt").
"""

from __future__ import annotations

import errno
import random
from collections.abc import Callable
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree

from .http import LabServer, Request, Response, Router
from .httpauth import Authenticator
from .org import Organization

ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SCHEMAS = (
    "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, "
    "Exchange2013_SP1, Exchange2016"
)
USER_DN = "/o=Fabrikam/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}"
POX_REQUEST = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
POX_RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
XML_PATH = r"(?i)/autodiscover/autodiscover\.xml"
FOREIGN_HOST = "mail.fabrikam-hosting.test"  # the hosting provider of `autodiscover-redirect-foreign`


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
        router.add("POST", XML_PATH, self.pox)
        router.add("GET", XML_PATH, self.pox)

    def pox(self, request: Request) -> Response:
        """POX autodiscover, as far as the lab goes: authenticated like the SOAP endpoint, then a request that is
        not a POX request (a SOAP envelope, a GET without a body) is refused with POX error 600. The lab serves no
        POX settings: a well-formed POX request is answered 501 (a documented gap, not Exchange's answer)."""
        if self.broken:
            return Response.html(500, "<html><body><h1>Server Error in '/Autodiscover' Application.</h1></body></html>")
        result = self.auth.authenticate(
            request, ("NTLM", "Negotiate", "Basic"), self.org.fqdn, self.org.extended_protection["autodiscover"]
        )
        if result.response is not None:
            return result.response
        try:
            root = ElementTree.fromstring(request.body) if request.body else None
        except ElementTree.ParseError:
            root = None
        if root is not None and root.tag == f"{{{POX_REQUEST}}}Autodiscover":
            return Response(501, b"POX settings are not served by the lab", content_type="text/plain")
        now = datetime.now(UTC)
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{POX_RESPONSE}"><Response>'
            f'<Error Time="{now:%H:%M:%S.%f}0" Id="{random.getrandbits(31)}"><ErrorCode>600</ErrorCode>'
            "<Message>Invalid Request</Message><DebugData /></Error></Response></Autodiscover>"
        )
        return Response.xml(200, body, result.headers)

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


class RedirectSite:
    """`http://autodiscover.<domain>`: an unauthenticated site whose only answer is the redirect of the POX URL to
    `https://<host>:<port>/autodiscover/autodiscover.xml`, as Exchange admins and hosting providers set it up.
    Anything else is refused: another path 404, another method on the probe's path 405 (IIS's answers)."""

    def __init__(self, target: Callable[[], str]) -> None:
        self.target = target  # "host:port" of the https autodiscover server

    def router(self) -> Router:
        router = Router()
        router.add("GET", XML_PATH, self.redirect)
        return router

    def redirect(self, request: Request) -> Response:
        location = f"https://{self.target()}/autodiscover/autodiscover.xml"
        body = (
            "<head><title>Document Moved</title></head><body><h1>Object Moved</h1>This document may be found "
            f"<a HREF={quoteattr(location)}>here</a></body>"
        )
        response = Response.html(302, body)
        response.headers.append(("Location", location))
        return response


class PortUnavailable(RuntimeError):
    """The redirect site needs port 80 (the protocol's port) on a loopback address, and may not have it."""


def start_redirect_site(router: Router, rng: random.Random, attempts: int = 32) -> LabServer:
    """The redirect site on port 80 of a loopback address of its own (127.x.y.z, not 127.0.0.1), so two labs on
    one machine never collide, and clients reach it exactly as they reach a real one: DNS, then port 80."""
    for _ in range(attempts):
        address = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        try:
            return LabServer("autodiscover-redirect", router, None, address=(address, 80)).start()
        except PermissionError:
            raise PortUnavailable(
                "the autodiscover redirect scenarios listen on port 80 of a loopback address: run the lab as root, "
                "or allow it with `sysctl net.ipv4.ip_unprivileged_port_start=80`"
            ) from None
        except OSError as error:
            if error.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise
    raise PortUnavailable(f"no free loopback address for port 80 after {attempts} attempts")
