"""Simulated on-premises EWS (Exchange Server 2019): NTLM / Negotiate / Basic as the virtual directory offers
them, impersonation decided by the organisation's RBAC assignments, and the calls exchangelib makes to learn the
version (ConvertId), resolve names and reach mailbox folders."""

from __future__ import annotations

from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from .http import Request, Response, Router
from .httpauth import Authenticator
from .org import Organization, Recipient
from .soap import M, ServerVersion, SoapParseError, T, envelope, error_message, fault, get_folder, parse, q

EXCHANGE_2019 = ServerVersion(15, 2, 1748, 10, "V2017_07_11")


class OnPremEws:
    def __init__(self, org: Organization, auth: Authenticator) -> None:
        self.org = org
        self.auth = auth
        major, minor, build, revision = org.build
        self.version = ServerVersion(major, minor, build, revision, EXCHANGE_2019.schema)

    def register(self, router: Router) -> None:
        router.add("POST", r"(?i)/ews/exchange\.asmx", self.ews)
        router.add("GET", r"(?i)/ews/exchange\.asmx", self.ews)

    def _ok(self, body: str, headers: list[tuple[str, str]]) -> Response:
        return Response.xml(200, envelope(self.version, body), headers)

    def ews(self, request: Request) -> Response:
        result = self.auth.authenticate(
            request, self.org.ews_schemes, self.org.fqdn, self.org.extended_protection["ews"]
        )
        if result.response is not None:
            return result.response
        user = result.user
        assert user is not None
        if request.method == "GET":
            return Response.html(200, "<html><body>You have created a service.</body></html>")
        try:
            soap = parse(request.body)
        except SoapParseError as error:
            return fault("ErrorSchemaValidation", f"The request failed schema validation: {error}")
        if soap.name == "ConvertId":  # exchangelib's version probe only needs the ServerVersionInfo header
            return self._ok(error_message("ConvertId", "ErrorInvalidIdMalformed", "Id is malformed."), result.headers)
        if soap.name == "ResolveNames":
            return self._ok(self._resolve(soap.operation), result.headers)
        target = soap.impersonated()
        with self.org.lock:
            if target is not None:
                mailbox = self.org.recipient(target)
                if mailbox is None or not mailbox.has_mailbox:
                    return fault("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
                if not self.org.may_impersonate(user.upn):
                    return fault(
                        "ErrorImpersonateUserDenied",
                        "The account does not have permission to impersonate the requested user.",
                    )
            else:
                mailbox = user
        if soap.name != "GetFolder":
            return self._ok(
                error_message(soap.name, "ErrorInvalidRequest", f"The lab does not implement {soap.name}."),
                result.headers,
            )
        if not mailbox.has_mailbox:
            return self._ok(
                error_message(
                    "GetFolder",
                    "ErrorMissingEmailAddress",
                    "When making a request as an account that does not have a mailbox, you must specify the mailbox "
                    "primary SMTP address for any distinguished folder Ids.",
                ),
                result.headers,
            )
        return self._ok(get_folder(soap.operation, mailbox.upn), result.headers)

    def _resolve(self, operation: Element) -> str:
        entry = operation.find(q(M, "UnresolvedEntry"))
        text = (entry.text or "").strip().lower() if entry is not None else ""
        with self.org.lock:
            matches: list[Recipient] = [
                r
                for r in self.org.recipients.values()
                if r.has_mailbox
                and text
                and (
                    r.upn.lower().startswith(text)
                    or r.display_name.lower().startswith(text)
                    or r.alias.lower().startswith(text)
                )
            ][:100]
        if not matches:
            return error_message("ResolveNames", "ErrorNameResolutionNoResults", "No results were found.")
        resolutions = "".join(
            f"<t:Resolution><t:Mailbox><t:Name>{escape(r.display_name)}</t:Name><t:EmailAddress>{escape(r.upn)}"
            "</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>"
            "</t:Resolution>"
            for r in matches
        )
        code = "NoError" if len(matches) == 1 else "ErrorNameResolutionMultipleResults"
        response_class = "Success" if len(matches) == 1 else "Warning"
        return (
            f'<m:ResolveNamesResponse xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
            f'<m:ResolveNamesResponseMessage ResponseClass="{response_class}"><m:ResponseCode>{code}</m:ResponseCode>'
            f'<m:ResolutionSet TotalItemsInView="{len(matches)}" IncludesLastItemInRange="true">{resolutions}'
            "</m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse>"
        )
