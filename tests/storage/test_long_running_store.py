"""The store as a console uses it for hours: verifications recorded while edits are pending, certificates that
reach the disk only on OK, a lock that is never waited on forever, and a passphrase asked for from a thread."""

from __future__ import annotations

import asyncio
import fcntl
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from storage import BusyError, Home, VaultError, prompt_on_loop
from storage import files as storage_files
from tests.factories import PFX_PASSWORD, T0, m365, onprem
from workbench import certificates
from workbench.model import (
    CertificateCredential,
    M365Settings,
    Secret,
    VerificationStatus,
    VerificationSummary,
)


def summary(minutes: int = 0, status: VerificationStatus = VerificationStatus.PASSED) -> VerificationSummary:
    return VerificationSummary(
        at=T0 + timedelta(minutes=minutes), status=status, passed=9, warnings=0, failed=0, skipped=0, duration_ms=400
    )


def store_bytes(home: Home) -> bytes:
    path = home.store.path
    return path.read_bytes() if path.exists() else b""


def test_a_recorded_verification_never_makes_a_pending_edit_fail(home: Home) -> None:
    seed = home.changeset()
    seed.add(onprem(1))
    seed.commit()
    manager = home.changeset()  # the connection manager is open...
    manager.edit(replace(onprem(1), name="Head office"))  # ...with a rename pending
    assert home.store.record_verifications({onprem(1).id: summary(5)}) == 1  # `workbench verify` meanwhile
    result = manager.commit()
    assert result.edited == 1
    saved = home.store.snapshot().connection(onprem(1).id)
    assert saved.name == "Head office"
    assert saved.last_verification == summary(5)  # the newer result is kept, not the manager's stale one
    assert all(change.path != "last_verification.at" for c in manager.changes() for change in c.fields())


def test_a_configuration_change_by_someone_else_still_conflicts(home: Home) -> None:
    from storage import ConflictError

    seed = home.changeset()
    seed.add(onprem(1))
    seed.commit()
    manager = home.changeset()
    manager.edit(replace(onprem(1), name="Head office"))
    other = home.changeset()
    other.edit(replace(onprem(1), name="Branch"))
    other.commit()
    with pytest.raises(ConflictError, match="changed by another workbench session"):
        manager.commit()


def test_recording_skips_connections_deleted_meanwhile_and_keeps_newer_results(home: Home) -> None:
    seed = home.changeset()
    seed.add(onprem(1))
    seed.commit()
    home.store.record_verifications({onprem(1).id: summary(10)})
    assert home.store.record_verifications({onprem(1).id: summary(2), "gone": summary(3)}) == 1
    assert home.store.snapshot().connection(onprem(1).id).last_verification == summary(10)


def _loaded(cert_files: dict[str, Path]) -> certificates.LoadedCertificate:
    return certificates.load_file(cert_files["pfx"], Secret(PFX_PASSWORD), T0)


def _with_certificate(thumbprint: str) -> Any:
    connection = m365(1)
    assert isinstance(connection.settings, M365Settings)
    settings = replace(connection.settings, credential=CertificateCredential(thumbprint=thumbprint))
    return replace(connection, settings=settings)


def test_an_imported_certificate_reaches_the_disk_only_with_its_connection(
    home: Home, cert_files: dict[str, Path]
) -> None:
    loaded = _loaded(cert_files)
    wizard = home.changeset()
    wizard.stage_certificate(loaded.info, loaded.key_pem)
    assert wizard.staged_certificate(loaded.info.thumbprint) == (loaded.info, loaded.key_pem)
    wizard.discard()  # Cancel
    assert store_bytes(home) == b"" and not (home.path / "vault.json").exists()

    wizard = home.changeset()
    wizard.stage_certificate(loaded.info, loaded.key_pem)
    wizard.add(onprem(2))  # OK, but no connection uses the certificate
    wizard.commit()
    assert home.store.snapshot().certificates == ()

    wizard = home.changeset()
    wizard.stage_certificate(loaded.info, loaded.key_pem)
    wizard.add(_with_certificate(loaded.info.thumbprint))
    before = store_bytes(home)
    assert store_bytes(home) == before  # staged only
    assert wizard.commit().certificates == 1
    assert [c.thumbprint for c in home.certificates.list()] == [loaded.info.thumbprint]
    assert home.certificates.private_key(loaded.info.thumbprint) == loaded.key_pem


def test_staged_secrets_and_certificates_verify_an_unsaved_connection(home: Home, cert_files: dict[str, Path]) -> None:
    from workbench.verification import target_for

    loaded = _loaded(cert_files)
    wizard = home.changeset()
    ref = wizard.stage_secret(Secret("typed-in-the-wizard"))
    wizard.stage_certificate(loaded.info, loaded.key_pem)
    target = target_for(home, onprem(1, password_ref=ref), staged=wizard)
    assert target.secret(ref) == Secret("typed-in-the-wizard")
    found = target.certificate(loaded.info.thumbprint)
    assert found is not None and found[0] == loaded.info
    assert store_bytes(home) == b""


def test_a_lock_held_elsewhere_is_waited_on_for_a_bounded_time(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_files, "LOCK_WAIT", 0.2)
    changes = home.changeset()
    changes.add(onprem(1))
    lock_path = home.store.path.with_name(home.store.path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another workbench, stuck mid-save
        with pytest.raises(BusyError, match="Another workbench is saving"):
            changes.commit()
    finally:
        os.close(fd)
    assert changes.dirty  # nothing lost: OK can be pressed again
    assert changes.commit().added == 1


def test_the_passphrase_is_asked_on_the_loop_from_a_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_VAULT", "passphrase")
    created = Home(tmp_path / "vaulted", passphrase=Secret("open sesame"))
    created.vault().put_many({"secret:x": Secret("value")})
    with created.store.transaction() as txn:
        txn.put_connection(onprem(1, password_ref="secret:x"))

    async def go(answer: Secret | None, wait: float) -> Any:
        loop = asyncio.get_running_loop()
        asked: list[int] = []

        async def ask() -> Secret | None:
            asked.append(1)
            await asyncio.sleep(0.01)  # a dialog on the UI's loop
            if answer is None:
                await asyncio.sleep(10)
            return answer

        home = Home(tmp_path / "vaulted", passphrase_prompt=prompt_on_loop(loop, ask, wait))
        results = await asyncio.gather(
            *(asyncio.to_thread(lambda: home.vault().get("secret:x")) for _ in range(3)), return_exceptions=True
        )
        return results, len(asked)

    results, asked = asyncio.run(go(Secret("open sesame"), 5))
    assert results == [Secret("value")] * 3 and asked == 1
    results, _ = asyncio.run(go(None, 0.2))
    assert all(isinstance(r, VaultError) and "within 0.2 s" in str(r) for r in results)
