"""Certificates for app-only authentication: import (PFX, PEM), generate, and describe.

Entra ID accepts an RSA key of at least 2048 bits; the thumbprint it shows is the upper-case SHA-1 of the DER.
Every rejection says what is wrong with the file in words an admin can act on. Private keys leave this module only
as `Secret` PEM text, bound for the vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .model import CertificateInfo, CertificateSource, Secret

MIN_KEY_BITS = 2048
MAX_FILE_BYTES = 1 << 20  # a PFX or PEM with its chain is a few KB; anything this large is not one
DEFAULT_SUBJECT = "CN=Exchange Workbench"


class CertificateError(ValueError):
    """A certificate or key file that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class LoadedCertificate:
    info: CertificateInfo
    key_pem: Secret  # unencrypted PKCS#8 PEM: only ever in memory or in the vault


def usable_for_connection(thumbprint: str, found: CertificateInfo | None, now: datetime) -> str | None:
    """Why a connection cannot use the certificate with this thumbprint (`found` is the personal store's record,
    or None), or None when it can: it must be in the store, current and at least 2048 bits."""
    if found is None:
        return (
            f"No certificate with thumbprint {thumbprint} is in the personal certificate store; import it with "
            "its private key first"
        )
    if found.key_size < MIN_KEY_BITS:
        return f"Certificate {thumbprint} has a {found.key_size}-bit key; Entra ID needs at least {MIN_KEY_BITS} bits"
    if found.expired(now):
        return f"Certificate {thumbprint} expired on {found.not_after:%Y-%m-%d}; Entra ID will refuse it"
    if now < found.not_before:
        return f"Certificate {thumbprint} is not valid before {found.not_before:%Y-%m-%d %H:%M} UTC"
    return None


def thumbprint_of(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303  (what Entra and Windows display)


def describe(cert: x509.Certificate, key: object, source: CertificateSource, now: datetime) -> LoadedCertificate:
    """Validate a certificate and its key for app authentication and produce the record to store."""
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.lstrip("_").replace("PrivateKey", "")
        raise CertificateError(f"The key is {kind or 'not RSA'}; Entra ID app certificates need an RSA key")
    if key.key_size < MIN_KEY_BITS:
        raise CertificateError(
            f"The key is {key.key_size} bits; Entra ID and this workbench need at least {MIN_KEY_BITS} bits. "
            "Create a new certificate (workbench certs generate)"
        )
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise CertificateError("The private key does not belong to this certificate (their public keys differ)")
    if now >= cert.not_valid_after_utc:
        raise CertificateError(
            f"The certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}; Entra ID would refuse it "
            "(AADSTS700027). Create or import a current one"
        )
    if now < cert.not_valid_before_utc:
        raise CertificateError(f"The certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    info = CertificateInfo(
        thumbprint=thumbprint_of(cert),
        sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "X"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_size=key.key_size,
        source=source,
        added=now,
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )
    return LoadedCertificate(info, Secret(pem))


def load_pfx(data: bytes, password: Secret | None, now: datetime) -> LoadedCertificate:
    if not data.startswith(b"\x30"):  # every PKCS#12 file is a DER SEQUENCE
        raise CertificateError("The file is neither a PFX (PKCS#12) file nor a PEM certificate with its key")
    secret = password.reveal().encode("utf-8") if password else None
    try:
        key, cert, _chain = pkcs12.load_key_and_certificates(data, secret)
    except ValueError:
        if password is None:
            raise CertificateError("The PFX file is protected by a password; give it with --password-stdin") from None
        raise CertificateError("The PFX password is wrong, or the file is not a PFX (PKCS#12) file") from None
    if cert is None:
        raise CertificateError("The PFX file holds no certificate")
    if key is None:
        raise CertificateError("The PFX file holds no private key; export it again with the private key included")
    return describe(cert, key, CertificateSource.PFX, now)


def load_pem(data: bytes, password: Secret | None, now: datetime) -> LoadedCertificate:
    """A PEM file holding the certificate and its private key (in either order)."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertificateError("The file holds no PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    if b"PRIVATE KEY-----" not in data:
        raise CertificateError(
            "The file holds a certificate but no private key; authentication needs both (a PFX, or a PEM "
            "with the key appended)"
        )
    secret = password.reveal().encode("utf-8") if password else None
    try:
        key = serialization.load_pem_private_key(data, secret)
    except TypeError as error:
        if "not encrypted" in str(error):
            key = serialization.load_pem_private_key(data, None)
        else:
            raise CertificateError("The private key is encrypted; give its password with --password-stdin") from None
    except ValueError:
        raise CertificateError("The private key cannot be read: wrong password or damaged key") from None
    if isinstance(key, rsa.RSAPrivateKey):  # the leaf is the one matching the key; CA certificates may ride along
        wanted = key.public_key().public_numbers()
        for cert in certs:
            public = cert.public_key()
            if isinstance(public, rsa.RSAPublicKey) and public.public_numbers() == wanted:
                return describe(cert, key, CertificateSource.PEM, now)
    return describe(certs[0], key, CertificateSource.PEM, now)


def read_certificate_file(path: Path) -> bytes:
    """The bytes of a certificate file, refusing what is not one without reading it: a folder, a FIFO or a device
    (which could block or never end), or a file over `MAX_FILE_BYTES`."""
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise CertificateError(f"Cannot read {path}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise CertificateError(f"{path} is a folder, not a certificate file")
        if not stat.S_ISREG(info.st_mode):
            raise CertificateError(f"{path} is not a regular file (a device, a pipe or a socket)")
        if info.st_size > MAX_FILE_BYTES:
            raise CertificateError(
                f"{path} is too large for a certificate file ({info.st_size:,} bytes; at most {MAX_FILE_BYTES:,})"
            )
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError as error:
        raise CertificateError(f"Cannot read {path}: {error.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise CertificateError(f"{path} is too large for a certificate file (over {MAX_FILE_BYTES:,} bytes)")
    return data


def load_file(path: Path, password: Secret | None, now: datetime) -> LoadedCertificate:
    data = read_certificate_file(path)
    if b"-----BEGIN" in data[:4096]:
        return load_pem(data, password, now)
    return load_pfx(data, password, now)


def parse_subject(text: str) -> x509.Name:
    try:
        name = x509.Name.from_rfc4514_string(text.strip())
    except ValueError as error:
        raise CertificateError(
            f"Subject '{text}' is not a distinguished name like CN=Exchange Workbench ({error})"
        ) from None
    if not name.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise CertificateError(f"Subject '{text}' needs a common name, like CN=Exchange Workbench")
    return name


def build_certificate(
    key: rsa.RSAPrivateKey, subject: x509.Name | str, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """A self-signed certificate for app authentication: SHA-256, not a CA, client-authentication EKU."""
    name = parse_subject(subject) if isinstance(subject, str) else subject
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def generate(subject: str, days: int, now: datetime) -> LoadedCertificate:
    """A new RSA 2048 app certificate, valid from now (less five minutes of clock-skew slack) for `days` days."""
    name = parse_subject(subject)
    key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_KEY_BITS)
    cert = build_certificate(key, name, now - timedelta(minutes=5), now + timedelta(days=days))
    return describe(cert, key, CertificateSource.GENERATED, now)
