"""HTTP authentication as IIS does it for Exchange: Basic over HTTPS, NTLM / Negotiate (pyspnego acceptor) and
Kerberos inside Negotiate (python-gssapi acceptor with the server's keytab from the lab's KDC), with Extended
Protection — the client's channel binding must match our TLS certificate.

Which of them a virtual directory takes is its own setting: EWS takes NTLM and Kerberos inside Negotiate (and Basic);
Exchange's /PowerShell takes Kerberos only, unless an admin enabled Windows authentication (NTLM) or Basic. A
Negotiate token is classified before it is accepted — NTLM (raw, or SPNEGO offering NTLM first) versus Kerberos —
so a directory that takes Kerberos only refuses NTLM exactly as Exchange's does.

NTLM is connection-oriented: once the handshake completes, the connection stays authenticated for the requests
that follow on it, as IIS keeps it. pyspnego's NTLM acceptor reads its user database from the file the
`NTLM_USER_FILE` environment variable names. Changing the environment while clients run in the same process (the
demo, the tests) breaks them — requests iterates `os.environ` for proxies, and a key that vanishes mid-iteration
is a KeyError — so the variable is set once, when the first lab starts, to a private file of this process and
never changed again; each NTLM step writes its lab's users into that file under one lock, so labs in one process
never see each other's users.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spnego
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import SpnegoError

from .http import Request, Response
from .org import ExtendedProtection, Organization, Recipient

_NTLM_LOCK = threading.Lock()
_shared_file: Path | None = None


def _install_user_file() -> Path:
    """The process's NTLM user file, created (and the variable set) once, before any lab serves a request."""
    global _shared_file
    with _NTLM_LOCK:
        if _shared_file is None:
            folder = Path(tempfile.mkdtemp(prefix="workbench-lab-ntlm-"))
            path = folder / "users"
            path.touch(mode=0o600)
            atexit.register(shutil.rmtree, folder, True)
            os.environ["NTLM_USER_FILE"] = str(path)
            _shared_file = path
        return _shared_file


@contextlib.contextmanager
def _user_file(users: bytes) -> Iterator[None]:
    path = _install_user_file()
    with _NTLM_LOCK:
        path.write_bytes(users)
        yield


KERBEROS_OIDS = frozenset({"1.2.840.113554.1.2.2", "1.2.840.48018.1.2.2"})  # Kerberos 5, and Microsoft's alias
NTLM_OID = "1.3.6.1.4.1.311.2.2.10"
SPNEGO_OID = "1.3.6.1.5.5.2"


def mechanism(token: bytes) -> str | None:
    """What a first Negotiate token speaks: "ntlm", "kerberos", or None (neither, or garbage)."""
    from spnego._spnego import InitialContextToken, NegTokenInit, unpack_token

    if token.startswith(b"NTLMSSP\x00"):
        return "ntlm"
    try:
        outer = unpack_token(token, unwrap=True)
        if not isinstance(outer, InitialContextToken):
            return None
        if outer.this_mech in KERBEROS_OIDS:
            return "kerberos"
        if outer.this_mech != SPNEGO_OID:
            return None
        offer = unpack_token(outer.inner_context_token)
    except Exception:  # noqa: BLE001  (a malformed token is refused like an unknown one)
        return None
    if not isinstance(offer, NegTokenInit) or not offer.mech_types:
        return None
    first = offer.mech_types[0]  # what the client's token is for
    return "kerberos" if first in KERBEROS_OIDS else "ntlm" if first == NTLM_OID else None


class KerberosAcceptor:
    """Accepts Kerberos AP-REQs for the server's service principal with its keytab (raw Kerberos or SPNEGO), with a
    replay cache of its own, as a server's HTTP service does."""

    def __init__(self, keytab: Path, replay_cache: Path, realm: str) -> None:
        import gssapi

        self.realm = realm
        self._credentials = gssapi.Credentials(
            usage="accept", store={b"keytab": str(keytab).encode(), b"rcache": f"file2:{replay_cache}".encode()}
        )

    def accept(self, token: bytes, binding: Any, protection: ExtendedProtection) -> tuple[str, bytes | None]:
        """The client's principal and the reply token (mutual authentication); ValueError when refused."""
        import gssapi
        from gssapi.raw.misc import GSSError

        context = gssapi.SecurityContext(
            creds=self._credentials,
            usage="accept",
            channel_bindings=None if protection is ExtendedProtection.OFF else binding,
        )
        try:  # python-gssapi may keep a failed step's error and raise it at the next look at the context
            reply = context.step(token)
            complete = context.complete
            flags = int(context.actual_flags)
            principal = str(context.initiator_name)
        except GSSError as error:
            raise ValueError(f"Kerberos token refused: {error}") from None
        if not complete:
            raise ValueError("Kerberos needs one leg; the exchange did not complete")
        bound = flags & 2048  # GSS_C_CHANNEL_BOUND_FLAG: the client's binding matched ours
        if protection is ExtendedProtection.REQUIRE and not bound:
            raise ValueError("Extended Protection requires the TLS channel binding")
        return principal, reply


