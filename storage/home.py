"""A data directory: the store, the vault and the certificate store of one workbench installation."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from workbench.model import Secret

from .certstore import CertificateStore
from .changeset import Changeset
from .files import ensure_private_dir
from .store import Store
from .vault import Vault, open_vault

APP_DIR = "exchange-workbench"


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

    def vault(self) -> Vault:
        """Opened on first use: listing connections never needs the vault (or its passphrase)."""
        if self._vault is None:
            self._vault = open_vault(self.path, self._passphrase, prompt=self._prompt)
        return self._vault

    def changeset(self) -> Changeset:
        return Changeset(self.store, self.vault)

    @property
    def certificates(self) -> CertificateStore:
        return CertificateStore(self.store, self.vault)
