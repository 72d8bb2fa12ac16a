"""Microsoft identity through MSAL: the confidential client for app-only tokens (secret or certificate).

MSAL is given its own requests session. When the connection names a CA bundle, that bundle is used even if
REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE are set (requests would otherwise let the environment win over `verify`);
proxies from the environment still apply. Every request has a wall-clock deadline (`workbench.net.adapter`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

from workbench.model import Secret

from .adapter import DeadlineAdapter


class _Session(requests.Session):
    """MSAL's HTTP client: the connection's CA bundle, and the run's timeout on every request (MSAL passes none
    to a client it is given, so without it a trickled discovery or token answer had no deadline at all)."""

    def __init__(self, ca_bundle: str | None, timeout: float) -> None:
        super().__init__()
        for prefix in ("https://", "http://"):
            self.mount(prefix, DeadlineAdapter())
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        if ca_bundle:
            self.verify = ca_bundle

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().request(method, url, *args, **kwargs)

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self._ca_bundle and verify in (None, True):
            settings["verify"] = self._ca_bundle
        return settings


def http_session(ca_bundle: str | None, timeout: float) -> requests.Session:
    return _Session(ca_bundle, timeout)


@dataclass(frozen=True, slots=True)
class TokenError(Exception):
    error: str
    description: str
    codes: tuple[int, ...]

    @property
    def aadsts(self) -> int | None:
        if self.codes:
            return self.codes[0]
        match = re.match(r"AADSTS(\d+)", self.description)
        return int(match.group(1)) if match else None

    @property
    def first_line(self) -> str:
        return self.description.split("\r\n")[0].split("\n")[0]


@dataclass(frozen=True, slots=True)
class CertificateCredential:
    private_key_pem: Secret
    certificate_pem: str


def confidential_client(
    *,
    authority_host: str,
    tenant_id: str,
    client_id: str,
    credential: Secret | CertificateCredential,
    ca_bundle: str | None,
    timeout: float,
) -> Any:
    """Build the MSAL app; its constructor performs tenant discovery (raises ValueError for an unknown tenant)."""
    import msal

    client_credential: Any
    if isinstance(credential, CertificateCredential):
        # The public_certificate form makes MSAL sign with PS256 and send x5t#S256 (SHA-1 thumbprints are legacy).
        client_credential = {
            "private_key": credential.private_key_pem.reveal(),
            "public_certificate": credential.certificate_pem,
        }
    else:
        client_credential = credential.reveal()
    microsoft_host = any(
        authority_host.endswith(h) for h in (".microsoftonline.com", ".microsoftonline.us", ".microsoftonline.cn")
    )
    return msal.ConfidentialClientApplication(
        client_id,
        authority=f"{authority_host}/{tenant_id}",
        client_credential=client_credential,
        http_client=http_session(ca_bundle, timeout),
        instance_discovery=microsoft_host,
        timeout=timeout,
    )


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An access token as the workbench keeps it: the value only as a `Secret`, and when it expires."""

    value: Secret
    expires_in: int  # seconds, as Entra said when it was issued
    scope: str

    def claims(self) -> dict[str, Any]:
        return token_claims(self.value.reveal())


def app_token(app: Any, scope: str) -> AccessToken:
    """A token for `scope` (`https://graph.microsoft.com/.default`, …) or TokenError with Entra's answer."""
    result: dict[str, Any] = app.acquire_token_for_client([scope])
    if "access_token" not in result:
        raise TokenError(
            str(result.get("error", "")),
            str(result.get("error_description", "")),
            tuple(int(c) for c in result.get("error_codes", []) or []),
        )
    return AccessToken(Secret(str(result["access_token"])), int(result.get("expires_in") or 0), scope)


def token_claims(token: str) -> dict[str, Any]:
    """The claims of an access token, read without verification (only to show what was granted)."""
    import jwt

    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims
