"""Builders for test data: connections with fixed ids and times, certificate files of every kind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from workbench.drafts import M365Draft, OnPremDraft, Stamp
from workbench.model import ClientSecretCredential, Connection

T0 = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
TENANT = "8f2c1c52-4a5e-4d8e-9b0e-2f6c4d1a7e10"
CLIENT = "3b9d7e21-6c4f-4b1a-8e2d-5a7f9c0b1d23"
PFX_PASSWORD = "correct horse battery staple"


def stamp(n: int = 1, now: datetime = T0) -> Stamp:
    return Stamp(id=str(uuid.UUID(int=n)), now=now)


def m365(n: int = 1, name: str = "", secret_ref: str | None = None) -> Connection:
    draft = M365Draft(tenant_id=TENANT, client_id=CLIENT, app_account=f"backup{n}@contoso.com", name=name)
    return draft.build(ClientSecretCredential(secret_ref=secret_ref), stamp(n))


def onprem(n: int = 1, name: str = "", password_ref: str | None = None) -> Connection:
    draft = OnPremDraft(admin_upn=f"admin{n}@contoso.com", name=name, discovery="manual", server=f"exch{n}.contoso.com")
    return draft.build(password_ref, stamp(n))


def _cert(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, start: datetime, days: int) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Workbench Test App")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def _pem_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_cert_files(folder: Path, start: datetime) -> dict[str, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    curve = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(key, start, 365)
    files: dict[str, bytes] = {
        "pfx": pkcs12.serialize_key_and_certificates(
            b"app", key, cert, None, serialization.BestAvailableEncryption(PFX_PASSWORD.encode())
        ),
        "pfx_no_password": pkcs12.serialize_key_and_certificates(b"app", key, cert, None, serialization.NoEncryption()),
        "pem": cert.public_bytes(serialization.Encoding.PEM) + _pem_key(key),
        "pem_key_first": _pem_key(key) + cert.public_bytes(serialization.Encoding.PEM),
        "pem_cert_only": cert.public_bytes(serialization.Encoding.PEM),
        "pem_mismatch": cert.public_bytes(serialization.Encoding.PEM) + _pem_key(other),
        "pfx_1024": pkcs12.serialize_key_and_certificates(
            b"weak",
            weak,
            _cert(weak, start, 365),
            None,
            serialization.BestAvailableEncryption(PFX_PASSWORD.encode()),
        ),
        "pfx_expired": pkcs12.serialize_key_and_certificates(
            b"old",
            key,
            _cert(key, start - timedelta(days=400), 30),
            None,
            serialization.BestAvailableEncryption(PFX_PASSWORD.encode()),
        ),
        "pem_ec": _cert(curve, start, 365).public_bytes(serialization.Encoding.PEM) + _pem_key(curve),
        "garbage": b"this is not a certificate\n",
    }
    paths = {}
    for label, data in files.items():
        path = folder / f"{label}.{'pfx' if label.startswith('pfx') or label == 'garbage' else 'pem'}"
        path.write_bytes(data)
        paths[label] = path
    paths["cert_der"] = folder / "cert.der"
    paths["cert_der"].write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return paths
