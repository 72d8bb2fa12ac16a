"""Autodiscover as a trace: the attempts exchangelib makes, in its order, each one reported as it happens.

1. https://<domain>/autodiscover/autodiscover.svc
2. https://autodiscover.<domain>/autodiscover/autodiscover.svc
3. the HTTP redirect, as Microsoft's protocol has it ("Autodiscover for Exchange", phase 3; [MS-OXWSADISC]'s
   indirect attempt): an anonymous GET of http://autodiscover.<domain>/autodiscover/autodiscover.xml; only a 301
   or 302 to an https URL counts, and the SOAP request goes to https://<that host>/autodiscover/autodiscover.svc.
   A host outside the admin's domain is followed only when the admin allows it ([MS-OXDISCO] 3.1.5.4: warn the
   user, follow if the user accepts); until then nothing, the password least of all, is sent there.
4. the SRV record _autodiscover._tcp.<domain>, honouring its port (exchangelib keeps only port-443 records)

Names are resolved through the connection's DNS servers. The answer's ExternalEwsUrl is used, or its
InternalEwsUrl when that is all the server publishes (exchangelib gives up in that case).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import requests
from defusedxml import ElementTree

from workbench import validate
from workbench.model import Secret
from workbench.text import visible

from . import resolve
from .routes import Route, session, set_route

ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
PATH = "/autodiscover/autodiscover.svc"
XML_PATH = "/autodiscover/autodiscover.xml"  # what the HTTP redirect probe asks for (the POX URL)
SETTINGS = (
    "UserDisplayName",
    "AutoDiscoverSMTPAddress",
    "ExternalEwsUrl",
    "InternalEwsUrl",
    "EwsSupportedSchemas",
    "CasVersion",
)


@dataclass(frozen=True, slots=True)
class Found:
    ews_url: str
    internal_only: bool
    settings: dict[str, str]
    source: str  # the autodiscover URL that answered


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where autodiscover was sent outside the admin's domain: by the HTTP redirect (`via` "http": the Location as
    shown, control characters visible) or by the SRV record (`via` "srv": the record as shown); the host
    (validated, lower case) and the SOAP URL the request would go to."""

    host: str
    location: str
    url: str
    via: str = "http"


class RedirectNeedsPermission(Exception):
    """The redirect leads outside the admin's domain to a host nobody allowed: nothing has been sent there."""

    def __init__(self, target: Redirect) -> None:
        super().__init__(f"the autodiscover redirect leads to {target.host}")
        self.target = target


class AutodiscoverFailed(Exception):
    def __init__(self, steps: list[str], reason: str) -> None:
        super().__init__(reason)
        self.steps = steps
        self.reason = reason


def _request_body(mailbox: str, url: str) -> bytes:
    settings = "".join(f"<a:Setting>{s}</a:Setting>" for s in SETTINGS)
    return (
        '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:a="{ANS}" xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header>'
        "<a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion>"
        f"<wsa:Action>{ANS}/Autodiscover/GetUserSettings</wsa:Action><wsa:To>{escape(url)}</wsa:To></s:Header>"
        "<s:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User>"
        f"<a:Mailbox>{escape(mailbox)}</a:Mailbox></a:User></a:Users><a:RequestedSettings>{settings}"
        "</a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></s:Body></s:Envelope>"
    ).encode()


def _auth_for(offered: list[str], upn: str, password: Secret) -> requests.auth.AuthBase | None:
    schemes = {o.split()[0].lower() for o in offered if o}
    if "ntlm" in schemes:
        from requests_ntlm import HttpNtlmAuth

        return HttpNtlmAuth("\\" + upn, password.reveal())
    if "basic" in schemes:
        return requests.auth.HTTPBasicAuth(upn, password.reveal())
    return None


def parse_settings(body: bytes) -> tuple[str, str, dict[str, str]]:
    """(error code of the user response, its message, settings) from a GetUserSettings answer."""
    root = ElementTree.fromstring(body)
    user = root.find(f".//{{{ANS}}}UserResponse")
    if user is None:
        raise ValueError("no UserResponse in the answer")
    code = (user.findtext(f"{{{ANS}}}ErrorCode") or "").strip()
    message = (user.findtext(f"{{{ANS}}}ErrorMessage") or "").strip()
    settings = {
        (s.findtext(f"{{{ANS}}}Name") or ""): (s.findtext(f"{{{ANS}}}Value") or "")
        for s in user.iter(f"{{{ANS}}}UserSetting")
    }
    return code, message, settings


