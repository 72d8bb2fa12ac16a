"""The console under hostile text and a hostile terminal: server text with escape sequences in a fix's command,
a dialog on a terminal too small to show what it asks about, a 1 MB paste into a one-line field."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from textual.widgets import Button, Input, TextArea

from screens.troubleshoot import TroubleshootModal
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
        await until(pilot, lambda: getattr(app.screen, "live", None) is not None and not app.screen.live.running)
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