@dataclass
class AuthResult:
    user: Recipient | None
    response: Response | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


class Authenticator:
    def __init__(
        self, org: Organization, folder: Path, certificate_der: bytes, kerberos: KerberosAcceptor | None = None
    ) -> None:
        self.org = org
        self.kerberos = kerberos
        _install_user_file()
        lines = []
        for recipient in org.recipients.values():
            if recipient.password:
                lines.append(f":{recipient.upn}:{recipient.password}")
                lines.append(f"{org.netbios}:{recipient.alias}:{recipient.password}")
        self.users = ("\n".join(lines) + "\n").encode("utf-8")
        self._binding_data = b"tls-server-end-point:" + hashlib.sha256(certificate_der).digest()
        self._bindings = GssChannelBindings(application_data=self._binding_data)

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

    def authenticate(
        self,
        request: Request,
        schemes: tuple[str, ...],
        realm: str,
        protection: ExtendedProtection = ExtendedProtection.REQUIRE,
        *,
        ntlm: bool = True,
    ) -> AuthResult:
        """Authenticate `request` with one of `schemes`; NTLM and Kerberos check the client's TLS channel binding
        as the virtual directory's Extended Protection setting says (Basic is not covered by it, as in IIS).
        `ntlm=False`: the directory takes Kerberos only inside Negotiate (Exchange's /PowerShell)."""
        header = request.header("Authorization")
        if header is None:
            known = request.connection.get("user")
            if isinstance(known, Recipient) and self._reusable(request.connection.get("method"), schemes, ntlm):
                return AuthResult(known)
            return AuthResult(None, self._challenge(schemes, realm))
        scheme, _, value = header.partition(" ")
        scheme = scheme.capitalize() if scheme.lower() != "ntlm" else "NTLM"
        if scheme == "Basic" and "Basic" in schemes:
            return self._basic(value.strip(), schemes, realm)
        if scheme in {"NTLM", "Negotiate"} and scheme in schemes:
            try:
                token = base64.b64decode(value.strip(), validate=True)
            except binascii.Error:
                return AuthResult(None, self._challenge(schemes, realm))
            pending = request.connection.get("spnego")
            if scheme == "NTLM" or (pending is not None and not pending.complete):
                return self._spnego(request, scheme, token, schemes, realm, protection)
            kind = mechanism(token)
            if kind == "kerberos" and self.kerberos is not None:
                return self._kerberos(request, token, schemes, realm, protection)
            if kind == "ntlm" and ntlm:
                return self._spnego(request, scheme, token, schemes, realm, protection)
        return AuthResult(None, self._challenge(schemes, realm))

    def _reusable(self, method: object, schemes: tuple[str, ...], ntlm: bool) -> bool:
        """Whether a connection authenticated earlier (perhaps for another virtual directory) counts here: only
        with a method this directory takes, as IIS authenticates each request against its directory's settings.
        (An NTLM connection to /EWS does not open /PowerShell, which takes Kerberos only.)"""
        if method == "kerberos":
            return self.kerberos is not None and "Negotiate" in schemes
        if method == "ntlm":
            return ntlm and ("NTLM" in schemes or "Negotiate" in schemes)
        return False

    def _kerberos(
        self, request: Request, token: bytes, schemes: tuple[str, ...], realm: str, protection: ExtendedProtection
    ) -> AuthResult:
        import gssapi

        assert self.kerberos is not None
        state = request.connection
        state.pop("user", None)
        try:
            principal, reply = self.kerberos.accept(
                token, gssapi.raw.ChannelBindings(application_data=self._binding_data), protection
            )
        except ValueError:
            return AuthResult(None, self._challenge(schemes, realm))
        name, _, principal_realm = principal.rpartition("@")
        user = self.org.recipient(name) if principal_realm == self.kerberos.realm else None
        if user is None:
            return AuthResult(None, self._challenge(schemes, realm))
        state["user"] = user  # IIS keeps a Kerberos-authenticated connection authenticated (authPersistNonNTLM)
        state["method"] = "kerberos"
        encoded = f"Negotiate {base64.b64encode(reply).decode()}" if reply else None
        return AuthResult(user, headers=[("WWW-Authenticate", encoded)] if encoded else [])

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

    def _named_challenge(self, context: Any, reply: bytes) -> bytes:
        """The NTLM CHALLENGE naming this organisation's server and domain (EXCH01, FABRIKAM, exch01.fabrikam.test)
        as Exchange's does, where pyspnego's acceptor would name the machine running the lab and WORKSTATION. The
        acceptor keeps the challenge it sent to check the client's MIC against: it gets the renamed one too."""
        from spnego._ntlm_raw.messages import AvId, Challenge, TargetInfo
        from spnego._spnego import NegTokenResp, unpack_token

        wrapped = not reply.startswith(b"NTLMSSP\x00")
        outer = unpack_token(reply) if wrapped else None
        raw = getattr(outer, "response_token", None) if wrapped else reply
        inner = getattr(context, "_context", context)  # Negotiate wraps the NTLM acceptor
        if not raw or not raw.startswith(b"NTLMSSP\x00") or getattr(inner, "_temp_challenge", None) is None:
            return reply
        sent = Challenge.unpack(raw)
        org = self.org
        names = TargetInfo()
        names[AvId.nb_domain_name] = org.netbios
        names[AvId.nb_computer_name] = org.server_name.upper()
        names[AvId.dns_domain_name] = org.domain
        names[AvId.dns_computer_name] = org.fqdn
        names[AvId.dns_tree_name] = org.domain
        names[AvId.timestamp] = sent.target_info[AvId.timestamp] if sent.target_info else None
        if names[AvId.timestamp] is None:
            del names[AvId.timestamp]
        renamed = Challenge(
            sent.flags,
            sent.server_challenge,
            target_name=org.netbios,
            target_info=names,
            version=sent.version,
        )
        inner._temp_challenge = renamed
        if not wrapped:
            return renamed.pack()
        assert isinstance(outer, NegTokenResp)
        return NegTokenResp(
            neg_state=outer.neg_state,
            supported_mech=outer.supported_mech,
            response_token=renamed.pack(),
            mech_list_mic=outer.mech_list_mic,
        ).pack()

    def _binding_ok(self, token: bytes, protection: ExtendedProtection) -> bool:
        if protection is ExtendedProtection.OFF:
            return True
        sent = client_binding(token)
        expected = hashlib.md5(self._bindings.pack()).digest()  # noqa: S324  (NTLM's own hash of the binding)
        if protection is ExtendedProtection.ACCEPT and (sent is None or sent == bytes(16)):
            return True
        return sent == expected

    def _spnego(
        self,
        request: Request,
        scheme: str,
        token: bytes,
        schemes: tuple[str, ...],
        realm: str,
        protection: ExtendedProtection,
    ) -> AuthResult:
        state = request.connection
        context = state.get("spnego")
        try:
            with _user_file(self.users):
                if context is None or context.complete:
                    # The binding is checked below, as the directory's setting says (pyspnego would accept a
                    # zeroed one and refuse a missing one whatever the setting).
                    context = spnego.server(protocol="ntlm" if scheme == "NTLM" else "negotiate")
                    state["spnego"] = context
                    state.pop("user", None)
                reply = context.step(token)
        except (SpnegoError, ValueError):  # wrong password, wrong channel binding, garbage
            state.pop("spnego", None)
            state.pop("user", None)
            return AuthResult(None, self._challenge(schemes, realm))
        if reply and not context.complete:
            reply = self._named_challenge(context, reply)
        encoded = f"{scheme} {base64.b64encode(reply).decode()}" if reply else None
        if context.complete and not self._binding_ok(token, protection):
            state.pop("spnego", None)
            state.pop("user", None)
            return AuthResult(None, self._challenge(schemes, realm))
        if not context.complete:
            return AuthResult(None, Response(401, b"", [("WWW-Authenticate", encoded or scheme)], "text/html"))
        user = self._user_for(context.client_principal or "")
        if user is None:
            return AuthResult(None, self._challenge(schemes, realm))
        state["user"] = user
        state["method"] = "ntlm"
        return AuthResult(user, headers=[("WWW-Authenticate", encoded)] if encoded else [])


def client_binding(token: bytes) -> bytes | None:
    """The channel binding hash (MsvAvChannelBindings) in an NTLM AUTHENTICATE message, raw or wrapped in SPNEGO;
    None when the client sent none (or NTLMv1, which cannot carry one)."""
    from spnego._ntlm_raw.messages import Authenticate, AvId, NTClientChallengeV2
    from spnego._spnego import unpack_token

    signature = b"NTLMSSP\x00"
    raw = token
    if not raw.startswith(signature):
        try:
            raw = getattr(unpack_token(token), "response_token", None) or b""
        except Exception:  # noqa: BLE001  (not SPNEGO: nothing to read)
            return None
        if not raw.startswith(signature):
            return None
    try:
        response = Authenticate.unpack(raw).nt_challenge_response
        if not response or len(response) <= 24:
            return None
        pairs = NTClientChallengeV2.unpack(response[16:]).av_pairs
    except Exception:  # noqa: BLE001  (a malformed message fails the handshake elsewhere)
        return None
    value = pairs.get(AvId.channel_bindings)
    return bytes(value) if value is not None else None
