"""A check's troubleshooting panel, opened while the check still runs, shows its end when it ends: the problem,
its causes and fixes, and the action the workbench can take (it said "still running" until the panel was
closed and opened again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from textual.widgets import OptionList

from screens.dialogs.troubleshoot import TroubleshootModal
from screens.widgets.verification import VerificationPanel
from storage import Home
from tests.ui import scenes
from tests.ui.conftest import until
from workbench.checks import problems
from workbench.checks.engine import Confirm
from workbench.checks.events import Event, Finished, Outcome, Planned, Started, Status, Summary
from workbench.model import Connection
from workbench.verification import plan_for

LOCATE = "onprem.locate"


class GatedSource:
    """Autodiscover starts, then waits for the test to let it fail."""

    def __init__(self, connection: Connection, gate: asyncio.Event) -> None:
        self.connection = connection
        self.gate = gate

    async def events(self) -> AsyncIterator[Event]:
        yield Planned(checks=plan_for(self.connection).info())
        yield Started(check=LOCATE, title="Locate the server")
        await self.gate.wait()
        problem = problems.AUTODISCOVER_INTERNAL_ONLY.fill(
            server="EXCH01", ews_url="https://exch01.fabrikam.test/EWS/Exchange.asmx", host="exch01"
        )
        outcome = Outcome.failed("autodiscover found an internal URL only", problem)
        yield Finished(check=LOCATE, title="Locate the server", outcome=outcome, duration_ms=5)
        counts = dict.fromkeys(Status, 0) | {Status.FAILED: 1}
        yield Summary(status=Status.FAILED, counts=counts, duration_ms=5)

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> AsyncIterator[Event]:
        return self.events()

    def rerun_all(self, confirm: Confirm | None = None) -> AsyncIterator[Event]:
        return self.events()

    def cancel(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self.gate.set()


async def test_a_panel_opened_on_a_running_check_shows_its_problem_when_it_ends(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    with home.store.transaction() as txn:
        txn.put_connections([scenes.onprem("Fabrikam")])
    gate = asyncio.Event()
    app = scenes.app(home)
    app._source_factory = lambda connection, confirm: GatedSource(connection, gate)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")  # verify the selected connection
        await until(pilot, lambda: bool(app.screen.query(VerificationPanel)))
        panel: Any = app.screen.query_one(VerificationPanel)
        await until(pilot, lambda: LOCATE in panel.live.board.rows and panel.view.settled is False)
        while panel.view.selected_check() != LOCATE:
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TroubleshootModal))
        troubleshooting: Any = app.screen
        assert "still running" in str(troubleshooting.query_one("#what-happened").render())
        gate.set()
        await until(pilot, lambda: bool(troubleshooting.query("#fixes")))
        assert app.screen is troubleshooting
        assert "AUTODISCOVER" in str(troubleshooting.query_one(".dialog-title").render())
        assert "still running" not in str(troubleshooting.query_one("#what-happened").render())
        assert troubleshooting.focused is troubleshooting.query_one("#fixes", OptionList)