class Autodiscoverer:
    def __init__(
        self,
        upn: str,
        password: Secret,
        *,
        dns_servers: tuple[str, ...],
        ca_bundle: str | None,
        pin_sha256: str | None,
        timeout: float,
        report: Callable[[int, str, str], None],
        allowed: frozenset[str] = frozenset(),
    ) -> None:
        """`report(index, line, status)` is called for every step as it ends; status is "ok", "failed" or "info".
        `allowed`: hosts outside the admin's domain that a redirect may lead to (the admin said so, for this run)."""
        self.upn = upn
        self.password = password
        self.domain = upn.rpartition("@")[2].lower()
        self.dns_servers = dns_servers
        self.ca_bundle = ca_bundle
        self.pin_sha256 = pin_sha256
        self.timeout = timeout
        self._report = report
        self.steps: list[str] = []
        self.credentials_rejected = False  # a server asked for credentials and refused the admin's
        self.allowed = frozenset(h.lower() for h in allowed)  # hosts outside the domain the admin allowed
        self.declined: Redirect | None = None  # the last redirect the admin did not allow
        self._declined_hosts: set[str] = set()
        self._session = session()

    def note(self, line: str, ok: bool = False, status: str | None = None) -> None:
        self.steps.append(line)
        self._report(len(self.steps), line, status or ("ok" if ok else "failed"))

    def _resolve(self, host: str) -> str | None:
        try:
            address = resolve.address_of(host, self.dns_servers, self.timeout)
        except resolve.NotFound as error:
            self.note(f"DNS A {error}")  # the error names the host: "fabrikam.test: no such name (NXDOMAIN)"
            return None
        self.note(f"DNS A {host} -> {address}", ok=True)
        return address

    def _try(self, url: str, address: str) -> Found | None:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 443
        set_route(host, port, Route(connect_to=address, ca_bundle=self.ca_bundle, pin_sha256=self.pin_sha256))
        body = _request_body(self.upn, url)
        headers = {"Content-Type": "text/xml; charset=utf-8", "X-AnchorMailbox": self.upn}
        try:
            probe = self._session.post(url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
            auth = (
                _auth_for(probe.raw.headers.getlist("WWW-Authenticate"), self.upn, self.password)
                if probe.status_code == 401
                else None
            )
            if probe.status_code == 401 and auth is None:
                self.note(f"POST {url}: 401, no NTLM or Basic offered")
                return None
            # Never follow a redirect here: the protocol's own steps decide where the credentials may go, and
            # requests would follow a 307 from a server that already has them (and requests_ntlm sign in again).
            answer = (
                self._session.post(
                    url, data=body, headers=headers, timeout=self.timeout, auth=auth, allow_redirects=False
                )
                if auth
                else probe
            )
        except requests.exceptions.SSLError as error:
            self.note(f"POST {url}: TLS failed ({_short(error)})")
            return None
        except requests.exceptions.RequestException as error:
            self.note(f"POST {url}: {_short(error)}")
            return None
        if answer.status_code == 401 and auth is not None:
            self.credentials_rejected = True
            self.note(f"POST {url}: HTTP 401, the server refused {self.upn}'s credentials")
            return None
        if answer.is_redirect:
            where = visible(answer.headers.get("Location", ""), limit=200)
            self.note(f"POST {url}: HTTP {answer.status_code} redirect to {where}: not followed")
            return None
        if answer.status_code != 200:
            self.note(f"POST {url}: HTTP {answer.status_code}")
            return None
        try:
            code, message, settings = parse_settings(answer.content)
        except (ValueError, ElementTree.ParseError) as error:
            self.note(f"POST {url}: not an autodiscover answer ({error})")
            return None
        if code != "NoError":
            self.note(f"POST {url}: {code} {message}".rstrip())
            if code == "InvalidUser":
                raise AutodiscoverFailed(self.steps, f"autodiscover does not know {self.upn} ({message})")
            return None
        external, internal = settings.get("ExternalEwsUrl"), settings.get("InternalEwsUrl")
        ews = external or internal
        if not ews:
            self.note(f"POST {url}: answered without an EWS URL")
            return None
        self.note(
            f"POST {url}: {'ExternalEwsUrl' if external else 'InternalEwsUrl (no ExternalEwsUrl)'} {ews}", ok=True
        )
        return Found(ews, external is None, settings, url)

    def discover(self) -> Found:
        """Every step in order. A redirect outside the admin's domain to a host not allowed for this run stops the
        trace with `RedirectNeedsPermission`: ask the admin, then go on with `follow()` or `without_redirect()`."""
        for host in (self.domain, f"autodiscover.{self.domain}"):
            address = self._resolve(host)
            if address is not None and (found := self._try(f"https://{host}{PATH}", address)):
                return found
        target = self._probe()
        if target is not None:
            if not self.may_follow(target.host):
                self.note(
                    f"redirect to {target.host}: {target.host} is outside {self.domain}; followed only if you allow it",
                    status="info",
                )
                raise RedirectNeedsPermission(target)
            found = self._follow(target)
            if found is not None:
                return found
        return self._srv()

    def follow(self, target: Redirect) -> Found:
        """Go on after the admin allowed `target.host`: the SOAP request there, then (what is left of) the SRV
        step. May raise `RedirectNeedsPermission` again, for another host."""
        self.allowed = self.allowed | {target.host}
        if target.via == "srv":
            return self._srv()  # the record is tried again, now allowed
        return self._follow(target) or self._srv()

    def without_redirect(self, target: Redirect) -> Found:
        """Go on after the admin declined `target.host`: not one request goes there; the next step follows."""
        self.declined = target
        self._declined_hosts.add(target.host)
        self.note(
            f"{'SRV target' if target.via == 'srv' else 'redirect to'} {target.host} not followed: not allowed "
            "for this verification"
        )
        return self._srv()

    def _srv(self) -> Found:
        name = f"_autodiscover._tcp.{self.domain}"
        try:
            records = resolve.srv_records(name, self.dns_servers, self.timeout)
        except resolve.NotFound as error:
            self.note(f"DNS SRV {name}: {error}")
            records = []
        if not records:
            self.note(f"DNS SRV {name}: no record")
        for record in records:
            shown = f"DNS SRV {name} -> {visible(record.target, limit=120)}:{record.port} (priority {record.priority})"
            try:  # a name from DNS: validated before anything is sent to it
                host = validate.hostname(record.target, field="srv", label="The SRV record's target")
            except validate.FieldError as error:
                self.note(f"{shown}: not usable ({error.message})")
                continue
            if host in self._declined_hosts:
                continue
            self.note(shown, ok=True)
            port = "" if record.port == 443 else f":{record.port}"
            url = f"https://{host}{port}{PATH}"
            if not self.may_follow(host):
                # As a redirect: DNS answers are not authenticated, and Microsoft's clients warn before sending
                # credentials to a host the SRV record names outside the domain.
                self.note(f"SRV target {host}: outside {self.domain}; followed only if you allow it", status="info")
                raise RedirectNeedsPermission(Redirect(host, f"{host}:{record.port}", url, "srv"))
            address = self._resolve(host)
            if address is None:
                continue
            if found := self._try(url, address):
                return found
        raise AutodiscoverFailed(self.steps, "All steps of the autodiscover protocol failed")

    def within_domain(self, host: str) -> bool:
        return host == self.domain or host.endswith(f".{self.domain}")

    def may_follow(self, host: str) -> bool:
        """The admin's own domain (and its subdomains), or a host the admin allowed for this verification."""
        return self.within_domain(host) or host in self.allowed

    def _probe(self) -> Redirect | None:
        """The anonymous GET of http://autodiscover.<domain>/autodiscover/autodiscover.xml. Only a 301 or 302 to an
        https URL counts; its host (with the port, where the URL names one) is where the SOAP request goes."""
        host = f"autodiscover.{self.domain}"
        address = self._resolve(host)
        if address is None:
            return None
        url = f"http://{host}{XML_PATH}"
        set_route(host, 80, Route(connect_to=address))
        try:
            with self._session.get(url, timeout=self.timeout, allow_redirects=False, stream=True) as answer:
                status, location = answer.status_code, answer.headers.get("Location", "")
        except requests.exceptions.RequestException as error:
            self.note(f"GET {url}: {_short(error)}")
            return None
        if status not in (301, 302):
            self.note(f"GET {url}: HTTP {status}, not a 301 or 302 redirect")
            return None
        if not location:
            self.note(f"GET {url}: HTTP {status} without a Location")
            return None
        shown = visible(location, limit=200)
        parts = urlsplit(location.strip())
        if parts.scheme.lower() != "https":
            self.note(f"GET {url}: HTTP {status} to a URL that is not https ({shown}): not followed")
            return None
        try:
            address_of = validate.server_address(parts.netloc, field="location", label="The redirect's host")
        except validate.FieldError as error:
            self.note(f"GET {url}: HTTP {status} to an unusable URL ({shown}): {error.message}")
            return None
        netloc = address_of.host if address_of.port in (None, 443) else f"{address_of.host}:{address_of.port}"
        self.note(f"GET {url}: {status} to {shown}", ok=True)
        return Redirect(host=address_of.host, location=shown, url=f"https://{netloc}{PATH}")

    def _follow(self, target: Redirect) -> Found | None:
        address = self._resolve(target.host)
        return self._try(target.url, address) if address else None


def _short(error: Exception) -> str:
    """The useful end of a requests/urllib3 error: "[Errno 111] Connection refused", "certificate verify failed…"."""
    text = str(error)
    errno = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if errno:
        return errno.group(0)
    ssl_reason = re.search(r"\[SSL: [A-Z_]+\] ([^(']+)", text)
    if ssl_reason:
        return ssl_reason.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    return text[:160]


__all__ = ["AutodiscoverFailed", "Autodiscoverer", "Found", "Redirect", "RedirectNeedsPermission"]
