"""A data directory: the store, the vault and the certificate store of one workbench installation."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.model import Secret

from .certstore import CertificateStore
from .changeset import Changeset
from .errors import StorageError, VaultError
from .files import atomic_write, ensure_private_dir, read_private
from .store import Store
from .vault import PRUNE_AFTER, VAULT_FILE, Vault, open_vault

if TYPE_CHECKING:
    import asyncio

PROMPT_WAIT = 300.0  # seconds an admin has to type the vault passphrase

APP_DIR = "exchange-workbench"
INSTALLATION_FILE = "installation-id"


def default_home() -> Path:
    """`WORKBENCH_HOME`, else `$XDG_DATA_HOME/exchange-workbench`, else `~/.local/share/exchange-workbench`."""
    explicit = os.environ.get("WORKBENCH_HOME")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / APP_DIR


class Home:
    def __init__(
        self,
        path: Path,
        passphrase: Secret | None = None,
        passphrase_prompt: Callable[[], Secret] | None = None,
    ) -> None:
        self.path = ensure_private_dir(path)
        self.store = Store.in_home(self.path)
        self._passphrase = passphrase
        self._prompt = passphrase_prompt
        self._vault: Vault | None = None
        self._vault_lock = threading.Lock()
        self._refuse_lost_store()

    def _refuse_lost_store(self) -> None:
        """No store file but a vault holding secrets: the store was deleted or moved, not never created. Carrying
        on would show an empty workbench and, on the next save, prune the secrets it no longer sees."""
        if self.store.path.exists() or os.environ.get("WORKBENCH_NEW_STORE") == "1":
            return
        vault_file = self.path / VAULT_FILE
        try:
            data = json.loads(vault_file.read_bytes()) if vault_file.exists() else {}
        except (OSError, ValueError):
            return  # the vault reports its own damage when it is opened
        # Only secrets older than a commit ever takes count: a first commit in flight (vault first, store a moment
        # later, maybe in another process) must not be mistaken for a lost store.
        limit = time.time() - PRUNE_AFTER
        entries = data.get("entries", {}) if isinstance(data.get("entries"), dict) else {}
        held = [
            ref
            for ref, entry in entries.items()
            if ref.startswith("secret:") and isinstance(entry, dict) and entry.get("at", 0) < limit
        ]
        if held:
            raise StorageError(
                f"{self.store.path} is missing, but {vault_file} holds {len(held)} secret(s) of its connections. "
                "Restore workbench.json from a backup; or, to start over with no connections (the vault's secrets "
                "are then pruned), run once with WORKBENCH_NEW_STORE=1"
            )

    def vault(self) -> Vault:
        """Opened on first use: listing connections never needs the vault (or its passphrase). Safe to call from
        several worker threads at once: the passphrase is asked for once."""
        with self._vault_lock:
            if self._vault is None:
                self._refuse_silent_reset()
                self._vault = open_vault(self.path, self._passphrase, prompt=self._prompt)
            return self._vault

    def _refuse_silent_reset(self) -> None:
        """A missing vault is created afresh only when nothing claims to have secrets in it: otherwise the
        connections would silently lose their secrets (and their certificates' keys)."""
        if (self.path / VAULT_FILE).exists() or os.environ.get("WORKBENCH_NEW_VAULT") == "1":
            return
        snapshot = self.store.snapshot()
        with_secrets = [c.name for c in snapshot.connections if c.secret_refs]
        if with_secrets or snapshot.certificates:
            parts = [f"{len(with_secrets)} connection(s)"] if with_secrets else []
            if snapshot.certificates:
                parts.append(f"{len(snapshot.certificates)} certificate(s)")
            what = " and ".join(parts)
            raise VaultError(
                f"{self.path / VAULT_FILE} is missing, but {what} keep their secrets in it. Restore it from a "
                "backup; or, to start over with an empty vault (every secret must then be set again, every "
                "certificate imported again), run once with WORKBENCH_NEW_VAULT=1"
            )

    def installation_id(self) -> str:
        """This installation's id (32 hex digits), made on first use and kept in the data directory. Automatic
        registration names its Entra app after it, so every connection of this installation to a tenant shares one
        app and a re-run never creates a second."""
        path = self.path / INSTALLATION_FILE
        data = read_private(path)
        if data is None:
            fresh = uuid.uuid4().hex
            temp = self.path / f".{INSTALLATION_FILE}.{fresh}"
            atomic_write(temp, fresh.encode("ascii"))
            try:
                os.link(temp, path)  # atomic: the first writer wins, nobody ever reads a half-written id
            except FileExistsError:
                pass
            finally:
                temp.unlink(missing_ok=True)
            data = read_private(path) or b""
        text = data.decode("ascii", "replace").strip()
        if len(text) != 32 or any(c not in "0123456789abcdef" for c in text):
            raise StorageError(
                f"{path} does not hold an installation id (32 hex digits). Restore it from a backup so that "
                "automatic registration keeps using the same Entra app; or delete it to start a new app"
            )
        return text

    def changeset(self) -> Changeset:
        return Changeset(self.store, self.vault)

    @property
    def certificates(self) -> CertificateStore:
        return CertificateStore(self.store, self.vault)


def prompt_on_loop(
    loop: asyncio.AbstractEventLoop, ask: Callable[[], Coroutine[Any, Any, Secret | None]], wait: float = PROMPT_WAIT
) -> Callable[[], Secret]:
    """A passphrase prompt for `Home` that worker threads may call while the question is asked on `loop` (a UI's
    dialog). Waits at most `wait` seconds; no answer, or a cancelled dialog, is a VaultError, never a hang."""
    import asyncio  # only a console asks this way: the CLI starts without the event loop's modules
    import concurrent.futures

    def prompt() -> Secret:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise VaultError("the vault passphrase must be asked for from a worker thread, not the UI's own loop")
        future: concurrent.futures.Future[Secret | None] = asyncio.run_coroutine_threadsafe(ask(), loop)
        try:
            answer = future.result(wait)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise VaultError(f"No vault passphrase was entered within {wait:g} s; nothing was unlocked") from None
        except concurrent.futures.CancelledError:
            raise VaultError("The vault passphrase prompt was cancelled; nothing was unlocked") from None
        if answer is None:
            raise VaultError("No vault passphrase was entered; nothing was unlocked")
        return answer

    return prompt
