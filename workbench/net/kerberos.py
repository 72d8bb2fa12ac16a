"""Kerberos for Exchange's remote PowerShell: the realm and KDC of one connection, a ticket obtained from the
admin's password in memory, and a requests authenticator that presents it (HTTP Negotiate with a Kerberos token,
mutual authentication and the TLS channel binding Extended Protection asks for).

Why not pypsrp's `auth="negotiate"`: without Kerberos it falls back to NTLM silently, and Exchange's PowerShell
virtual directory refuses NTLM, so every Kerberos problem would surface as "wrong password". Here every failure
has its own kind (`KerberosProblem`).

One process, many runs. MIT Kerberos reads its profile — which KDC serves which realm — from `KRB5_CONFIG` once per
process, and two organisations may even share a realm name. So the ticket is requested in a short-lived process of
its own (`kerberos_ticket.py`), whose profile names only this run's realm and the KDC this run's own DNS found; the
tickets come back serialised and are kept in a MEMORY credential cache of this process, unique to the run and
destroyed with it. Presenting a cached service ticket needs no KDC, so nothing here depends on `/etc/krb5.conf` or
on the process's environment. Nothing is written under `/etc`, and no ticket touches the disk.

python-gssapi and pykrb5 (the `kerberos` extra) are imported only when a Kerberos connection is verified.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import requests
from requests.auth import AuthBase

from workbench import validate
from workbench.model import Secret

from . import deadline, resolve

_TICKET_SCRIPT = Path(__file__).with_name("kerberos_ticket.py")
DEFAULT_KDC_PORT = 88


class KerberosProblem(StrEnum):
    NOT_INSTALLED = "not-installed"
    KDC_NOT_FOUND = "kdc-not-found"  # no KDC named and none in DNS
    KDC_UNREACHABLE = "kdc-unreachable"
    PREAUTH_FAILED = "preauth-failed"  # the password is wrong
    UNKNOWN_PRINCIPAL = "unknown-principal"
    PASSWORD_EXPIRED = "password-expired"  # noqa: S105  (a problem's name)
    ACCOUNT_DISABLED = "account-disabled"
    CLOCK_SKEW = "clock-skew"
    NO_SPN = "no-spn"  # no service principal for that name (an IP address, an alias)
    OTHER = "other"


# krb5's own error codes (com_err table "krb5", base -1765328384) for what the KDC or the library answered.
_CODES: dict[int, KerberosProblem] = {
    -1765328378: KerberosProblem.UNKNOWN_PRINCIPAL,  # KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN
    -1765328377: KerberosProblem.NO_SPN,  # KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN
    -1765328366: KerberosProblem.ACCOUNT_DISABLED,  # KRB5KDC_ERR_CLIENT_REVOKED
    -1765328361: KerberosProblem.PASSWORD_EXPIRED,  # KRB5KDC_ERR_KEY_EXP
    -1765328360: KerberosProblem.PREAUTH_FAILED,  # KRB5KDC_ERR_PREAUTH_FAILED
    -1765328353: KerberosProblem.PREAUTH_FAILED,  # KRB5KRB_AP_ERR_BAD_INTEGRITY (a KDC without pre-authentication)
    -1765328347: KerberosProblem.CLOCK_SKEW,  # KRB5KRB_AP_ERR_SKEW
    -1765328228: KerberosProblem.KDC_UNREACHABLE,  # KRB5_KDC_UNREACH
    -1765328230: KerberosProblem.KDC_UNREACHABLE,  # KRB5_REALM_UNKNOWN
    -1765328164: KerberosProblem.KDC_UNREACHABLE,  # KRB5_REALM_CANT_RESOLVE
}


class KerberosError(Exception):
    def __init__(self, problem: KerberosProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


def missing() -> str | None:
    """Why Kerberos cannot be used in this installation, or None when it can."""
    try:
        import gssapi  # noqa: F401
        import krb5  # noqa: F401
    except ImportError as error:
        return f"Kerberos support is not installed ({error.name} is missing)"
    return None


@dataclass(frozen=True, slots=True)
class Realm:
    """Where one connection's Kerberos lives: the realm, its KDCs (IP, port) and the principals involved."""

    realm: str
    kdcs: tuple[tuple[str, int], ...]
    principal: str  # the admin, local-part@REALM
    spn: str  # HTTP/fqdn@REALM


