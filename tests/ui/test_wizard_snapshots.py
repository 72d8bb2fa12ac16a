"""The wizard as the admin sees it, at 80x24 and 120x40: every step empty, with invalid values and filled; the
certificate import dialog; the Browse picker; the Configuration step mid-stream and finished; automatic
registration's Application registration, Sign in, Plan and Apply states. Scripted sources
and a fixed certificate file keep every picture the same on every machine (review `snapshot_report.html`
before `--snapshot-update`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, RadioButton, RadioSet

from tests.ui import scenes
from tests.ui.conftest import until
from workbench.browse import Admin, Directory
from workbench.model import Connection

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
FIXTURE_PFX = Path(__file__).parent / "fixtures" / "snapshot-app.pfx"  # password "snapshot", valid 2026-2031

Steps = Callable[[Pilot[Any]], Awaitable[None]]


async def put(pilot: Pilot[Any], selector: str, text: str) -> None:
    box = pilot.app.screen.query_one(selector, Input)
    box.focus()
    box.value = text
    await pilot.pause()


async def pick(pilot: Pilot[Any], radios: str, index: int) -> None:
    list(pilot.app.screen.query_one(radios, RadioSet).query(RadioButton))[index].value = True
    await pilot.pause()


async def directory(connection: Connection) -> Directory:
    return Directory(
        admins=(
            Admin("Administrator", "Administrator", "administrator@fabrikam.com", True),
            Admin("exadmin", "Exchange Admin", "exadmin@fabrikam.com", True),
            Admin("svc-sync", "Directory Sync [svc]", "", False),
        ),
        accepted_domains=("fabrikam.com", "fabrikam-mail.com"),
    )


async def location(pilot: Pilot[Any]) -> None:
    await pilot.press("n")


async def location_invalid(pilot: Pilot[Any]) -> None:
    await pilot.press("n")
    select = pilot.app.screen.query_one("#cloud")
    select.value = "custom"  # type: ignore[attr-defined]
    await pilot.pause()
    await put(pilot, "#authority_host", "http://login.contoso.test")
    await put(pilot, "#graph_url", "graph.contoso.test")
    await put(pilot, "#m365_ews_url", "https://user:pw@outlook.contoso.test/EWS/Exchange.asmx")


async def location_filled(pilot: Pilot[Any]) -> None:
    await pilot.press("n")
    select = pilot.app.screen.query_one("#cloud")
    select.value = "usgov-high"  # type: ignore[attr-defined]
    await pilot.pause()


async def application(pilot: Pilot[Any]) -> None:
    await pilot.press("n", "alt+n")
    await pick(pilot, "#registration", 1)
    await pilot.press("alt+n")


async def application_invalid(pilot: Pilot[Any]) -> None:
    await application(pilot)
    await put(pilot, "#app_account", "CONTOSO\\backup")
    await put(pilot, "#client_id", "[b]not-a-guid[/b]")
    await put(pilot, "#tenant_id", "contoso.onmicrosoft.com")
    await put(pilot, "#client_secret", "6f1a2b3c-1111-2222-3333-444455556666")


async def application_filled(pilot: Pilot[Any]) -> None:
    await application(pilot)
    await put(pilot, "#app_account", "backup@contoso.com")
    await put(pilot, "#client_id", scenes.CLIENT)
    await put(pilot, "#tenant_id", scenes.TENANT)
    await put(pilot, "#client_secret", "Xy8Q~not.a.real.secret.but.long.enough")


async def server(pilot: Pilot[Any]) -> None:
    await pilot.press("n")
    await pick(pilot, "#kind", 1)
    await pilot.press("alt+n")


async def server_invalid(pilot: Pilot[Any]) -> None:
    await server(pilot)
    await pick(pilot, "#discovery", 1)
    await put(pilot, "#server", "mail..fabrikam.com:99999")
    await put(pilot, "#dns_servers", "dns.fabrikam.com")


async def server_filled(pilot: Pilot[Any]) -> None:
    await server(pilot)
    await pick(pilot, "#discovery", 1)
    await put(pilot, "#server", "127.0.0.1")


async def credentials(pilot: Pilot[Any]) -> None:
    await server(pilot)
    await pick(pilot, "#discovery", 1)
    await put(pilot, "#server", "exch01.fabrikam.com")
    await pilot.press("alt+n")


async def credentials_invalid(pilot: Pilot[Any]) -> None:
    await credentials(pilot)
    await put(pilot, "#admin_upn", "FABRIKAM\\administrator")
    await put(pilot, "#password", "one\x1b[2Jtwo")


async def credentials_filled(pilot: Pilot[Any]) -> None:
    await credentials(pilot)
    await put(pilot, "#admin_upn", "administrator@fabrikam.com")
    await put(pilot, "#password", "not-the-real-one")


async def import_dialog(pilot: Pilot[Any]) -> None:
    pfx = scenes.fixed_copy(FIXTURE_PFX, "certs/snapshot-app.pfx")  # a fixed path: it shows in the dialog
    await application(pilot)
    await pick(pilot, "#credential", 1)
    button = pilot.app.screen.query_one("#import", Button)
    button.focus()
    await pilot.press("enter")
    await pilot.pause()
    await put(pilot, "#path", str(pfx))
    await put(pilot, "#pfx-password", "snapshot")
    await pilot.press("enter")
    await until(pilot, lambda: getattr(pilot.app.screen, "loaded", None) is not None)


async def browse_picker(pilot: Pilot[Any]) -> None:
    await credentials_filled(pilot)
    button = pilot.app.screen.query_one("#browse", Button)
    button.focus()
    await pilot.press("enter")
    await scenes.settle(pilot)


async def configuration_finished(pilot: Pilot[Any]) -> None:
    await application_filled(pilot)
    await pilot.press("alt+n")
    await scenes.settle(pilot)
    await until(pilot, lambda: scenes.wizard_run_shown(pilot.app.screen))


async def configuration_streaming(pilot: Pilot[Any]) -> None:
    await credentials_filled(pilot)
    await pilot.press("alt+n")
    await scenes.settle(pilot)


SCENES: dict[str, tuple[Steps, bool]] = {
    "location-empty": (location, False),
    "location-invalid": (location_invalid, False),
    "location-filled": (location_filled, False),
    "application-empty": (application, False),
    "application-invalid": (application_invalid, False),
    "application-filled": (application_filled, False),
    "server-empty": (server, False),
    "server-invalid": (server_invalid, False),
    "server-filled-ip": (server_filled, False),
    "credentials-empty": (credentials, False),
    "credentials-invalid": (credentials_invalid, False),
    "credentials-filled": (credentials_filled, False),
    "import-dialog": (import_dialog, False),
    "browse-picker": (browse_picker, False),
    "configuration-streaming": (configuration_streaming, True),
    "configuration-finished": (configuration_finished, False),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scene", list(SCENES))
def test_wizard(snap_compare: Any, scene: str, size: tuple[int, int]) -> None:
    steps, hold = SCENES[scene]
    app = scenes.app(scenes.fresh_home(), browser=directory, new_id=lambda: "id-new", hold=hold)

    async def before(pilot: Pilot[Any]) -> None:
        await steps(pilot)
        await scenes.settle(pilot)
        # Each picture shows its step from the top (where focus scrolled it to depends on layout timing).
        for pane in pilot.app.screen.query("StepPane"):
            if pane.display:
                pane.scroll_home(animate=False, immediate=True)
        await scenes.settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)


# ---------------------------------------------------------------------- automatic registration


async def registration(pilot: Pilot[Any]) -> None:
    await pilot.press("n", "alt+n")
    await put(pilot, "#reg-app-account", "backup@contoso.com")


async def registration_manual(pilot: Pilot[Any]) -> None:
    await pilot.press("n", "alt+n")
    await pick(pilot, "#registration", 1)


async def sign_in(pilot: Pilot[Any]) -> None:
    await registration(pilot)
    await pilot.press("alt+n")
    await scenes.settle(pilot)


async def plan(pilot: Pilot[Any]) -> None:
    await sign_in(pilot)
    await pilot.press("alt+n")
    await scenes.settle(pilot)


async def apply(pilot: Pilot[Any]) -> None:
    await plan(pilot)
    await pilot.press("alt+n")
    await scenes.settle(pilot)
    await until(pilot, lambda: scenes.wizard_run_shown(pilot.app.screen))


# name -> (steps, how the scripted admin signs in, whether the run stops mid-stream)
REGISTRATION_SCENES: dict[str, tuple[Steps, str, bool]] = {
    "registration-automatic": (registration, "admin", False),
    "registration-manual": (registration_manual, "admin", False),
    "sign-in-waiting": (sign_in, "hold", False),
    "sign-in-signed-in": (sign_in, "admin", False),
    "sign-in-not-admin": (sign_in, "not-admin", False),
    "plan": (plan, "admin", False),
    "apply-streaming": (apply, "admin", True),
    "apply-finished": (apply, "admin", False),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scene", list(REGISTRATION_SCENES))
def test_registration(snap_compare: Any, scene: str, size: tuple[int, int]) -> None:
    steps, outcome, hold = REGISTRATION_SCENES[scene]
    app = scenes.app(
        scenes.fresh_home(),
        new_id=lambda: "id-new",
        hold=hold,
        registrar=scenes.registrar(outcome),
        scripts={"contoso.com": lambda connection: scenes.applying_script(connection, finished=not hold)},
    )

    async def before(pilot: Pilot[Any]) -> None:
        await steps(pilot)
        await scenes.settle(pilot)
        for pane in pilot.app.screen.query("StepPane"):
            if pane.display:
                pane.scroll_home(animate=False, immediate=True)
        await scenes.settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=before)
