"""Every field that takes a file path completes it with the right arrow, as the certificate import does: the CA
bundle of a custom cloud, of an on-premises server, and the "Trust a CA bundle" dialog."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, RadioButton, RadioSet, Select

from screens import WorkbenchApp
from screens.dialogs.common import PathModal
from storage import Home
from tests.ui import scenes
from tests.ui.conftest import until
from workbench import validate

Opener = Callable[[Pilot[Any]], Awaitable[Input]]


async def custom_cloud_ca_bundle(pilot: Pilot[Any]) -> Input:
    await pilot.press("n")
    await until(pilot, lambda: bool(pilot.app.screen.query("#cloud")))
    pilot.app.screen.query_one("#cloud", Select).value = "custom"
    await pilot.pause()
    return pilot.app.screen.query_one("#m365_ca_bundle", Input)


async def onprem_ca_bundle(pilot: Pilot[Any]) -> Input:
    await pilot.press("n")
    await until(pilot, lambda: bool(pilot.app.screen.query("#kind")))
    list(pilot.app.screen.query_one("#kind", RadioSet).query(RadioButton))[1].value = True
    await pilot.pause()
    await pilot.press("alt+n")
    await until(pilot, lambda: bool(pilot.app.screen.query("#trust")))
    list(pilot.app.screen.query_one("#trust", RadioSet).query(RadioButton))[1].value = True  # CA bundle
    await pilot.pause()
    return pilot.app.screen.query_one("#ca_bundle", Input)


async def trust_ca_bundle_dialog(pilot: Pilot[Any]) -> Input:
    pilot.app.push_screen(PathModal("Trust a CA bundle", "A PEM file.", validate.ca_bundle))
    await until(pilot, lambda: isinstance(pilot.app.screen, PathModal))
    return pilot.app.screen.query_one("#path", Input)


@pytest.mark.parametrize(
    "opener",
    [custom_cloud_ca_bundle, onprem_ca_bundle, trust_ca_bundle_dialog],
    ids=["custom-cloud", "onprem", "trust-dialog"],
)
async def test_right_arrow_completes_a_ca_bundle_path(tmp_path: Path, opener: Opener) -> None:
    folder = tmp_path / "pki"
    folder.mkdir()
    (folder / "internal-ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    app: WorkbenchApp = scenes.app(Home(tmp_path / "home"), new_id=lambda: "id-new")
    async with app.run_test(size=(100, 40)) as pilot:
        box = await opener(pilot)
        box.focus()
        await pilot.pause()
        box.insert_text_at_cursor(f"{folder}/")  # the folder as pasted: typing its 80 characters took 20 s
        await pilot.press(*"int")
        await until(pilot, lambda: box._suggestion != "", timeout=5)
        await pilot.press("right")
        await pilot.pause()
        assert box.value == f"{folder}/internal-ca.pem"
