"""`workbench demo --home DIR` run again and again: each run points the samples at its own lab, and what the
previous run's samples used (their lab's certificate and its key) goes with them instead of piling up in DIR."""

from __future__ import annotations

import dataclasses

from storage import Home
from workbench.cli.demo import _sample_connections
from workbench.lab import Lab
from workbench.model import CertificateCredential, M365Settings


def certificate_thumbprints_used(home: Home) -> set[str]:
    return {
        c.settings.credential.thumbprint
        for c in home.store.snapshot().connections
        if isinstance(c.settings, M365Settings) and isinstance(c.settings.credential, CertificateCredential)
    }


def test_a_kept_demo_directory_keeps_only_the_certificate_its_samples_use(home: Home) -> None:
    for _ in range(3):
        with Lab() as lab:
            _sample_connections(home, lab.state)
    kept = {c.thumbprint for c in home.certificates.list()}
    assert kept == certificate_thumbprints_used(home)
    assert len(kept) == 1
    assert len(home.store.snapshot().connections) == 5


def test_a_certificate_the_admin_s_own_connection_uses_stays(home: Home) -> None:
    with Lab() as lab:
        (_, with_certificate, *_) = _sample_connections(home, lab.state)
    changes = home.changeset()  # the admin's own connection, on the first run's certificate
    own = changes.get(with_certificate.name)
    changes.add(dataclasses.replace(own, id="id-own", name="Own connection"))
    changes.commit()
    with Lab() as lab:
        _sample_connections(home, lab.state)
    assert {c.thumbprint for c in home.certificates.list()} == certificate_thumbprints_used(home)
    assert len(home.certificates.list()) == 2