def realm_for(admin_upn: str, explicit: str | None) -> str:
    """The realm: as the admin set it, or the UPN's domain upper-cased (Active Directory's realm is its DNS domain)."""
    return validate.kerberos_realm(explicit or admin_upn.rpartition("@")[2])


def locate(
    admin_upn: str,
    server_host: str,
    *,
    realm: str | None,
    kdc: str | None,
    dns_servers: tuple[str, ...],
    timeout: float,
) -> Realm:
    """Decide the realm, find its KDCs (as given, else `_kerberos._tcp.<realm>` SRV through the connection's own DNS)
    and name the service principal. An IP address has no service principal: Kerberos needs the server's name."""
    if validate.is_ip_address(server_host):
        raise KerberosError(
            KerberosProblem.NO_SPN,
            f"{server_host} is an IP address: Kerberos names the server (HTTP/<name>), so it needs the server's FQDN",
        )
    name = realm_for(admin_upn, realm)
    places: list[tuple[str, int]] = []
    if kdc:
        address = validate.kdc(kdc)
        places.append((address.host, address.port or DEFAULT_KDC_PORT))
    else:
        try:
            records = resolve.srv_records(f"_kerberos._tcp.{name.lower()}", dns_servers, timeout)
        except resolve.NotFound as error:
            raise KerberosError(KerberosProblem.KDC_NOT_FOUND, f"DNS lookup failed: {error}") from None
        if not records:
            raise KerberosError(
                KerberosProblem.KDC_NOT_FOUND,
                f"no KDC for {name}: DNS has no _kerberos._tcp.{name.lower()} SRV record",
            )
        places = [(r.target, r.port) for r in records]
    kdcs: list[tuple[str, int]] = []
    unresolved: list[str] = []
    for host, port in places:
        try:
            kdcs.append((resolve.address_of(host, dns_servers, timeout), port))
        except resolve.NotFound as error:
            unresolved.append(str(error))
    if not kdcs:
        raise KerberosError(KerberosProblem.KDC_UNREACHABLE, f"the KDC's name does not resolve: {unresolved[0]}")
    local = admin_upn.rpartition("@")[0]
    return Realm(name, tuple(kdcs), f"{local}@{name}", f"HTTP/{server_host.lower()}@{name}")


def _profile(realm: Realm, timeout: float) -> str:
    kdcs = "\n".join(f"  kdc = {f'[{ip}]' if ':' in ip else ip}:{port}" for ip, port in realm.kdcs)
    return (
        "[libdefaults]\n"
        f" default_realm = {realm.realm}\n"
        " dns_lookup_kdc = false\n"
        " dns_lookup_realm = false\n"
        " dns_canonicalize_hostname = false\n"
        " rdns = false\n"
        " forwardable = false\n"
        " udp_preference_limit = 1\n"  # TCP, as the SRV record said
        f" request_timeout = {max(1, int(timeout))}\n"
        "[realms]\n"
        f" {realm.realm} = {{\n{kdcs}\n }}\n"
    )


class Ticket:
    """A service ticket for one server, in a MEMORY credential cache of this process owned by one run."""

    def __init__(self, realm: Realm, serialized: list[bytes]) -> None:
        import krb5

        self.realm = realm
        self._context = krb5.init_context()
        self._cache = krb5.cc_new_unique(self._context, b"MEMORY")
        creds = [krb5.unmarshal_credentials(self._context, blob) for blob in serialized]
        krb5.cc_initialize(self._context, self._cache, creds[0].client)
        for one in creds:
            krb5.cc_store_cred(self._context, self._cache, one)
        self.cache_name = b"MEMORY:" + (self._cache.name or b"")
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        import krb5

        with self._lock:
            if not self._closed:
                self._closed = True
                krb5.cc_destroy(self._context, self._cache)

    def __repr__(self) -> str:
        return f"Ticket({self.realm.principal} for {self.realm.spn})"


