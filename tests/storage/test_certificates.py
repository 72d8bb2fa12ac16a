"""Certificates: import (PFX, PEM), generation, the rejections, and the personal store."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from storage import Home, InUseError
from tests.factories import CLIENT, PFX_PASSWORD, TENANT
from workbench import certificates
from workbench.certificates import CertificateError
from workbench.drafts import M365Draft, Stamp
from workbench.model import CertificateCredential, CertificateSource, Secret


def load(path: Path, now, password: str | None = PFX_PASSWORD) -> certificates.LoadedCertificate:
    return certificates.load_file(path, Secret(password) if password is not None else None, now)


def test_pfx_thumbprint_is_the_sha1_of_the_der(cert_files, now) -> None:
    loaded = load(cert_files["pfx"], now)
    der = cert_files["cert_der"].read_bytes()
    assert loaded.info.thumbprint == hashlib.sha1(der).hexdigest().upper()
    assert loaded.info.sha256 == hashlib.sha256(der).hexdigest().upper()
    assert len(loaded.info.thumbprint) == 40 and loaded.info.thumbprint.isupper()
    assert (loaded.info.key_size, loaded.info.source) == (2048, CertificateSource.PFX)
    assert loaded.info.subject == "CN=Workbench Test App"
    assert loaded.key_pem.reveal().startswith("-----BEGIN PRIVATE KEY-----")
    assert "PRIVATE KEY" not in repr(loaded)


@pytest.mark.parametrize("label", ["pem", "pem_key_first"])
def test_pem_with_key_in_either_order(cert_files, now, label) -> None:
    assert load(cert_files[label], now, None).info.thumbprint == load(cert_files["pfx"], now).info.thumbprint


def test_pfx_without_password(cert_files, now) -> None:
    assert load(cert_files["pfx_no_password"], now, None).info.key_size == 2048


@pytest.mark.parametrize(
    ("label", "password", "expected"),
    [
        ("pfx", "wrong", "The PFX password is wrong"),
        ("pfx", None, "protected by a password; give it with --password-stdin"),
        (
            "pfx_1024",
            PFX_PASSWORD,
            "The key is 1024 bits; Entra ID and this workbench need at least 2048 bits",
        ),
        ("pfx_expired", PFX_PASSWORD, "The certificate expired on"),
        ("pem_cert_only", None, "holds a certificate but no private key"),
        ("pem_mismatch", None, "does not belong to this certificate"),
        ("pem_ec", None, "need an RSA key"),
        ("garbage", None, "neither a PFX (PKCS#12) file nor a PEM certificate"),
        ("garbage", "x", "neither a PFX (PKCS#12) file nor a PEM certificate"),
    ],
)
def test_rejections_say_why(cert_files, now, label, password, expected) -> None:
    with pytest.raises(CertificateError) as caught:
        load(cert_files[label], now, password)
    assert expected in str(caught.value)


def test_missing_file(tmp_path, now) -> None:
    with pytest.raises(CertificateError, match=r"Cannot read .*nothing\.pfx"):
        load(tmp_path / "nothing.pfx", now)


def test_generate_for_client_authentication(now) -> None:
    loaded = certificates.generate("CN=Exchange Workbench,O=Contoso", 730, now)
    cert = x509.load_pem_x509_certificate(loaded.info.cert_pem.encode())
    assert loaded.info.key_size == 2048
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert loaded.info.not_after - now == timedelta(days=730)
    assert loaded.info.subject == loaded.info.issuer == "CN=Exchange Workbench,O=Contoso"


@pytest.mark.parametrize(
    ("subject", "expected"), [("Exchange", "not a distinguished name"), ("O=Contoso", "needs a common name")]
)
def test_generate_rejects_bad_subjects(now, subject, expected) -> None:
    with pytest.raises(CertificateError, match=expected):
        certificates.generate(subject, 30, now)


def test_personal_store_keeps_keys_encrypted(home: Home, cert_files, now) -> None:
    loaded = load(cert_files["pfx"], now)
    info, added = home.certificates.add(loaded.info, loaded.key_pem)
    assert added
    assert home.certificates.list() == (info,)
    assert home.certificates.private_key(info.thumbprint) == loaded.key_pem
    key_body = loaded.key_pem.reveal().splitlines()[1].encode()
    assert all(key_body not in p.read_bytes() for p in home.path.iterdir() if p.is_file())
    again, added_again = home.certificates.add(loaded.info, loaded.key_pem)
    assert (again, added_again) == (info, False)


def test_certificate_in_use_cannot_be_removed(home: Home, cert_files, now) -> None:
    loaded = load(cert_files["pfx"], now)
    home.certificates.add(loaded.info, loaded.key_pem)
    changes = home.changeset()
    credential = CertificateCredential(thumbprint=loaded.info.thumbprint, sha256=loaded.info.sha256)
    connection = M365Draft(tenant_id=TENANT, client_id=CLIENT, app_account="a@contoso.com").build(
        credential, Stamp("c1", now)
    )
    changes.add(connection)
    changes.commit()
    with pytest.raises(InUseError, match=r"used by contoso\.com"):
        home.certificates.remove(loaded.info.thumbprint)
    changes = home.changeset()
    changes.delete("c1")
    changes.commit()
    home.certificates.remove(loaded.info.thumbprint)
    assert home.certificates.list() == ()
    assert home.vault().refs() == set()


def test_a_file_that_is_not_a_regular_file_or_too_large_is_refused_without_reading_it(tmp_path, now) -> None:
    # The wizard's import dialog takes any path an admin types: a FIFO would block the read forever, a device or
    # a huge file would fill memory. Neither is read.
    import os

    fifo = tmp_path / "cert.pfx"
    os.mkfifo(fifo)
    with pytest.raises(CertificateError, match="not a regular file"):
        load(fifo, now)
    with pytest.raises(CertificateError, match="is a folder"):
        load(tmp_path, now)
    big = tmp_path / "big.pfx"
    with big.open("wb") as handle:
        handle.truncate(certificates.MAX_FILE_BYTES + 1)
    with pytest.raises(CertificateError, match="too large"):
        load(big, now)
