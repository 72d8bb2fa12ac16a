"""The secret vault: client secrets, admin passwords and private keys, never in the store file.

Backends, chosen once per data directory and recorded in `vault.json`:

* **OS keyring** — only a real one (Secret Service, KWallet, macOS Keychain, Windows Credential Locker) that passes
  a set/get/delete probe. Plaintext or "alt" backends are refused. Over SSH this usually is not available.
* **Encrypted file** — AES-256-GCM, a fresh 96-bit nonce per secret, the reference as associated data (so two
  encrypted values cannot be swapped). The key is either 32 random bytes in `vault.key` (0600; protects against
  someone copying the vault alone) or derived from a passphrase with scrypt (`WORKBENCH_PASSPHRASE`).

There is no plaintext fallback.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from workbench.model import Secret

from .errors import StorageError, VaultError, WrongPassphraseError
from .files import atomic_write, create_exclusive, ensure_private_dir, exclusive_lock, read_private, remove_orphans

VAULT_FILE = "vault.json"
KEY_FILE = "vault.key"
KEYRING_SERVICE = "exchange-workbench"
_CHECK_REF = "vault-check"
_CHECK_PLAINTEXT = b"exchange workbench vault"
SCRYPT_N = 2**17  # about half a second on the 2-core reference machine
PRUNE_AFTER = 600.0  # seconds an unreferenced secret is left alone (a commit writes the vault, then the store)


class Backend(StrEnum):
    KEYRING = "keyring"
    KEY_FILE = "key-file"
    PASSPHRASE = "passphrase"  # noqa: S105  (a backend name, not a password)

    @property
    def description(self) -> str:
        return {
            Backend.KEYRING: "OS keyring",
            Backend.KEY_FILE: "encrypted file, key in vault.key (protects a copied vault, not the account)",
            Backend.PASSPHRASE: "encrypted file, key derived from your passphrase (scrypt)",
        }[self]


def new_ref() -> str:
    return f"secret:{uuid.uuid4()}"


class Vault(Protocol):
    backend: Backend

    def get(self, ref: str) -> Secret | None: ...

    def put_many(self, items: Mapping[str, Secret]) -> None: ...

    def delete_many(self, refs: Iterable[str]) -> None: ...

    def refs(self) -> set[str]: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text, validate=True)


class _VaultFile:
    """The JSON document `vault.json`, read fresh and written atomically under its own lock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any] | None:
        content = read_private(self.path)
        if content is None:
            return None
        try:
            data = json.loads(content)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise VaultError(f"{self.path} is damaged ({error}); secrets in it cannot be read") from None
        if not isinstance(data, dict) or data.get("v") != 1 or data.get("backend") not in set(Backend):
            raise VaultError(f"{self.path} is not a workbench vault (version 1)")
        return data

    def write(self, data: dict[str, Any]) -> None:
        """Called with the lock held: a temp file a killed writer left behind is removed first."""
        remove_orphans(self.path)
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode())

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return exclusive_lock(self.path)


