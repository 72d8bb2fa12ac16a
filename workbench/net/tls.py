"""Looking at a server's certificate the way an admin would: who issued it, which names it carries, when it
expires, its SHA-256 fingerprint — and whether this connection's trust settings accept it, and if not, why."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from . import deadline


@dataclass(frozen=True, slots=True)
class CertificateReport:
    sha256: str
    subject: str
    issuer: str
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    self_signed: bool


@dataclass(frozen=True, slots=True)
class TlsVerdict:
    certificate: CertificateReport | None
    trusted: bool
    reason: str | None  # "untrusted", "name-mismatch", "expired", "pin-mismatch", or None
    detail: str  # the TLS library's own words when not trusted
    version: str | None = None


def describe(der: bytes) -> CertificateReport:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = tuple(str(n.value) for n in san)  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        names = ()
    return CertificateReport(
        sha256=hashlib.sha256(der).hexdigest().upper(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        names=names,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=cert.issuer == cert.subject,
    )


def _handshake(address: str, port: int, name: str, context: ssl.SSLContext, timeout: float) -> tuple[bytes, str | None]:
    with socket.create_connection((address, port), timeout=timeout) as raw:
        # The timeout bounds the handshake as a whole (CPython's TLS handshake keeps one deadline across its reads);
        # the call's own deadline ends it sooner when the verification stops waiting.
        raw.settimeout(timeout)
        deadline.watch(raw)
        # An IP address is checked against the certificate's IP SANs and not sent as SNI: ssl handles both.
        with context.wrap_socket(raw, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True) or b""
            return der, tls.version()


def inspect(
    name: str,
    port: int,
    *,
    address: str | None = None,
    ca_bundle: str | None = None,
    pin_sha256: str | None = None,
    timeout: float = 10.0,
) -> TlsVerdict:
    """Handshake with `name` (at `address` when given) and judge the certificate under the connection's trust."""
    target = address or name
    if pin_sha256:
        der, version = _handshake(target, port, name, _unverified(), timeout)
        report = describe(der)
        if report.sha256 == pin_sha256.upper():
            return TlsVerdict(report, True, None, "pinned", version)
        return TlsVerdict(report, False, "pin-mismatch", f"the server presented {report.sha256}", version)
    verified = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    try:
        der, version = _handshake(target, port, name, verified, timeout)
    except ssl.SSLCertVerificationError as error:
        der, version = _handshake(target, port, name, _unverified(), timeout)
        report = describe(der)
        message = error.verify_message or str(error)
        if "expired" in message:
            reason = "expired"
        elif "mismatch" in message.lower() or "doesn't match" in message:
            reason = "name-mismatch"
        else:
            reason = "untrusted"
        return TlsVerdict(report, False, reason, message, version)
    return TlsVerdict(describe(der), True, None, "trusted", version)


def _unverified() -> ssl.SSLContext:
    """Only to read a certificate that failed verification, so the admin can see it; nothing is sent on it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError):
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
