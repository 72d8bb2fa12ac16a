"""Losing a vault file is never silent: the workbench stops with what happened and how to start over."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import Home, VaultError
from storage.files import temp_prefix
from tests.factories import onprem
from workbench.model import Secret


def _home_with_a_secret(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    changes = home.changeset()
    changes.add(onprem(1, password_ref=changes.stage_secret(Secret("s3cret"))))
    changes.commit()
    return home


def test_a_deleted_vault_key_is_not_regenerated(tmp_path: Path) -> None:
    home = _home_with_a_secret(tmp_path)
    (home.path / "vault.key").unlink()
    with pytest.raises(VaultError, match=r"vault\.key is missing"):
        Home(home.path).vault()
    assert not (home.path / "vault.key").exists()


def test_a_deleted_vault_is_not_silently_recreated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home_with_a_secret(tmp_path)
    (home.path / "vault.json").unlink()
    with pytest.raises(VaultError, match=r"1 connection\(s\) keep their secrets in it.*WORKBENCH_NEW_VAULT=1"):
        Home(home.path).vault()
    assert not (home.path / "vault.json").exists()
    monkeypatch.setenv("WORKBENCH_NEW_VAULT", "1")  # the documented way to start over
    fresh = Home(home.path).vault()
    ref = home.store.snapshot().connections[0].secret_refs[0]
    assert fresh.get(ref) is None  # the connection now reads as "secret missing": set it again


def test_a_new_home_still_creates_its_vault(tmp_path: Path) -> None:
    assert Home(tmp_path / "new").vault().refs() == set()


def test_an_orphaned_vault_temp_file_is_removed_on_the_next_write(tmp_path: Path) -> None:
    home = _home_with_a_secret(tmp_path)
    orphan = home.path / f"{temp_prefix(home.path / 'vault.json')}killed.tmp"
    orphan.write_bytes(b"half a vault")
    home.vault().put_many({"secret:other": Secret("x")})
    assert not orphan.exists()


def test_secrets_no_connection_uses_are_pruned_once_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed between its vault write and its store write leaves a secret nobody references."""
    import time

    home = _home_with_a_secret(tmp_path)
    vault = home.vault()
    vault.put_many({"secret:left-behind": Secret("orphan")})
    changes = home.changeset()
    changes.add(onprem(2, password_ref=changes.stage_secret(Secret("second"))))
    changes.commit()
    assert "secret:left-behind" in vault.refs()  # young: it may belong to a commit in flight
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    changes = home.changeset()
    changes.add(onprem(3, password_ref=changes.stage_secret(Secret("third"))))
    changes.commit()
    refs = vault.refs()
    assert "secret:left-behind" not in refs
    live = {ref for c in home.store.snapshot().connections for ref in c.secret_refs}
    assert live <= refs  # everything a connection uses is still there


def test_a_deleted_store_does_not_start_over_while_the_vault_holds_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from storage import StorageError

    home = _home_with_a_secret(tmp_path)
    home.store.path.unlink()
    assert Home(home.path).store.snapshot().connections == ()  # young secrets: maybe a first commit in flight
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    with pytest.raises(StorageError, match=r"workbench\.json is missing.*WORKBENCH_NEW_STORE=1"):
        Home(home.path)
    monkeypatch.setenv("WORKBENCH_NEW_STORE", "1")
    assert Home(home.path).store.snapshot().connections == ()