class FileVault:
    """AES-256-GCM encrypted secrets in `vault.json`."""

    def __init__(self, file: _VaultFile, backend: Backend, key: bytes) -> None:
        self._file = file
        self.backend = backend
        self._aead = AESGCM(key)

    def _entries(self) -> dict[str, Any]:
        data = self._file.read()
        entries = data.get("entries", {}) if data else {}
        if not isinstance(entries, dict):
            raise VaultError(f"{self._file.path}: 'entries' is not an object")
        return entries

    def _seal(self, ref: str, value: bytes) -> dict[str, Any]:
        nonce = secrets.token_bytes(12)
        return {
            "nonce": _b64(nonce),
            "ct": _b64(self._aead.encrypt(nonce, value, ref.encode())),
            "at": int(time.time()),  # when it was written: only old unreferenced entries are pruned
        }

    def _open(self, ref: str, entry: object) -> bytes:
        if not isinstance(entry, dict):
            raise VaultError(f"{self._file.path}: entry {ref} is damaged")
        try:
            return self._aead.decrypt(_unb64(entry.get("nonce")), _unb64(entry.get("ct")), ref.encode())
        except (InvalidTag, ValueError):
            raise VaultError(
                f"{self._file.path}: entry {ref} cannot be decrypted (damaged, or encrypted with another key)"
            ) from None

    def get(self, ref: str) -> Secret | None:
        entry = self._entries().get(ref)
        if entry is None:
            return None
        return Secret(self._open(ref, entry).decode("utf-8"))

    def put_many(self, items: Mapping[str, Secret]) -> None:
        if not items:
            return
        with self._file.lock():
            data = self._file.read()
            if data is None:
                raise VaultError(f"{self._file.path} disappeared")
            entries = data.setdefault("entries", {})
            for ref, value in items.items():
                entries[ref] = self._seal(ref, value.reveal().encode("utf-8"))
            self._file.write(data)

    def delete_many(self, refs: Iterable[str]) -> None:
        wanted = set(refs)
        if not wanted:
            return
        with self._file.lock():
            data = self._file.read()
            if data is None:
                return
            entries = data.get("entries", {})
            if wanted & entries.keys():
                data["entries"] = {ref: entry for ref, entry in entries.items() if ref not in wanted}
                self._file.write(data)

    def refs(self) -> set[str]:
        return set(self._entries())

    def prune(self, keep: Iterable[str], older_than: float = PRUNE_AFTER) -> int:
        """Delete connection secrets (`secret:` references) nothing uses any more — left by a process killed
        between its vault write and its store write. Only entries older than `older_than` seconds go: a commit
        in flight (vault first, store second, never minutes apart) is never robbed of its secret."""
        kept = set(keep)
        limit = time.time() - older_than
        with self._file.lock():
            data = self._file.read()
            if data is None:
                return 0
            entries = data.get("entries", {})
            stale = [
                ref
                for ref, entry in entries.items()
                if ref.startswith("secret:")
                and ref not in kept
                and isinstance(entry, dict)
                and isinstance(entry.get("at", 0), int | float)
                and entry.get("at", 0) < limit
            ]
            if stale:
                data["entries"] = {ref: entry for ref, entry in entries.items() if ref not in stale}
                self._file.write(data)
        return len(stale)

    def check(self, data: Mapping[str, Any]) -> None:
        """Prove the key is right by decrypting the check value written when the vault was created."""
        if self._open(_CHECK_REF, data.get("check")) != _CHECK_PLAINTEXT:
            raise VaultError(f"{self._file.path}: the check value is wrong")

    def check_entry(self) -> dict[str, str]:
        return self._seal(_CHECK_REF, _CHECK_PLAINTEXT)


class KeyringVault:
    """Secrets in the OS keyring; `vault.json` keeps the list of references (keyrings cannot list entries)."""

    backend = Backend.KEYRING

    def __init__(self, file: _VaultFile, keyring_backend: Any, service: str) -> None:
        self._file = file
        self._keyring = keyring_backend
        self._service = service

    def get(self, ref: str) -> Secret | None:
        value = self._keyring.get_password(self._service, ref)
        return None if value is None else Secret(value)

    def _update_index(self, add: set[str], remove: set[str]) -> None:
        with self._file.lock():
            data = self._file.read() or {"v": 1, "backend": Backend.KEYRING.value, "service": self._service}
            data["refs"] = sorted((set(data.get("refs", [])) | add) - remove)
            self._file.write(data)

    def put_many(self, items: Mapping[str, Secret]) -> None:
        for ref, value in items.items():
            self._keyring.set_password(self._service, ref, value.reveal())
        if items:
            self._update_index(set(items), set())

    def delete_many(self, refs: Iterable[str]) -> None:
        wanted = set(refs)
        for ref in wanted:
            with contextlib.suppress(Exception):  # already gone is fine
                self._keyring.delete_password(self._service, ref)
        if wanted:
            self._update_index(set(), wanted)

    def refs(self) -> set[str]:
        data = self._file.read() or {}
        return set(data.get("refs", []))


