"""The console under hostile text and a hostile terminal: server text with escape sequences in a fix's command,
a dialog on a terminal too small to show what it asks about, a 1 MB paste into a one-line field."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from textual import events
from textual.widgets import Button, DataTable, Input, TextArea

from screens.dialogs.common import ConfirmModal, SecretInput
from screens.dialogs.troubleshoot import TroubleshootModal
from screens.pages.fleet import FleetScreen
from screens.pages.manager import ManagerScreen
from screens.widgets.inputs import MAX_LINE, LineInput
from screens.wizard.browse import BrowseModal
from storage import Home
from tests.ui import scenes
from tests.ui.conftest import until
from tests.ui.test_wizard_snapshots import credentials_filled
from workbench.browse import Admin, Directory
from workbench.checks import problems
from workbench.checks.events import Event, Finished, Outcome, Planned, Status, Summary
from workbench.model import Connection
from workbench.verification import plan_for

# What a hostile autodiscover answer may name as its server: a colour change, a clear-screen and an OSC 52 that
# would put `rm -rf ~` on the admin's clipboard.
HOSTILE_SERVER = "EXCH01\x1b[31m\x1b[2J\x1b]52;c;" + base64.b64encode(b"rm -rf ~").decode() + "\x07"


def internal_only_script(connection: Connection) -> list[Event]:
    """Autodiscover found the server, but its answer (a hostile one) names the server with escape sequences: the
    PowerShell fix quotes it for the shell, control characters included."""
    plan = plan_for(connection)
    ews_url = "https://exch01.fabrikam.test/EWS/Exchange.asmx"
    problem = problems.AUTODISCOVER_INTERNAL_ONLY.fill(server=HOSTILE_SERVER, ews_url=ews_url, host="exch01")
    events: list[Event] = [Planned(checks=plan.info())]
    events.append(
        Finished(
            check="onprem.locate",
            title="Locate the server",
            outcome=Outcome.failed("autodiscover found an internal URL only", problem),
            duration_ms=5,
        )
    )
    counts = dict.fromkeys(Status, 0) | {Status.FAILED: 1}
    events.append(Summary(status=Status.FAILED, counts=counts, duration_ms=5))
    return events


def front(app: Any) -> Any:
    return app.screen


def one_onprem(path: Path) -> Home:
    home = Home(path)
    with home.store.transaction() as txn:
        txn.put_connections([scenes.onprem("Fabrikam")])
    return home


async def test_a_fix_command_with_escape_sequences_is_shown_and_copied_with_them_visible(tmp_path: Path) -> None:
    app = scenes.app(one_onprem(tmp_path / "home"), scripts={"Fabrikam": internal_only_script})
    written: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        app._driver.write = written.append  # type: ignore[union-attr,method-assign]
        await pilot.press("enter")  # verify the selected connection
        await until(pilot, lambda: getattr(app.screen, "live", None) is not None and not front(app).live.running)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TroubleshootModal))
        panel: Any = app.screen
        shown = panel.query_one("#fix-command", TextArea).text
        assert "\x1b" not in shown and "\x07" not in shown
        assert "EXCH01\\x1b[31m\\x1b[2J\\x1b]52;c;" in shown  # what the server sent, readable
        await pilot.press("c")
        await pilot.pause()
    copies = [w for w in written if w.startswith("\x1b]52;c;")]
    assert copies, "c copied nothing"
    copied = base64.b64decode(copies[-1].removeprefix("\x1b]52;c;").removesuffix("\a")).decode()
    assert copied == shown  # the clipboard gets exactly what is shown: no escape sequence to replay on paste


async def hostile_directory(connection: Connection) -> Directory:
    return Directory(
        admins=(Admin("evil", "Evil \x1b[2J admin", "ev\x1b[31mil\x1b]52;c;eA==\x07@fabrikam.com", True),),
        accepted_domains=("fabrikam.com",),
    )


async def test_a_upn_picked_from_a_hostile_directory_reaches_its_field_with_escapes_visible(tmp_path: Path) -> None:
    app = scenes.app(Home(tmp_path / "home"), browser=hostile_directory, new_id=lambda: "id-new")
    async with app.run_test(size=(100, 30)) as pilot:
        await credentials_filled(pilot)
        button = app.screen.query_one("#browse", Button)
        button.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BrowseModal) and app.screen.directory is not None)
        await pilot.press("enter")  # picks the (only) admin
        await until(pilot, lambda: not isinstance(app.screen, BrowseModal))
        value = app.screen.query_one("#admin_upn", Input).value
    assert "\x1b" not in value and "\x07" not in value
    assert value == "ev\\x1b[31mil\\x1b]52;c;eA==\\x07@fabrikam.com"  # what the server sent, readable


# ---------------------------------------------------------------------- a 1 MB paste into a one-line field

MEGABYTE = 1_000_000


def hostile_paste(first_line: str) -> str:
    """1 MB: `first_line`, then lines of escape sequences (a clear-screen, a colour, an OSC 52)."""
    junk = "\x1b[2J\x1b[31mjunk\x1b]52;c;eA==\x07\r\n"
    return (first_line + "\n" + junk * (MEGABYTE // len(junk)))[:MEGABYTE]


async def paste(pilot: Any, text: str) -> None:
    focused = pilot.app.focused
    assert focused is not None
    focused.post_message(events.Paste(text))
    await pilot.pause()
    await pilot.pause()


async def open_filter(pilot: Any) -> Any:
    await pilot.press("m")
    await until(pilot, lambda: isinstance(pilot.app.screen, ManagerScreen))
    await pilot.press("slash")
    await pilot.pause()
    return pilot.app.screen


async def test_a_1_mb_paste_into_the_manager_filter_keeps_its_first_line_bounded_and_visible() -> None:
    app = scenes.app(scenes.mixed_home())
    async with app.run_test(size=(80, 24)) as pilot:
        manager = await open_filter(pilot)
        box = manager.query_one("#filter", Input)
        table = manager.query_one("#manager", DataTable)
        await paste(pilot, hostile_paste("contoso"))  # the first line is a word, the rest is junk
        assert box.value == "contoso"
        assert table.row_count == 2  # Contoso (certificate), Contoso (mistyped secret)
        box.value = ""
        await paste(pilot, ("fabrikam\x1b[31m" * MEGABYTE)[:MEGABYTE] + "\nsecond line")  # one huge first line
        await pilot.pause()
        assert "\n" not in box.value and "\x1b" not in box.value
        assert box.value.startswith("fabrikam\\x1b[31mfabrikam") and len(box.value) <= MAX_LINE
        assert table.row_count == 0  # nothing is named like that
        notes = [str(n.message) for n in app._notifications]
        assert any("first line" in note and "cut to fit" in note for note in notes), notes


async def test_a_paste_into_a_full_field_keeps_the_field_within_its_limit(tmp_path: Path) -> None:
    app = scenes.app(scenes.mixed_home())
    async with app.run_test(size=(80, 24)) as pilot:
        manager = await open_filter(pilot)
        box = manager.query_one("#filter", Input)
        box.value = "x" * (MAX_LINE - 3)
        box.cursor_position = 2
        await paste(pilot, "abcdef")
        assert box.value == "xxabc" + "x" * (MAX_LINE - 5) and box.cursor_position == 5


async def test_filter_changes_in_one_frame_redraw_the_manager_table_once() -> None:
    app = scenes.app(scenes.mixed_home())
    async with app.run_test(size=(80, 24)) as pilot:
        manager = await open_filter(pilot)
        redraws: list[str] = []
        original = manager.redraw

        def counted() -> None:
            redraws.append(manager.query_one("#filter", Input).value)
            original()

        manager.redraw = counted
        box = manager.query_one("#filter", Input)
        for typed in ("c", "co", "con", "cont", "conto", "contos", "contoso"):  # faster than a frame
            box.value = typed
        await pilot.pause()
        await pilot.pause()
        assert redraws == ["contoso"]
        assert manager.query_one("#manager", DataTable).row_count == 2


def test_every_text_field_of_the_console_is_a_line_input() -> None:
    """A field made as Textual's own Input would take a 1 MB paste whole again: none is."""
    import ast

    root = Path(__file__).resolve().parents[2] / "screens"
    made = []
    for source in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name == "Input":
                    made.append(f"{source.relative_to(root)}:{node.lineno}")
    assert not made, f"a text field that is not a LineInput: {made}"
    assert issubclass(SecretInput, LineInput)


