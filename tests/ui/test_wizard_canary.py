"""A secret canary through both wizards: a client secret, an admin password and a PFX password no one else uses,
typed where an admin types them, through failing and passing verifications, the troubleshooting panel and OK.
Afterwards none of them is anywhere but in the encrypted vault: not in the data directory's other files, not in
a screenshot of any step, not in the captured output or the log, not in a snapshot."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from textual.pilot import Pilot

from screens.wizard import WizardScreen
from storage import Home
from tests.ui.conftest import until
from tests.ui.test_wizard import app_for, choose, paste, push, verified
from workbench.checks.events import Status
from workbench.lab import Lab

CANARY_SECRET = "Cnry~SecretValue-5b8d41e2c7a94f0e!"
CANARY_PASSWORD = "Cnry-AdminPassword-93c1f7aa"
CANARY_PFX = "Cnry-PfxPassword-2e6b0d55"
CANARIES = (CANARY_SECRET, CANARY_PASSWORD, CANARY_PFX)
SNAPSHOTS = Path(__file__).parent / "__snapshots__"


def pfx_with_canary_password(lab: Lab, folder: Path) -> Path:
    m = lab.state.m365
    key, cert, _ = pkcs12.load_key_and_certificates(
        Path(m.certificate_pfx).read_bytes(), m.certificate_password.encode()
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    path = folder / "canary.pfx"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"canary",
            key,
            cert,
            None,
            serialization.BestAvailableEncryption(CANARY_PFX.encode()),
        )
    )
    return path


async def shots(pilot: Pilot[Any], taken: list[str]) -> None:
    await pilot.pause()
    taken.append(pilot.app.export_screenshot())


@pytest.mark.kerberos
async def test_no_canary_outside_the_vault(
    home: Home,
    healthy_lab: Lab,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    pfx = pfx_with_canary_password(healthy_lab, tmp_path)
    taken: list[str] = []
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(120, 40)) as pilot:
        # Microsoft 365: a canary secret (the verification fails), then the canary-protected certificate (passes).
        await pilot.press("n", "ctrl+l", "alt+n")
        await choose(pilot, "#registration", 1)
        await pilot.press("alt+n", "ctrl+l")
        await paste(pilot, "#client_secret", CANARY_SECRET)
        await shots(pilot, taken)
        await pilot.press("alt+n")
        screen = await verified(pilot)
        assert screen.live.board["m365.credential"].status is Status.PASSED
        assert screen.live.board.summary is not None and screen.live.board.summary.failed
        await shots(pilot, taken)
        await pilot.press("enter")  # the troubleshooting panel of the failed check
        await shots(pilot, taken)
        await pilot.press("escape", "alt+b")
        await choose(pilot, "#credential", 1)
        await push(pilot, "#import")
        await paste(pilot, "#path", str(pfx))
        await paste(pilot, "#pfx-password", CANARY_PFX)
        await pilot.press("enter")
        dialog = pilot.app.screen
        await until(pilot, lambda: getattr(dialog, "loaded", None) is not None)
        await shots(pilot, taken)
        await pilot.press("enter", "alt+n")
        screen = await verified(pilot)
        assert screen.live.board.summary is not None and not screen.live.board.summary.failed
        await shots(pilot, taken)
        await pilot.press("alt+n", "ctrl+s")
        await pilot.pause()
        # On-premises: a canary password (fails), then the lab's (passes) — the canary was staged once, and dropped.
        await pilot.press("n")
        await choose(pilot, "#kind", 1)
        await pilot.press("alt+n", "ctrl+l", "alt+n", "ctrl+l")
        await paste(pilot, "#password", CANARY_PASSWORD)
        await shots(pilot, taken)
        await pilot.press("alt+n")
        screen = await verified(pilot)
        assert screen.live.board.summary is not None and screen.live.board.summary.failed
        await shots(pilot, taken)
        await pilot.press("alt+b", "ctrl+l", "alt+n")
        screen = await verified(pilot)
        assert screen.live.board.summary is not None and not screen.live.board.summary.failed
        await pilot.press("alt+n", "ctrl+s")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, WizardScreen) and not app.workspace.dirty
    assert len(home.store.snapshot().connections) == 2
    vault = home.path / "vault.json"
    files = [p for p in home.path.rglob("*") if p.is_file()]
    assert vault in files
    for path in files:
        data = path.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in data, f"{canary} in {path.name}"
    for shot in taken:
        assert not any(canary in shot for canary in CANARIES)
    out, err = capfd.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for canary in CANARIES:
        assert canary not in out and canary not in err and canary not in logged
    for svg in SNAPSHOTS.rglob("*.svg"):
        text = svg.read_text(encoding="utf-8")
        assert not any(canary in text for canary in CANARIES), svg.name
