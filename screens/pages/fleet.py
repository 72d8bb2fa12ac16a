"""The fleet view: every connection verified at once (bounded, as `verify --all`), a live row each, a summary
line, a filter by status; enter opens one connection's verification."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from workbench.checks.events import Status
from workbench.model import Connection
from workbench.verification import MAX_PARALLEL

from ..chrome import WorkbenchScreen
from ..render.literal import literal
from ..render.status import duration, mark
from ..state.live import BoardChanged, LiveVerification, Pace
from ..widgets.tables import selected_key, set_column_width

NAME_WIDTH = 24
FILTERS = ("all", "failed", "warning", "passed", "running")
PACE = 0.2  # seconds: the least time between two redraws while verifications report


class FleetScreen(WorkbenchScreen):
    filter: reactive[str] = reactive("all", init=False, repaint=False)
    """Which rows show: all, or those in one state (`FILTERS`)."""

    TRAIL = "Dashboard › Verify all connections"
    HELP_TEXT = (
        f"Every connection verified at once, {MAX_PARALLEL} at a time. Rows update as checks finish; f cycles the "
        "filter (all, failed, warning, passed, running); enter opens the selected connection's verification, "
        "where each check can be troubleshot. escape cancels what still runs; pressed again, it goes back."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="fleet.open", show=True),
        Binding(
            "f", "cycle_filter", "Filter", id="fleet.filter", tooltip="Show all, failed, warning, passed or running"
        ),
        Binding("escape", "cancel_or_back", "Cancel/back", id="fleet.back"),
    ]

    def __init__(self, connections: list[Connection]) -> None:
        super().__init__()
        self.connections = connections
        self.lives: dict[str, LiveVerification] = {}
        self._cancelled = False
        self._redraw_queued = False

    def body(self) -> ComposeResult:
        yield Static(id="fleet-summary")
        table: DataTable[Text] = DataTable(id="fleet", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#fleet", DataTable)
        table.add_column("St", key="status", width=11)
        table.add_column("Connection", key="name", width=NAME_WIDTH)
        table.add_column("Checks", key="checks", width=8)
        table.add_column("Time", key="time", width=7)
        table.add_column("First problem", key="problem", width=self._problem_width())
        self._pace = Pace(self, self.redraw, PACE)
        self.redraw()
        table.focus()
        self._verify_all()

    def _problem_width(self) -> int:
        return max(16, (self.size.width or 80) - 11 - NAME_WIDTH - 8 - 7 - 12)

    def on_resize(self) -> None:
        table = self.query_one("#fleet", DataTable)
        if set_column_width(table, "problem", self._problem_width()):
            table.refresh()

    @work(exclusive=True, group="fleet", exit_on_error=False)
    async def _verify_all(self) -> None:
        slots = asyncio.Semaphore(MAX_PARALLEL)

        async def one(connection: Connection) -> None:
            async with slots:
                if self._cancelled:
                    return
                live = self.workbench.verify(connection, owner=self)  # the fleet's: they end with it
                live.listen(self)
                self.lives[connection.id] = live
                self._pace()
                await live.wait()

        await asyncio.gather(*(one(c) for c in self.connections))
        self._pace()

    def state_of(self, connection: Connection) -> str:
        live = self.lives.get(connection.id)
        if live is None:
            return "cancelled" if self._cancelled else "queued"
        if live.running:
            return "running"
        overall = live.board.overall()
        return overall.value if overall is not None else "running"

    @on(BoardChanged)
    def _board_changed(self) -> None:
        """A verification reported: the rows follow at the fleet's pace; a finished fleet costs nothing."""
        self._pace()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self._pace()

    def redraw(self) -> None:
        super().redraw()
        table = self.query_one("#fleet", DataTable)
        selected = selected_key(table)
        wanted = [c for c in self.connections if self.filter == "all" or self.state_of(c) == self.filter]
        if [str(k.value) for k in table.rows] != [c.id for c in wanted]:
            table.clear()
            for connection in wanted:
                table.add_row(*self._cells(connection), key=connection.id)
            if selected is not None and selected in table.rows:
                table.move_cursor(row=table.get_row_index(selected), animate=False)
        else:
            for connection in wanted:
                for column, cell in zip(
                    ("status", "name", "checks", "time", "problem"), self._cells(connection), strict=True
                ):
                    table.update_cell(connection.id, column, cell)
        self._summary()

    def _cells(self, connection: Connection) -> list[Text]:
        state = self.state_of(connection)
        live = self.lives.get(connection.id)
        checks, took, problem = Text(""), Text(""), Text("")
        if live is not None:
            board = live.board
            counts = board.counts()
            checks = Text(f"{counts[Status.PASSED] + counts[Status.WARNING]}/{len(board)}", justify="right")
            if board.summary is not None:
                took = Text(duration(board.summary.duration_ms), justify="right")
            for row in board:
                found = row.result.outcome.problem if row.result is not None else None
                if found is not None and row.status is Status.FAILED:
                    problem = literal(f"{found.code}: {row.title}", self._problem_width(), "red")
                    break
        if state == "queued":
            cell = Text("· queued", style="dim")
        elif state == "running":
            cell = Text("⟳ running", style="cyan")
        else:
            cell = mark(state, word=True)
        return [cell, literal(connection.name, NAME_WIDTH), checks, took, problem]

    def _summary(self) -> None:
        states = [self.state_of(c) for c in self.connections]
        text = Text(" ")
        text.append(f"{len(states)} connections", style="bold")
        for state in ("passed", "warning", "failed", "cancelled", "running", "queued"):
            count = states.count(state)
            if count:
                text.append(" · ")
                if state not in ("running", "queued"):
                    text.append_text(mark(state))
                    text.append(" ")
                text.append(f"{count} {state}")
        text.append(f"   filter: {self.filter} (f)", style="dim")
        self.query_one("#fleet-summary", Static).update(text)

    def action_cycle_filter(self) -> None:
        self.filter = FILTERS[(FILTERS.index(self.filter) + 1) % len(FILTERS)]

    def watch_filter(self) -> None:
        if not self._redraw_queued:  # once per frame, however fast the key repeats
            self._redraw_queued = True
            self.call_after_refresh(self._queued_redraw)

    def _queued_redraw(self) -> None:
        self._redraw_queued = False
        if self.is_attached:
            self.redraw()

    @on(DataTable.RowSelected, "#fleet")
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        from .verification import VerificationScreen

        key = selected_key(self.query_one("#fleet", DataTable))
        if key is None:
            return
        live = self.lives.get(key)
        if live is None:
            self.notify("Not started yet: it waits for a free slot.", severity="warning")
            return
        self.app.push_screen(VerificationScreen(live, owned=False, via=self.TRAIL, on_restart=self._replaced))

    def _replaced(self, old: LiveVerification, new: LiveVerification) -> None:
        """A verification opened from here started again (a pin, a new secret): its row follows the new run."""
        for connection_id, live in list(self.lives.items()):
            if live is old:
                self.lives[connection_id] = new
        new.listen(self)
        self.workbench.forget(old)
        self._pace()

    @property
    def running(self) -> bool:
        return any(live.running for live in self.lives.values()) or (
            len(self.lives) < len(self.connections) and not self._cancelled
        )

    def action_cancel_or_back(self) -> None:
        if self.running:
            self._cancelled = True
            for live in self.lives.values():
                live.cancel()
            self.notify("Cancelled: what had not finished is marked so. escape again goes back.", markup=False)
            return
        self.dismiss()

    def on_unmount(self) -> None:
        self._cancelled = True  # the verifications are the fleet's workers: they end with it
