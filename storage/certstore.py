"""The personal certificate store: certificates (public part) in the store file, private keys in the vault."""

from __future__ import annotations

from collections.abc import Callable

from workbench.model import CertificateCredential, CertificateInfo, M365Settings, Secret

from .errors import InUseError, VaultError
from .store import Store
from .vault import Vault


def key_ref(thumbprint: str) -> str:
    return f"cert-key:{thumbprint}"


class CertificateStore:
    def __init__(self, store: Store, vault_opener: Callable[[], Vault]) -> None:
        self._store = store
        self._open_vault = vault_opener

    def list(self) -> tuple[CertificateInfo, ...]:
        return self._store.snapshot().certificates

    def get(self, thumbprint: str) -> CertificateInfo:
        return self._store.snapshot().certificate(thumbprint)

    def add(self, info: CertificateInfo, key_pem: Secret) -> tuple[CertificateInfo, bool]:
        """Store a certificate and its key. Returns the stored record and whether it was new (importing the same
        certificate twice keeps the first record)."""
        snapshot = self._store.snapshot()
        existing = next((c for c in snapshot.certificates if c.thumbprint == info.thumbprint), None)
        if existing is not None:
            return existing, False
        vault = self._open_vault()
        vault.put_many({key_ref(info.thumbprint): key_pem})
        try:
            with self._store.transaction() as txn:
                txn.put_certificate(info)
        except BaseException:
            vault.delete_many([key_ref(info.thumbprint)])
            raise
        return info, True

    def private_key(self, thumbprint: str) -> Secret:
        info = self.get(thumbprint)
        key = self._open_vault().get(key_ref(info.thumbprint))
        if key is None:
            raise VaultError(
                f"The private key of certificate {info.thumbprint} is missing from the vault; import the "
                "certificate again"
            )
        return key

    def remove(self, thumbprint: str) -> CertificateInfo:
        with self._store.transaction() as txn:
            snapshot = txn.before
            info = snapshot.certificate(thumbprint)
            users = [
                c.name
                for c in snapshot.connections
                if isinstance(c.settings, M365Settings)
                and isinstance(c.settings.credential, CertificateCredential)
                and c.settings.credential.thumbprint == info.thumbprint
            ]
            if users:
                raise InUseError(
                    f"Certificate {info.thumbprint} is used by {', '.join(users)}; change or remove those "
                    "connections first"
                )
            txn.remove_certificate(info.thumbprint)
        self._open_vault().delete_many([key_ref(info.thumbprint)])
        return info
