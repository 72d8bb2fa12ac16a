"""Persistence: the connection store, the secret vault and the personal certificate store.

Imports nothing from the project but `workbench.model`.
"""

from .certstore import CertificateStore
from .changeset import Change, ChangeKind, Changeset, CommitResult, FieldChange
from .errors import (
    BusyError,
    CommitInProgressError,
    ConflictError,
    CorruptStoreError,
    InUseError,
    NameTakenError,
    NotFoundError,
    SchemaTooNewError,
    StorageError,
    UnsafeFileError,
    VaultError,
    WrongPassphraseError,
)
from .files import LOCK_WAIT
from .home import Home, default_home, prompt_on_loop
from .store import Snapshot, Store
from .vault import Backend, Vault, backend_of, open_vault, probe_keyring

__all__ = [
    "LOCK_WAIT",
    "Backend",
    "BusyError",
    "CertificateStore",
    "Change",
    "ChangeKind",
    "Changeset",
    "CommitInProgressError",
    "CommitResult",
    "ConflictError",
    "CorruptStoreError",
    "FieldChange",
    "Home",
    "InUseError",
    "NameTakenError",
    "NotFoundError",
    "SchemaTooNewError",
    "Snapshot",
    "StorageError",
    "Store",
    "UnsafeFileError",
    "Vault",
    "VaultError",
    "WrongPassphraseError",
    "backend_of",
    "default_home",
    "open_vault",
    "probe_keyring",
    "prompt_on_loop",
]