async def test_filter_changes_in_one_frame_redraw_the_fleet_table_once() -> None:
    app = scenes.app(scenes.mixed_home())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")  # verify all: the fleet
        await until(pilot, lambda: isinstance(app.screen, FleetScreen) and not front(app).running)
        fleet: Any = app.screen
        redraws: list[str] = []
        original = fleet.redraw

        def counted() -> None:
            redraws.append(fleet.filter)
            original()

        fleet.redraw = counted
        for _ in range(3):  # all, failed, warning, passed: key repeat, faster than a frame
            fleet.action_cycle_filter()
        await pilot.pause()
        await pilot.pause()
        assert redraws == ["passed"]
        passed = [c for c in fleet.connections if fleet.state_of(c) == "passed"]
        assert fleet.query_one("#fleet", DataTable).row_count == len(passed)


# ---------------------------------------------------------------------- a terminal too small for the question

FINGERPRINT = "6E15CA4915CC599AC6CFF3B8F9D3D912B6D6A818B0A383B2AA9137BADE2C9911"


def untrusted_script(connection: Connection) -> list[Event]:
    """The server's certificate is self-signed: the TLS check fails and offers to pin it."""
    problem = problems.TLS_UNTRUSTED.fill(fingerprint=FINGERPRINT, host="exch01.fabrikam.com")
    events: list[Event] = [Planned(checks=plan_for(connection).info())]
    outcome = Outcome.failed("self-signed certificate: issued to CN=exch01 by CN=exch01", problem)
    events.append(Finished(check="onprem.tls", title="TLS and certificate", outcome=outcome, duration_ms=5))
    events.append(Summary(status=Status.FAILED, counts=dict.fromkeys(Status, 0) | {Status.FAILED: 1}, duration_ms=5))
    return events