def obtain(realm: Realm, password: Secret, timeout: float) -> Ticket:
    """Ask the realm's KDC for a ticket for the server, from the password, in a process of its own (bounded)."""
    reason = missing()
    if reason is not None:
        raise KerberosError(KerberosProblem.NOT_INSTALLED, reason)
    folder = Path(tempfile.mkdtemp(prefix="workbench-krb5-"))
    try:
        profile = folder / "krb5.conf"
        profile.touch(mode=0o600)
        profile.write_text(_profile(realm, timeout), encoding="utf-8")
        environment = {
            "KRB5_CONFIG": str(profile),
            "KRB5CCNAME": "MEMORY:workbench",  # never a file cache
            "KRB5RCACHENAME": "none:",
            "LANG": "C.UTF-8",
        }
        request = json.dumps({"principal": realm.principal, "spn": realm.spn})
        process = subprocess.Popen(
            [sys.executable, "-I", str(_TICKET_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        deadline.watch_process(process)  # killed at once when the verification stops waiting for it
        try:  # the timeout is wall-clock: the process is killed when it runs out
            stdout, stderr = process.communicate(f"{request}\n{password.reveal()}\n", timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise KerberosError(
                KerberosProblem.KDC_UNREACHABLE, f"no answer from the KDC of {realm.realm} within {timeout:g} s"
            ) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        answer: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        raise KerberosError(KerberosProblem.OTHER, f"the ticket request failed: {last}") from None
    if "error" in answer:
        code = int(answer["error"])
        code = code - 2**32 if code >= 2**31 else code  # GSS minor codes arrive unsigned
        raise KerberosError(_CODES.get(code, KerberosProblem.OTHER), str(answer.get("message", code)))
    return Ticket(realm, [base64.b64decode(blob) for blob in answer["creds"]])


def _offered_token(response: requests.Response) -> bytes | None:
    for value in response.headers.get("www-authenticate", "").split(","):
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "negotiate" and token.strip():
            try:
                return base64.b64decode(token.strip(), validate=True)
            except ValueError:
                return None
    return None


class KerberosAuth(AuthBase):
    """HTTP Negotiate with a Kerberos token from `ticket` (never NTLM): the TLS channel binding is sent, and the
    server must prove itself (mutual authentication) before its answer is believed."""

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Connection"] = "Keep-Alive"
        request.register_hook("response", self._answer)
        return request

    def _answer(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or "Authorization" in response.request.headers:
            return response
        offered = [v.strip().split(" ")[0].lower() for v in response.headers.get("www-authenticate", "").split(",")]
        if "negotiate" not in offered and "kerberos" not in offered:
            return response  # the caller reports what the server offers
        import gssapi
        from gssapi.raw.misc import GSSError
        from pypsrp.negotiate import HTTPNegotiateAuth

        binding = HTTPNegotiateAuth._get_cbt_data(response)  # type: ignore[no-untyped-call]
        try:  # python-gssapi may keep a failed step's error and raise it at the next look at the context
            context = gssapi.SecurityContext(
                name=gssapi.Name(self.ticket.realm.spn, gssapi.NameType.kerberos_principal),
                creds=gssapi.Credentials(usage="initiate", store={b"ccache": self.ticket.cache_name}),
                usage="initiate",
                mech=gssapi.MechType.kerberos,
                flags=gssapi.RequirementFlag.mutual_authentication | gssapi.RequirementFlag.out_of_sequence_detection,
                channel_bindings=gssapi.raw.ChannelBindings(application_data=binding) if binding else None,
            )
            token = context.step()
            _ = context.complete
        except GSSError as error:
            raise KerberosError(KerberosProblem.OTHER, f"the ticket could not be presented: {error}") from None
        _ = response.content
        response.raw.release_conn()
        retry = response.request.copy()
        retry.headers["Authorization"] = "Negotiate " + base64.b64encode(token or b"").decode("ascii")
        answered: requests.Response = response.connection.send(retry, **kwargs)
        answered.history.append(response)
        if answered.status_code == 401:
            return answered
        reply = _offered_token(answered)
        try:
            if reply is None:
                raise KerberosError(KerberosProblem.OTHER, "the server did not prove its identity (no Kerberos reply)")
            context.step(reply)
            complete = context.complete
        except GSSError as error:
            raise KerberosError(KerberosProblem.OTHER, f"the server's Kerberos reply did not verify: {error}") from None
        if not complete:
            raise KerberosError(KerberosProblem.OTHER, "the server did not complete the Kerberos exchange")
        return answered