# ------------------------------------------------------------------ choosing and opening


@dataclass(frozen=True, slots=True)
class KeyringProbe:
    usable: bool
    reason: str
    backend: Any = None


_REFUSED_MODULES = (
    "keyrings.alt",
    "keyring.backends.fail",
    "keyring.backends.null",
    "keyring.backends.chainer",
)


def probe_keyring(backend: Any | None = None) -> KeyringProbe:
    """Is there an OS keyring that really stores secrets encrypted? Plaintext/"alt" backends are refused."""
    try:
        import keyring

        chosen = backend if backend is not None else keyring.get_keyring()
    except Exception as error:  # noqa: BLE001  (any failure means: no keyring)
        return KeyringProbe(False, f"keyring unavailable: {error}")
    name = f"{type(chosen).__module__}.{type(chosen).__name__}"
    if type(chosen).__module__.startswith(_REFUSED_MODULES) and not _chainer_has_secure(chosen):
        return KeyringProbe(False, f"{name} is not a secure keyring")
    priority = getattr(chosen, "priority", 0)
    if not isinstance(priority, int | float) or priority < 1:
        return KeyringProbe(False, f"{name} has priority {priority}; only real OS keyrings are used")
    probe_ref = f"probe-{uuid.uuid4()}"
    try:
        chosen.set_password(KEYRING_SERVICE, probe_ref, "probe")
        ok = chosen.get_password(KEYRING_SERVICE, probe_ref) == "probe"
        chosen.delete_password(KEYRING_SERVICE, probe_ref)
    except Exception as error:  # noqa: BLE001
        return KeyringProbe(False, f"{name} failed a test write: {error}")
    if not ok:
        return KeyringProbe(False, f"{name} did not return what was stored")
    return KeyringProbe(True, name, chosen)


def _chainer_has_secure(backend: Any) -> bool:
    inner = getattr(backend, "backends", None) or []
    return bool(inner) and all(
        not type(b).__module__.startswith(_REFUSED_MODULES) and getattr(b, "priority", 0) >= 1 for b in inner
    )


