"""OK in the manager and a certificate imported by hand that the deletions left unused (issue 19, item 6): it is
offered for removal, never removed silently; Remove takes it and its key out of the store, Keep leaves it for
Choose certificate…; one another connection uses is not offered at all."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from screens.dialogs.common import ConfirmModal
from storage import Home
from tests.factories import CLIENT, PFX_PASSWORD, TENANT
from tests.ui.conftest import stamp, until
from tests.ui.test_wizard import app_for
from tests.ui.test_wizard_registration import text_of
from workbench import certificates
from workbench.drafts import M365Draft
from workbench.model import CertificateCredential, CertificateInfo, Connection, Secret


def with_imported_certificate(home: Home, cert_files: dict[str, Path], *names: str) -> CertificateInfo:
    """Manual connections, one per name, all signing in with one certificate imported from a PFX file."""
    loaded = certificates.load_file(cert_files["pfx"], Secret(PFX_PASSWORD), stamp("x").now)
    info, _ = home.certificates.add(loaded.info, loaded.key_pem)
    changes = home.changeset()
    for name in names:
        connection: Connection = M365Draft(
            tenant_id=TENANT, client_id=CLIENT, app_account=f"{name}@contoso.com", name=name
        ).build(CertificateCredential(thumbprint=info.thumbprint, sha256=info.sha256), stamp(name))
        changes.add(connection)
    changes.commit()
    return info


async def test_an_imported_certificate_left_unused_is_offered_and_removed_on_remove(
    home: Home, cert_files: dict[str, Path]
) -> None:
    info = with_imported_certificate(home, cert_files, "solo")
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "delete", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert home.certificates.list() == (info,)  # not before the admin says so
        assert "no connection uses" in text_of(app, ".dialog-question").casefold()
        details = str(app.screen.query_one(".dialog-details Static", Static).render())
        assert info.thumbprint in details and info.subject in details
        await pilot.press("y")
        await until(pilot, lambda: home.certificates.list() == ())
        await pilot.pause()
    assert not home.store.snapshot().connections
    assert home.vault().refs() == set()


async def test_keep_leaves_an_imported_certificate_for_choose_certificate(
    home: Home, cert_files: dict[str, Path]
) -> None:
    info = with_imported_certificate(home, cert_files, "solo")
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "delete", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        assert [c.thumbprint for c in app.workspace.certificates()] == [info.thumbprint]
    assert home.certificates.list() == (info,)
    assert home.vault().refs() == {f"cert-key:{info.thumbprint}"}


async def test_a_certificate_another_connection_uses_is_not_offered(home: Home, cert_files: dict[str, Path]) -> None:
    info = with_imported_certificate(home, cert_files, "first", "second")
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "delete", "ctrl+s")
        await until(pilot, lambda: len(home.store.snapshot().connections) == 1)
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
    assert home.certificates.list() == (info,)
