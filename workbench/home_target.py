"""A connection's verification target as the data directory supplies it: secrets from the home's vault, certificate
keys from its certificate store — or, for a connection being edited and not saved yet, from the changeset that holds
them. Verifications, registrations and browsing all start from here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checks.target import SecretUnavailable, Target
from .model import CertificateInfo, Connection, Secret

if TYPE_CHECKING:
    from storage import Changeset, Home


def target_for(home: Home, connection: Connection, timeout: float = 20.0, staged: Changeset | None = None) -> Target:
    """A target whose secrets come from the home's vault and whose keys come from its certificate store — or,
    for a connection being edited and not saved yet, from what the changeset holds for it."""

    from storage import NotFoundError, StorageError

    def secret(ref: str) -> Secret | None:
        held = staged.staged_secret(ref) if staged is not None else None
        if held is not None:
            return held
        try:
            return home.vault().get(ref)
        except StorageError as error:
            raise SecretUnavailable(str(error)) from None

    def certificate(thumbprint: str) -> tuple[CertificateInfo, Secret] | None:
        held = staged.staged_certificate(thumbprint) if staged is not None else None
        if held is not None:
            return held
        store = home.certificates
        try:
            info = store.get(thumbprint)
            return info, store.private_key(thumbprint)
        except NotFoundError:
            return None
        except StorageError as error:
            raise SecretUnavailable(str(error)) from None

    return Target(connection, secret, certificate, timeout)
