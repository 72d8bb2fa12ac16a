"""HTTP authentication as IIS does it for Exchange: Basic over HTTPS, and NTLM / Negotiate (pyspnego acceptor)
with Extended Protection — the client's channel binding must match our TLS certificate.

NTLM is connection-oriented: once the handshake completes, the connection stays authenticated for the requests
that follow on it, as IIS keeps it. pyspnego's NTLM acceptor reads its user database from the `NTLM_USER_FILE`
environment variable, which is process-wide; each step runs under one lock with the variable pointing at this
lab's file, so labs in one process never see each other's users.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import spnego
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

from .http import Request, Response
from .org import Organization, Recipient

_NTLM_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _user_file(path: Path) -> Iterator[None]:
    with _NTLM_ENV_LOCK:
        previous = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(path)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = previous


@dataclass
class AuthResult:
    user: Recipient | None
    response: Response | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


class Authenticator:
    def __init__(self, org: Organization, folder: Path, certificate_der: bytes) -> None:
        self.org = org
        self.user_file = folder / "ntlm-users"
        self.user_file.touch(mode=0o600)
        lines = []
        for recipient in org.recipients.values():
            if recipient.password:
                lines.append(f":{recipient.upn}:{recipient.password}")
                lines.append(f"{org.netbios}:{recipient.alias}:{recipient.password}")
        self.user_file.write_text("\n".join(lines) + "\n")
        self._bindings = GssChannelBindings(
            application_data=b"tls-server-end-point:" + hashlib.sha256(certificate_der).digest()
        )

    def _challenge(self, schemes: tuple[str, ...], realm: str) -> Response:
        headers = [
            ("WWW-Authenticate", scheme if scheme != "Basic" else f'Basic realm="{realm}"') for scheme in schemes
        ]
        return Response(401, b"", headers, "text/html")

    def _user_for(self, principal: str) -> Recipient | None:
        name = principal.lstrip("\\")
        if "\\" in name:
            domain, _, name = name.partition("\\")
            if domain and domain.upper() != self.org.netbios:
                return None
        return self.org.recipient(name)

    def authenticate(self, request: Request, schemes: tuple[str, ...], realm: str) -> AuthResult:
        header = request.header("Authorization")
        if header is None:
            known = request.connection.get("user")
            if isinstance(known, Recipient):
                return AuthResult(known)
            return AuthResult(None, self._challenge(schemes, realm))
        scheme, _, value = header.partition(" ")
        scheme = scheme.capitalize() if scheme.lower() != "ntlm" else "NTLM"
        if scheme == "Basic" and "Basic" in schemes:
            return self._basic(value.strip(), schemes, realm)
        if scheme in {"NTLM", "Negotiate"} and scheme in schemes:
            return self._spnego(request, scheme, value.strip(), schemes, realm)
        return AuthResult(None, self._challenge(schemes, realm))

    def _basic(self, value: str, schemes: tuple[str, ...], realm: str) -> AuthResult:
        try:
            username, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return AuthResult(None, self._challenge(schemes, realm))
        user = self._user_for(username)
        if (
            user is None
            or user.password is None
            or not secrets.compare_digest(user.password.encode(), password.encode())
        ):
            return AuthResult(None, self._challenge(schemes, realm))
        return AuthResult(user)

    def _spnego(self, request: Request, scheme: str, value: str, schemes: tuple[str, ...], realm: str) -> AuthResult:
        state = request.connection
        try:
            token = base64.b64decode(value, validate=True)
        except binascii.Error:
            return AuthResult(None, self._challenge(schemes, realm))
        context = state.get("spnego")
        try:
            with _user_file(self.user_file):
                if context is None or context.complete:
                    context = spnego.server(
                        protocol="ntlm" if scheme == "NTLM" else "negotiate",
                        channel_bindings=self._bindings,
                    )
                    state["spnego"] = context
                    state.pop("user", None)
                reply = context.step(token)
        except (SpnegoError, ValueError):  # wrong password, wrong channel binding, garbage
            state.pop("spnego", None)
            state.pop("user", None)
            return AuthResult(None, self._challenge(schemes, realm))
        encoded = f"{scheme} {base64.b64encode(reply).decode()}" if reply else None
        if not context.complete:
            return AuthResult(None, Response(401, b"", [("WWW-Authenticate", encoded or scheme)], "text/html"))
        user = self._user_for(context.client_principal or "")
        if user is None:
            return AuthResult(None, self._challenge(schemes, realm))
        state["user"] = user
        return AuthResult(user, headers=[("WWW-Authenticate", encoded)] if encoded else [])
