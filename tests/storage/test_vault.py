"""The secret vault: encryption at rest, keys, passphrases, keyring selection. Nothing secret in clear on disk."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import pytest

from storage import Backend, Home, VaultError, WrongPassphraseError, open_vault, probe_keyring
from tests.factories import m365, onprem
from workbench.model import Secret

FAST_SCRYPT = 2**12  # the stored parameters are honoured on open; production vaults use 2**17


def every_byte_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_secrets_never_reach_the_disk_in_clear(home: Home) -> None:
    secret_value = "Zq8~client.secret-VALUE-4242"
    password = "P@ssw0rd-for-Exchange-2019"
    changes = home.changeset()
    changes.add(m365(1, secret_ref=changes.stage_secret(Secret(secret_value))))
    changes.add(onprem(2, password_ref=changes.stage_secret(Secret(password))))
    changes.commit()
    on_disk = every_byte_under(home.path)
    for value in (secret_value, password):
        for form in (value.encode(), value.encode("utf-16-le"), base64.b64encode(value.encode())):
            assert form not in on_disk
    store_text = home.store.path.read_text()
    assert "secret:" in store_text  # only references in the store
    assert home.vault().backend is Backend.KEY_FILE
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in home.path.iterdir()} == {
        "workbench.json": "0o600",
        "workbench.json.lock": "0o600",
        "vault.json": "0o600",
        "vault.json.lock": "0o600",
        "vault.key": "0o600",
    }


def test_values_are_bound_to_their_reference(home: Home) -> None:
    vault = home.vault()
    vault.put_many({"secret:a": Secret("alpha"), "secret:b": Secret("bravo")})
    path = home.path / "vault.json"
    data = json.loads(path.read_text())
    data["entries"]["secret:a"], data["entries"]["secret:b"] = (
        data["entries"]["secret:b"],
        data["entries"]["secret:a"],
    )
    path.write_text(json.dumps(data))
    with pytest.raises(VaultError, match="cannot be decrypted"):
        vault.get("secret:a")


def test_each_value_has_its_own_nonce(home: Home) -> None:
    vault = home.vault()
    vault.put_many({"secret:a": Secret("same"), "secret:b": Secret("same")})
    entries = json.loads((home.path / "vault.json").read_text())["entries"]
    assert entries["secret:a"]["nonce"] != entries["secret:b"]["nonce"]
    assert entries["secret:a"]["ct"] != entries["secret:b"]["ct"]


def test_replaced_key_file_is_explained(home: Home) -> None:
    home.vault().put_many({"secret:a": Secret("alpha")})
    key = home.path / "vault.key"
    key.write_bytes(b"\0" * 32)
    with pytest.raises(VaultError, match=r"vault\.key does not open"):
        open_vault(home.path)


def test_damaged_vault_file(home: Home) -> None:
    home.vault()
    (home.path / "vault.json").write_text("{not json")
    with pytest.raises(VaultError, match="is damaged"):
        open_vault(home.path)


def test_passphrase_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_VAULT")
    folder = tmp_path / "pp"
    vault = open_vault(folder, Secret("correct horse"), scrypt_n=FAST_SCRYPT)
    assert vault.backend is Backend.PASSPHRASE
    assert not (folder / "vault.key").exists()
    vault.put_many({"secret:x": Secret("xray")})
    assert open_vault(folder, Secret("correct horse")).get("secret:x") == Secret("xray")
    with pytest.raises(WrongPassphraseError, match="passphrase is wrong"):
        open_vault(folder, Secret("wrong horse"))
    with pytest.raises(VaultError, match="protected by a passphrase"):
        open_vault(folder)
    assert open_vault(folder, prompt=lambda: Secret("correct horse")).get("secret:x") == Secret("xray")
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "correct horse")
    assert open_vault(folder).get("secret:x") == Secret("xray")


def test_unknown_backend_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_VAULT", "plaintext")
    with pytest.raises(VaultError, match="use one of keyring, key-file, passphrase"):
        open_vault(tmp_path / "v")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Stands in for an OS keyring, which this headless machine does not have."""

    priority: float = 5

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.items[(service, username)]


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring, keyring.backends.null.Keyring])
def test_insecure_keyrings_are_refused(backend: Any) -> None:
    probe = probe_keyring(backend())
    assert not probe.usable and "not a secure keyring" in probe.reason


def test_low_priority_keyring_is_refused() -> None:
    weak = MemoryKeyring()
    weak.priority = 0.5  # what keyrings.alt's plaintext backend reports
    assert not probe_keyring(weak).usable


def test_keyring_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: memory)
    monkeypatch.setenv("WORKBENCH_VAULT", "keyring")
    folder = tmp_path / "kr"
    vault = open_vault(folder)
    assert vault.backend is Backend.KEYRING
    vault.put_many({"secret:k": Secret("kilo")})
    assert open_vault(folder).get("secret:k") == Secret("kilo")
    assert b"kilo" not in every_byte_under(folder)
    assert vault.refs() == {"secret:k"}
    vault.delete_many(["secret:k"])
    assert vault.get("secret:k") is None and list(memory.items) == []


def test_keyring_vault_when_the_keyring_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: memory)
    monkeypatch.setenv("WORKBENCH_VAULT", "keyring")
    open_vault(tmp_path / "kr")
    monkeypatch.setattr(keyring, "get_keyring", keyring.backends.fail.Keyring)
    with pytest.raises(VaultError, match="are in the OS keyring, which is not available now"):
        open_vault(tmp_path / "kr")


def test_no_keyring_falls_back_to_the_key_file_not_plaintext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_VAULT")
    monkeypatch.setattr(keyring, "get_keyring", keyring.backends.fail.Keyring)
    assert open_vault(tmp_path / "auto").backend is Backend.KEY_FILE
