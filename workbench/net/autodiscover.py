"""Autodiscover as a trace: the attempts exchangelib makes, in its order, each one reported as it happens.

1. https://<domain>/autodiscover/autodiscover.svc
2. https://autodiscover.<domain>/autodiscover/autodiscover.svc
3. http://autodiscover.<domain>/autodiscover/autodiscover.svc, following a redirect to https only
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

from workbench.model import Secret

from . import resolve
from .routes import Route, session, set_route

ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
PATH = "/autodiscover/autodiscover.svc"
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
    ) -> None:
        """`report(index, line, status)` is called for every step as it ends; status is "ok" or "failed"."""
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
        self._session = session()

    def note(self, line: str, ok: bool = False) -> None:
        self.steps.append(line)
        self._report(len(self.steps), line, "ok" if ok else "failed")

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
            answer = (
                self._session.post(url, data=body, headers=headers, timeout=self.timeout, auth=auth) if auth else probe
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
        for host in (self.domain, f"autodiscover.{self.domain}"):
            address = self._resolve(host)
            if address is not None and (found := self._try(f"https://{host}{PATH}", address)):
                return found
        found = self._redirect()
        if found is not None:
            return found
        name = f"_autodiscover._tcp.{self.domain}"
        try:
            records = resolve.srv_records(name, self.dns_servers, self.timeout)
        except resolve.NotFound as error:
            self.note(f"DNS SRV {name}: {error}")
            records = []
        if not records:
            self.note(f"DNS SRV {name}: no record")
        for record in records:
            self.note(f"DNS SRV {name} -> {record.target}:{record.port} (priority {record.priority})", ok=True)
            address = self._resolve(record.target)
            if address is None:
                continue
            port = "" if record.port == 443 else f":{record.port}"
            if found := self._try(f"https://{record.target}{port}{PATH}", address):
                return found
        raise AutodiscoverFailed(self.steps, "All steps of the autodiscover protocol failed")

    def within_domain(self, host: str) -> bool:
        return host == self.domain or host.endswith(f".{self.domain}")

    def _redirect(self) -> Found | None:
        host = f"autodiscover.{self.domain}"
        address = self._resolve(host)
        if address is None:
            return None
        url = f"http://{host}{PATH}"
        try:
            import socket

            with socket.create_connection((address, 80), timeout=self.timeout) as raw:
                raw.sendall(f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                head = raw.recv(4096).decode("latin-1")
        except OSError as error:
            self.note(f"GET {url}: {error.strerror or type(error).__name__}")
            return None
        status = head.split(" ", 2)[1] if head.startswith("HTTP/") else "?"
        location = next(
            (line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("location:")), ""
        )
        if status not in {"301", "302"} or not location.startswith("https://"):
            self.note(f"GET {url}: HTTP {status}, no https redirect")
            return None
        target = (urlsplit(location).hostname or "").lower()
        if not self.within_domain(target):
            # An unauthenticated, unencrypted answer may not send the admin's password elsewhere (Outlook asks
            # the user here; a verification refuses and says where it was sent).
            self.note(f"GET {url}: redirect to {location} refused: {target} is outside {self.domain}")
            return None
        self.note(f"GET {url}: redirect to {location}", ok=True)
        address = self._resolve(target)
        return self._try(location, address) if address else None


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


__all__ = ["AutodiscoverFailed", "Autodiscoverer", "Found"]
