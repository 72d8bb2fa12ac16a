"""A certificate no connection uses any more (issue 19, item 6): the one automatic registration made for its app
goes with the commit that removes its last user, key included; one imported by hand is only reported as unused;
one that any remaining connection uses (another tenant, a pending one, one another process saved) stays."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from storage import Home
from tests.factories import CLIENT, PFX_PASSWORD, TENANT, stamp
from workbench import certificates
from workbench.drafts import M365Draft
from workbench.model import (
    AppRegistration,
    CertificateCredential,
    CertificateInfo,
    CertificateSource,
    Connection,
    M365Settings,
    Registration,
    Secret,
    certificate_from_document,
    certificate_to_document,
)
from workbench.registration.plan import CERTIFICATE_SUBJECT

OTHER_TENANT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
APP = "exchange-workbench-00000000000000000000000000000001"


def registered(n: int, info: CertificateInfo, tenant: str = TENANT) -> Connection:
    """An automatically registered connection signing in with `info`."""
    draft = M365Draft(
        tenant_id=tenant,
        client_id=CLIENT,
        app_account=f"backup{n}@contoso.com",
        name=f"tenant {n}",
        registration=Registration.AUTOMATIC.value,
        app_registration=AppRegistration(app_object_id=f"object-{n}", unique_name=APP),
    )
    return draft.build(CertificateCredential(thumbprint=info.thumbprint, sha256=info.sha256), stamp(n))


def made_by_registration(now: datetime) -> certificates.LoadedCertificate:
    loaded = certificates.generate(CERTIFICATE_SUBJECT, 365, now)
    return replace(loaded, info=replace(loaded.info, made_for_app=APP))


def imported(cert_files: dict[str, Path], now: datetime) -> certificates.LoadedCertificate:
    return certificates.load_file(cert_files["pfx"], Secret(PFX_PASSWORD), now)


def saved(home: Home, loaded: certificates.LoadedCertificate, *connections: Connection) -> None:
    changes = home.changeset()
    changes.stage_certificate(loaded.info, loaded.key_pem)
    for connection in connections:
        changes.add(connection)
    changes.commit()


def test_the_mark_of_a_registration_certificate_is_stored_and_an_unmarked_document_reads_as_hand_made(now) -> None:
    info = made_by_registration(now).info
    assert certificate_from_document(certificate_to_document(info)).made_for_app == APP
    older = certificate_to_document(replace(info, made_for_app=None))
    assert "made_for_app" not in older  # a store written before the mark reads as it always did
    assert certificate_from_document(older).made_for_app is None


def test_deleting_the_last_user_of_a_registration_certificate_removes_it_and_its_key(home: Home, now) -> None:
    loaded = made_by_registration(now)
    connection = registered(1, loaded.info)
    saved(home, loaded, connection)
    assert home.vault().refs() == {f"cert-key:{loaded.info.thumbprint}"}
    changes = home.changeset()
    changes.delete(connection.id)
    result = changes.commit()
    assert [c.thumbprint for c in result.removed_certificates] == [loaded.info.thumbprint]
    assert result.unused_certificates == ()
    assert home.certificates.list() == ()
    assert home.vault().refs() == set()  # the private key is gone too


def test_a_registration_certificate_another_tenant_still_uses_stays(home: Home, now) -> None:
    loaded = made_by_registration(now)
    first, second = registered(1, loaded.info), registered(2, loaded.info, tenant=OTHER_TENANT)
    saved(home, loaded, first, second)
    changes = home.changeset()
    changes.delete(first.id)
    result = changes.commit()
    assert result.removed_certificates == result.unused_certificates == ()
    assert [c.thumbprint for c in home.certificates.list()] == [loaded.info.thumbprint]
    assert home.certificates.private_key(loaded.info.thumbprint) == loaded.key_pem


def test_a_registration_certificate_a_connection_added_in_the_same_commit_uses_stays(home: Home, now) -> None:
    loaded = made_by_registration(now)
    first = registered(1, loaded.info)
    saved(home, loaded, first)
    changes = home.changeset()
    changes.delete(first.id)
    changes.add(registered(2, loaded.info))  # pending, committed together
    result = changes.commit()
    assert result.removed_certificates == ()
    assert [c.thumbprint for c in home.certificates.list()] == [loaded.info.thumbprint]


def test_a_registration_certificate_another_session_put_to_use_meanwhile_stays(home: Home, now) -> None:
    loaded = made_by_registration(now)
    first = registered(1, loaded.info)
    saved(home, loaded, first)
    mine = home.changeset()  # opened before the other session's save
    mine.delete(first.id)
    other = home.changeset()
    other.add(registered(2, loaded.info, tenant=OTHER_TENANT))
    other.commit()
    result = mine.commit()
    assert result.removed_certificates == ()
    assert home.certificates.private_key(loaded.info.thumbprint) == loaded.key_pem


def test_a_hand_imported_certificate_is_reported_unused_but_kept(home: Home, cert_files, now) -> None:
    loaded = imported(cert_files, now)
    assert loaded.info.source is CertificateSource.PFX and loaded.info.made_for_app is None
    connection = registered(1, loaded.info)  # an automatic connection switched to a certificate of the admin's
    saved(home, loaded, connection)
    changes = home.changeset()
    changes.delete(connection.id)
    result = changes.commit()
    assert result.removed_certificates == ()
    assert [c.thumbprint for c in result.unused_certificates] == [loaded.info.thumbprint]
    assert home.certificates.private_key(loaded.info.thumbprint) == loaded.key_pem


def test_a_registration_certificate_left_by_a_rotation_goes_with_the_edit(home: Home, now) -> None:
    old = made_by_registration(now)
    connection = registered(1, old.info)
    saved(home, old, connection)
    new = made_by_registration(now)
    changes = home.changeset()
    changes.stage_certificate(new.info, new.key_pem)
    settings = connection.settings
    assert isinstance(settings, M365Settings)
    credential = CertificateCredential(thumbprint=new.info.thumbprint, sha256=new.info.sha256)
    changes.edit(replace(connection, settings=replace(settings, credential=credential)))
    result = changes.commit()
    assert [c.thumbprint for c in result.removed_certificates] == [old.info.thumbprint]
    assert [c.thumbprint for c in home.certificates.list()] == [new.info.thumbprint]
    assert home.vault().refs() == {f"cert-key:{new.info.thumbprint}"}
