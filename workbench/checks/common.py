"""Helpers the plans share: turning transport exceptions into problems, plural words."""

from __future__ import annotations

import socket
import ssl

from workbench.model import M365Settings, TrustMode
from workbench.redaction import redact

from . import problems
from .events import Outcome
from .target import Target


def network_failure(error: BaseException, target: Target, host: str, port: int) -> Outcome | None:
    """Map connection-level exceptions from any client library to a problem, or None if it is something else."""
    import requests

    text = str(error)
    values = {"host": host, "port": port, "name": target.name}
    if "Fingerprints did not match" in text:  # urllib3's check of a pinned certificate, on every handshake
        return Outcome.failed(
            f"{host}:{port} presented a certificate other than the pinned one",
            problems.TLS_PIN_MISMATCH.fill(**values),
            redact(text),
        )
    if (
        isinstance(error, ssl.SSLCertVerificationError)
        or "CERTIFICATE_VERIFY_FAILED" in text
        or isinstance(error, requests.exceptions.SSLError)
    ):
        problem = problems.TLS_NAME_MISMATCH if "mismatch" in text.lower() else problems.TLS_UNTRUSTED
        detail = f"TLS with {host}:{port} failed"
        bundle = ca_bundle_of(target)
        verification = isinstance(error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text
        if problem is problems.TLS_UNTRUSTED and bundle and verification:  # the file that did not hold the issuer
            detail += f": the certificate is not trusted by the CA bundle {bundle}"
        return Outcome.failed(detail, problem.fill(**values), redact(text))
    timeouts: tuple[type[BaseException], ...] = (TimeoutError, socket.timeout, requests.exceptions.Timeout)
    try:
        import httpx

        timeouts = (*timeouts, httpx.TimeoutException)
        connect_errors: tuple[type[BaseException], ...] = (httpx.ConnectError,)
    except ImportError:  # pragma: no cover
        connect_errors = ()
    if isinstance(error, timeouts) or "timed out" in text:
        return Outcome.failed(f"{host}:{port} did not answer in time", problems.TIMEOUT.fill(**values), redact(text))
    if (
        isinstance(error, (ConnectionError, requests.exceptions.ConnectionError, *connect_errors))
        or "Connection refused" in text
    ):
        return Outcome.failed(
            f"cannot connect to {host}:{port}", problems.NETWORK_UNREACHABLE.fill(**values), redact(text)
        )
    return None


def ca_bundle_of(target: Target) -> str | None:
    """The CA bundle the connection trusts instead of the system's store, if it names one."""
    settings = target.connection.settings
    if isinstance(settings, M365Settings):
        return settings.ca_bundle or None
    if settings.tls.mode is TrustMode.CA_BUNDLE:
        return settings.tls.ca_bundle or None
    return None


def plural(count: int, word: str) -> str:
    if count == 1:
        return f"1 {word}"
    suffix = "es" if word.endswith(("s", "x", "ch", "sh")) else "s"
    return f"{count:,} {word}{suffix}"
