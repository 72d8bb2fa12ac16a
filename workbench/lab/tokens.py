"""Lab tokens: access and id tokens signed by the lab, and verification of client assertions the way Entra does
it (the key is found by its `x5t` / `x5t#S256` thumbprint among the app's registered key credentials)."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .tenant import Application, KeyCredential

ACCESS_TOKEN_LIFETIME = 3599


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class TokenInvalid(Exception):
    pass


class TokenIssuer:
    """Signs the lab's access tokens (RS256, as Entra does) and validates them. The signing key is made when the
    first token is issued or checked: a lab that only serves Exchange on-premises never pays for an RSA key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: tuple[rsa.RSAPrivateKey, str] | None = None  # the key and its id, once made

    def _signing_key(self) -> tuple[rsa.RSAPrivateKey, str]:
        with self._lock:
            if self._made is None:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                der = key.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                self._made = key, b64url(der[-20:])
            return self._made

    def issue(self, claims: dict[str, Any], lifetime: int = ACCESS_TOKEN_LIFETIME) -> str:
        now = int(time.time())
        body = {"iat": now, "nbf": now, "exp": now + lifetime, **claims}
        key, kid = self._signing_key()
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid, "x5t": kid})

    def validate(self, token: str, audiences: set[str]) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._signing_key()[0].public_key(),
                algorithms=["RS256"],
                audience=sorted(audiences),
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenInvalid("Lifetime validation failed, the token is expired.") from None
        except jwt.InvalidAudienceError:
            raise TokenInvalid("Access token validation failure. Invalid audience.") from None
        except jwt.PyJWTError:
            raise TokenInvalid("Access token validation failure.") from None
        return claims


def unsigned_id_token(claims: dict[str, Any]) -> str:
    """MSAL only decodes id tokens; the lab signs nothing it does not have to."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


def client_info(uid: str, utid: str) -> str:
    return b64url(json.dumps({"uid": uid, "utid": utid}).encode())


@dataclass(frozen=True, slots=True)
class AssertionProblem:
    code: int
    description: str


def _thumbprint_matches(header_value: object, digest: bytes) -> bool:
    # MSAL pads x5t with '='; Entra compares the thumbprint, not the encoding.
    return isinstance(header_value, str) and header_value.rstrip("=") == b64url(digest)


def verify_client_assertion(
    assertion: str, app: Application, audiences: set[str], now: datetime | None = None
) -> AssertionProblem | None:
    """None when the assertion is good; otherwise the AADSTS code and text Entra would answer."""
    now = now or datetime.now(UTC)
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        return AssertionProblem(50027, "JWT token is invalid or malformed.")
    key: KeyCredential | None = None
    thumbprint = str(header.get("x5t#S256") or header.get("x5t") or "")
    for candidate in app.key_credentials:
        if _thumbprint_matches(header.get("x5t#S256"), candidate.sha256) or _thumbprint_matches(
            header.get("x5t"), candidate.sha1
        ):
            key = candidate
            break
    if key is None:
        return AssertionProblem(
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key "
            f"used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph "
            f"to see configured keys for app Id '{app.app_id}'.]",
        )
    if now >= key.end:
        return AssertionProblem(
            700027,
            "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key "
            f"used by client: '{thumbprint}', Found key 'Start={key.start:%m/%d/%Y %H:%M:%S}, "
            f"End={key.end:%m/%d/%Y %H:%M:%S}']",
        )
    try:
        claims = jwt.decode(
            assertion,
            key.certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            audience=sorted(audiences),
            options={"require": ["exp", "aud", "iss", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        return AssertionProblem(700024, "Client assertion is not within its valid time range.")
    except jwt.InvalidAudienceError:
        return AssertionProblem(50013, "Assertion failed signature validation. [Reason - The audience is invalid.]")
    except jwt.InvalidSignatureError:
        return AssertionProblem(
            700027,
            "Client assertion contains an invalid signature. [Reason - The signature is invalid., Thumbprint of key "
            f"used by client: '{thumbprint}']",
        )
    except jwt.PyJWTError as error:
        return AssertionProblem(50027, f"JWT token is invalid or malformed. ({error})")
    if claims.get("iss") != app.app_id or claims.get("sub") != app.app_id:
        return AssertionProblem(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
    return None