def _scrypt_key(passphrase: Secret, salt: bytes, n: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(passphrase.reveal().encode("utf-8"))


def _key_from_file(path: Path, create: bool = False) -> bytes:
    if create and not (path.exists() or path.is_symlink()):
        create_exclusive(path, secrets.token_bytes(32))
    key = read_private(path)
    if key is None and not create:
        raise VaultError(
            f"{path} is missing: the secrets in {path.with_name(VAULT_FILE)} cannot be decrypted without it, and a "
            "new key would not open them. Restore it from a backup; or, to start over, move "
            f"{path.with_name(VAULT_FILE)} away and set every secret again (see README, 'Starting over')"
        )
    if key is None or len(key) != 32:
        raise VaultError(f"{path} is not a 32-byte vault key; without it the vault cannot be decrypted")
    return key


_open_lock = threading.Lock()


def open_vault(
    home: Path,
    passphrase: Secret | None = None,
    *,
    prompt: Callable[[], Secret] | None = None,
    scrypt_n: int = SCRYPT_N,
) -> Vault:
    """Open the vault of a data directory, creating it on first use.

    The backend is fixed when the vault is created: `WORKBENCH_VAULT` (`keyring`, `key-file`, `passphrase`) when
    set, else a passphrase when one is given (or `WORKBENCH_PASSPHRASE` is set), else a usable OS keyring, else a
    key file. `prompt` asks for the passphrase of an existing passphrase vault when none was given.
    """
    ensure_private_dir(home)
    file = _VaultFile(home / VAULT_FILE)
    if passphrase is None and os.environ.get("WORKBENCH_PASSPHRASE"):
        passphrase = Secret(os.environ["WORKBENCH_PASSPHRASE"])
    with _open_lock, file.lock():
        data = file.read()
        if data is None:
            data = _create(home, file, passphrase, scrypt_n)
    if passphrase is None and data.get("backend") == Backend.PASSPHRASE.value and prompt is not None:
        passphrase = prompt()
    return _open_existing(home, file, data, passphrase)


def backend_of(home: Path) -> Backend | None:
    """How the data directory keeps its secrets, read without unlocking anything (None: no vault yet, or one that
    cannot be read; opening it says why)."""
    try:
        data = _VaultFile(home / VAULT_FILE).read()
    except (StorageError, OSError):
        return None
    return Backend(data["backend"]) if data is not None else None


def _create(home: Path, file: _VaultFile, passphrase: Secret | None, scrypt_n: int) -> dict[str, Any]:
    requested = os.environ.get("WORKBENCH_VAULT", "")
    if requested and requested not in set(Backend):
        raise VaultError(f"WORKBENCH_VAULT={requested!r}: use one of {', '.join(Backend)}")
    if requested:
        backend = Backend(requested)
    elif passphrase is not None:
        backend = Backend.PASSPHRASE
    else:
        backend = Backend.KEYRING if probe_keyring().usable else Backend.KEY_FILE
    data: dict[str, Any] = {"v": 1, "backend": backend.value, "entries": {}}
    if backend is Backend.KEYRING:
        probe = probe_keyring()
        if not probe.usable:
            raise VaultError(f"WORKBENCH_VAULT=keyring, but no usable OS keyring: {probe.reason}")
        data = {"v": 1, "backend": backend.value, "service": f"{KEYRING_SERVICE}:{uuid.uuid4()}", "refs": []}
    elif backend is Backend.PASSPHRASE:
        if passphrase is None or not passphrase:
            raise VaultError("A passphrase vault needs a passphrase (set WORKBENCH_PASSPHRASE)")
        salt = secrets.token_bytes(16)
        data["kdf"] = {"name": "scrypt", "n": scrypt_n, "r": 8, "p": 1, "salt": _b64(salt)}
        vault = FileVault(file, backend, _scrypt_key(passphrase, salt, scrypt_n))
        data["check"] = vault.check_entry()
    else:
        vault = FileVault(file, backend, _key_from_file(home / KEY_FILE, create=True))
        data["check"] = vault.check_entry()
    file.write(data)
    return data


def _open_existing(home: Path, file: _VaultFile, data: dict[str, Any], passphrase: Secret | None) -> Vault:
    backend = Backend(data["backend"])
    if backend is Backend.KEYRING:
        probe = probe_keyring()
        if not probe.usable:
            raise VaultError(
                f"The secrets of {home} are in the OS keyring, which is not available now ({probe.reason}). "
                "Run the workbench where the keyring is unlocked (a desktop session, not plain SSH)."
            )
        return KeyringVault(file, probe.backend, str(data.get("service", KEYRING_SERVICE)))
    if backend is Backend.PASSPHRASE:
        if passphrase is None:
            raise VaultError("The vault is protected by a passphrase: set WORKBENCH_PASSPHRASE or enter it")
        kdf = data.get("kdf", {})
        try:
            key = _scrypt_key(passphrase, _unb64(kdf["salt"]), int(kdf["n"]))
        except (KeyError, TypeError, ValueError):
            raise VaultError(f"{file.path}: the key derivation settings are damaged") from None
        vault = FileVault(file, backend, key)
        try:
            vault.check(data)
        except VaultError:
            raise WrongPassphraseError("The vault passphrase is wrong") from None
        return vault
    vault = FileVault(file, backend, _key_from_file(home / KEY_FILE))
    try:
        vault.check(data)
    except VaultError:
        raise VaultError(
            f"{home / KEY_FILE} does not open {file.path}: the key file was replaced or the vault copied from "
            "another machine"
        ) from None
    return vault
