"""Typed storage errors. Each message names the file and says what to do."""

from __future__ import annotations

from pathlib import Path


class StorageError(Exception):
    """Base class: something about the data directory or its files prevents the operation."""


class UnsafeFileError(StorageError):
    """A file or directory is a symlink, owned by someone else, or readable by others."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__(f"{path}: {problem}. {fix}")
        self.path = path
        self.problem = problem
        self.fix = fix


class CorruptStoreError(StorageError):
    """The store file cannot be read as a workbench store. The original is left in place and copied aside."""

    def __init__(self, path: Path, detail: str, backup: Path | None) -> None:
        where = f" A copy was saved as {backup}." if backup else ""
        super().__init__(
            f"{path} is not a valid workbench store: {detail}.{where} The file was not changed; fix it by hand, "
            "or move it away to start with an empty store."
        )
        self.path = path
        self.detail = detail
        self.backup = backup


class SchemaTooNewError(StorageError):
    def __init__(self, path: Path, found: int, supported: int) -> None:
        super().__init__(
            f"{path} was written by a newer workbench (schema {found}; this version reads up to {supported}). "
            "Upgrade the workbench; the file was not changed."
        )
        self.found = found


class BusyError(StorageError):
    """Another process has held the store's lock for longer than a save ever takes."""

    PERSISTS = "if this persists, look for a stopped workbench process."

    def __init__(self, path: Path, waited: float) -> None:
        self.what = f"Another workbench is saving to {path} (waited {waited:g} s for it); nothing was saved."
        super().__init__(f"{self.what} Try again; {self.PERSISTS}")
        self.path = path

    def retry_with(self, how: str) -> str:
        """The message with the front end's own way of trying again (`how`: "Press OK again in a moment")."""
        return f"{self.what} {how}; {self.PERSISTS}"


class CommitInProgressError(StorageError):
    """The pending changes are being saved: nothing can be changed until that has finished."""

    def __init__(self) -> None:
        super().__init__("The pending changes are being saved; wait until that has finished, then try again.")


class ConflictError(StorageError):
    """Someone else changed what this changeset was about to change."""


class NameTakenError(StorageError):
    def __init__(self, name: str) -> None:
        super().__init__(f"A connection named '{name}' already exists; names must be unique (ignoring case)")
        self.name = name


class NotFoundError(StorageError):
    pass


class InUseError(StorageError):
    pass


class VaultError(StorageError):
    """The secret vault cannot be opened or used."""


class WrongPassphraseError(VaultError):
    pass