def notes_of(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_the_trust_dialog_refuses_to_pin_while_the_terminal_cannot_show_the_fingerprint(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    with home.store.transaction() as txn:
        txn.put_connections([scenes.onprem("Fabrikam", "exch01.fabrikam.com")])
    app = scenes.app(home, scripts={"Fabrikam": untrusted_script})
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.press("enter")  # verify it
        await until(pilot, lambda: getattr(app.screen, "live", None) is not None and not front(app).live.running)
        await pilot.press("enter", "a")  # its panel, then the workbench's own fix: trust this certificate
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        dialog = app.screen
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is dialog and not app.workspace.dirty  # nothing pinned
        assert any("too small" in note for note in notes_of(app)), notes_of(app)
        await pilot.resize_terminal(100, 30)  # now the fingerprint and the buttons show: the answer counts
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: app.workspace.dirty)
        assert app.screen is not dialog


async def test_quit_with_pending_changes_is_not_answered_yes_on_a_tiny_terminal_but_escape_stays(
    tmp_path: Path,
) -> None:
    app = scenes.app(scenes.mixed_home())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "delete")  # one pending change
        await until(pilot, lambda: app.workspace.dirty)
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        dialog = app.screen
        await pilot.press("y")
        await pilot.pause()
        assert app.is_running and app.screen is dialog and app.workspace.dirty
        assert any("too small" in note for note in notes_of(app)), notes_of(app)
        await pilot.press("escape")  # the safe answer changes nothing: it always works
        await until(pilot, lambda: app.screen is not dialog)
        assert app.is_running and app.workspace.dirty


async def test_deleting_an_app_in_the_tenant_is_refused_while_the_dialog_is_cut(tmp_path: Path) -> None:
    import dataclasses

    from screens.dialogs.app_cleanup import AppCleanupModal
    from workbench.model import AppRegistration, M365Settings

    connection = scenes.m365("Contoso (automatic)")
    registration = AppRegistration(app_object_id="0f3b2c1d-4e5a-46b7-8899-00aabbccddee", unique_name="ExchWb-0f3b")
    assert isinstance(connection.settings, M365Settings)
    settings = dataclasses.replace(connection.settings, app_registration=registration)
    app = scenes.app(Home(tmp_path / "home"))
    async with app.run_test(size=(40, 10)) as pilot:
        modal = AppCleanupModal(dataclasses.replace(connection, settings=settings), timeout=5.0)
        app.push_screen(modal)
        await until(pilot, lambda: app.screen is modal)
        await pilot.press("d")
        await pilot.pause()
        assert modal.state == "asking"  # nobody was asked to sign in, nothing was deleted
        assert any("too small" in note for note in notes_of(app)), notes_of(app)
