"""One verification on screen: `VerificationView`, its live table, and `VerificationPanel`, the table with its keys.

`VerificationView` redraws from the run's board when the run tells it the board changed, at most once per `PACE`
(so a check reporting progress thousands of times a second costs a few redraws a second and keys keep answering),
and once a second while a check runs (its time). Its `live` is the verification shown: assigning another (a
restart after a pin or a new secret) shows it on the same table.

`VerificationPanel` composes the view and owns its keys: enter troubleshoots the selected check (its panel, then the
fix chosen there), r re-runs the selected check (and what depends on it), R re-runs everything. What only the
screen showing the panel knows goes up as messages: `Adopt` (a fix changed the connection's settings: keep the
change where that screen keeps changes, and verify again) and `Restart` (verify this connection again from the
start). The verification screen and the wizard's Configuration step both show one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import Worker

from workbench.checks.board import Board, Row
from workbench.checks.events import Status, StepStatus
from workbench.model import Connection, M365Settings, OnPremSettings

from ..console import Console, console
from ..render.literal import literal
from ..render.status import duration, mark, row_mark
from ..state.live import BoardChanged, LiveVerification, Pace
from .tables import selected_key

if TYPE_CHECKING:
    from ..dialogs.troubleshoot import TroubleshootModal

PACE = 0.25  # seconds: the least time between two redraws of a run's board (progress is coalesced to this pace)
ELAPSED = 1.0  # seconds: how often a running check's time (and spinner) moves on
COLUMNS = ("check", "status", "time", "detail")
STEP_MARKS = {
    StepStatus.OK: "passed",
    StepStatus.FAILED: "failed",
    StepStatus.RUNNING: "running",
    StepStatus.INFO: "waiting",
}
CHECK_WIDTH, STATUS_WIDTH, TIME_WIDTH = 28, 10, 7


def row_detail(board: Board, row: Row) -> str:
    if row.status is Status.SKIPPED:
        waited = board.waited_on(row.id)
        if waited:
            return "waits on " + ", ".join(f"{r.title} ({r.status.value if r.status else '?'})" for r in waited)
    return row.detail


class VerificationView(Widget):
    """A live table of one verification's checks (and their sub-steps)."""

    DEFAULT_CSS = """
    VerificationView { height: 1fr; }
    VerificationView > #verification-head { height: 1; }
    VerificationView > DataTable { height: 1fr; }
    """

    # The verification shown; assigning another (a restart after a pin or a new secret) shows it on the same table.
    live: var[LiveVerification] = var(cast("LiveVerification", None), init=False)  # (given to __init__)

    def __init__(
        self, live: LiveVerification, *, clock: Callable[[], float] | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.set_reactive(VerificationView.live, live)
        self._given_clock = clock
        self._keys: list[str] = []
        self._shown: dict[tuple[str, str], tuple[str, str]] = {}
        self._head: Text | None = None
        self._frame = 0
        self._was_running = True
        self.settled = False

    def compose(self) -> ComposeResult:
        yield Static(id="verification-head")
        table: DataTable[Text] = DataTable(id="checks", cursor_type="row")
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#checks", DataTable)
        table.add_column("Check", key="check", width=CHECK_WIDTH)
        table.add_column("Status", key="status", width=STATUS_WIDTH)
        table.add_column("Time", key="time", width=TIME_WIDTH)
        table.add_column("Detail", key="detail", width=self._detail_width())
        self._pace = Pace(self, self.redraw, PACE)
        self.live.listen(self)
        self.redraw(full=True)
        self.set_interval(ELAPSED, self._elapsed)
        # Mounted into a step being laid out, the view may learn its size before its columns exist and get no
        # Resize after: the detail column is fitted again once the screen has been laid out.
        self.call_after_refresh(self.redraw)

    def _elapsed(self) -> None:
        if self.board.running:
            self._pace()

    @on(BoardChanged)
    def _board_changed(self, message: BoardChanged) -> None:
        if message.live is self.live:
            self._pace()

    def _clock(self) -> float:
        if self._given_clock is not None:
            return self._given_clock()
        return getattr(self.app, "clock", time.monotonic)()

    def watch_live(self, live: LiveVerification) -> None:
        live.listen(self)
        self.redraw(full=True)

    def _detail_width(self) -> int:
        return max(16, (self.size.width or 80) - CHECK_WIDTH - STATUS_WIDTH - TIME_WIDTH - 10)

    def on_resize(self) -> None:
        self.redraw()  # a redraw fits the detail column to the view's width first

    @property
    def board(self) -> Board:
        return self.live.board

    def selected_check(self) -> str | None:
        key = selected_key(self.query_one("#checks", DataTable))
        return key.partition("#")[0] if key else None

    def _layout(self) -> list[str]:
        keys = []
        for row in self.board:
            keys.append(row.id)
            keys += [f"{row.id}#{index}" for index in sorted(row.steps)]
        return keys

    def redraw(self, full: bool = False) -> None:
        board = self.board
        dirty = board.take_dirty()
        table = self.query_one("#checks", DataTable)
        detail = table.columns.get(ColumnKey("detail"))
        if detail is not None and detail.width != self._detail_width():
            # The view's size changed since the column was fitted (a Resize not handled yet, or none sent): every
            # detail cell is cut to the width it is drawn at, so the column is fitted and the rows drawn again.
            detail.width = self._detail_width()
            full = True
        keys = self._layout()
        now = self._clock()
        self._frame = int(now)  # the spinner turns once a second: every changed cell costs a table repaint
        if full or keys != self._keys:
            self._shown.clear()
            selected = self.selected_check()
            cursor_key = selected_key(table)
            table.clear()
            for row in board:
                table.add_row(*self._cells(row, now), key=row.id)
                for index in sorted(row.steps):
                    table.add_row(*self._step_cells(row, index), key=f"{row.id}#{index}")
            self._keys = keys
            target = cursor_key if cursor_key in keys else selected
            if target in keys:
                table.move_cursor(row=keys.index(target), animate=False)
        else:
            for row in board:
                if row.id in dirty or (row.result is None and row.started is not None):
                    self._update(table, row.id, self._cells(row, now))
                    if row.id in dirty:
                        for index in row.steps:
                            self._update(table, f"{row.id}#{index}", self._step_cells(row, index))
        if self._was_running and not board.running and board.rows:
            self._to_first_problem()
        self._was_running = board.running
        self.settled = not board.running  # the screen shows the run's end (the cursor is on its first failure)
        self._paint_head(now)

    def _update(self, table: DataTable[Text], key: str, cells: list[Text]) -> None:
        """Only cells whose text changed are written: each write makes the table repaint what it shows."""
        for column, cell in zip(COLUMNS, cells, strict=True):
            seen = (cell.plain, str(cell.style))
            if self._shown.get((key, column)) != seen:
                self._shown[(key, column)] = seen
                table.update_cell(key, column, cell)

    def _to_first_problem(self) -> None:
        """When a run ends with the cursor still on the first row, take it to the first failure (enter then
        opens its troubleshooting panel)."""
        table = self.query_one("#checks", DataTable)
        if table.cursor_row != 0:
            return
        for index, key in enumerate(self._keys):
            row = self.board.rows.get(key)
            if row is not None and row.status in (Status.FAILED, Status.WARNING):
                table.move_cursor(row=index, animate=False)
                return

    def _cells(self, row: Row, now: float) -> list[Text]:
        width = self._detail_width()
        detail = row_detail(self.board, row)
        problem = row.result.outcome.problem if row.result is not None else None
        if problem is not None and row.status is not Status.PASSED and not detail.startswith(problem.code):
            detail = f"{problem.code}: {detail}"
        return [
            literal(row.title, CHECK_WIDTH),
            row_mark(row, self._frame),
            Text(self._time_of(row, now), justify="right"),
            literal(detail, width),
        ]

    @staticmethod
    def _time_of(row: Row, now: float) -> str:
        if row.result is None:  # running: whole seconds, so the cell changes once a second
            elapsed = row.elapsed_ms(now)
            return "" if elapsed is None else f"{elapsed // 1000} s"
        return duration(row.result.duration_ms)

    def _step_cells(self, row: Row, index: int) -> list[Text]:
        step = row.steps[index]
        state = STEP_MARKS[step.status]
        if state == "failed" and row.status is not Status.FAILED:
            state = "tried"  # a miss is a failure only when nothing after it worked either
        return [
            literal(f"  └ {step.label}", CHECK_WIDTH, "dim"),
            mark(state, word=True) if step.status is not StepStatus.INFO else Text("  info", style="dim"),
            Text(""),
            literal(step.detail, self._detail_width(), "dim"),
        ]

    def _paint_head(self, now: float) -> None:
        board = self.board
        counts = board.counts()
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(" ")
        head.append_text(literal(self.live.connection.name, 40, "bold"))
        head.append("  ")
        overall = board.overall()
        if board.running or overall is None:
            finished = sum(counts.values())
            head.append(f"running · {finished} of {len(board)} checks done", style="cyan")
        else:
            head.append_text(mark(overall.value, word=True))
        parts = [f"{counts[s]} {s.value}" for s in Status if counts[s]]
        if parts:
            head.append("  " + " · ".join(parts), style="dim")
        if board.summary is not None:
            head.append(f" · {duration(board.summary.duration_ms)}", style="dim")
        if head != self._head:
            self._head = head
            self.query_one("#verification-head", Static).update(head)


STILL_RUNNING = "The verification is still running: wait for it, or escape to cancel it."


class VerificationPanel(Widget):
    """One verification's live table and its keys: enter troubleshoots the selected check, r re-runs it (and what
    depends on it), R re-runs everything. It runs the fixes chosen in a check's troubleshooting panel (it is their
    `FixHost`); what a fix changes goes up to the screen that shows the panel (`Adopt`, `Restart`)."""

    DEFAULT_CSS = """
    VerificationPanel { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "troubleshoot", "Troubleshoot", id="verify.troubleshoot", show=True),
        Binding("r", "rerun", "Re-run", id="verify.rerun", tooltip="Re-run the selected check and what depends on it"),
        Binding("R", "rerun_all", "Re-run all", id="verify.rerun-all", tooltip="Re-run every check"),
    ]
    SAVED_BY: ClassVar[str] = "OK in Manage server connections"  # what makes a new connection exist in the store

    class Adopt(Message):
        """A fix changed the connection's settings (`what`: said so, e.g. "Pinned"): the screen keeps the change
        where it keeps changes, and verifies again with it."""

        def __init__(self, settings: M365Settings | OnPremSettings, what: str) -> None:
            super().__init__()
            self.settings = settings
            self.what = what

    class Restart(Message):
        """Verify `connection` again from the start on the same table (`timeout`: a longer one for each call)."""

        def __init__(self, connection: Connection, timeout: float | None) -> None:
            super().__init__()
            self.connection = connection
            self.timeout = timeout

    def __init__(self, live: LiveVerification, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = VerificationView(live, id="verification")
        self._troubleshooting: TroubleshootModal | None = None  # the check's panel this panel opened, while open

    def compose(self) -> ComposeResult:
        yield self.view

    @property
    def live(self) -> LiveVerification:
        """The verification shown and acted on (by the keys and the fixes); assigning another (a restart after a
        pin or a new secret) shows it on the same table."""
        return self.view.live

    @live.setter
    def live(self, live: LiveVerification) -> None:
        self.view.live = live

    @property
    def workbench(self) -> Console:
        return console(self)

    @on(DataTable.RowSelected, "#checks")
    def _row_selected(self) -> None:
        self.action_troubleshoot()

    @on(BoardChanged)
    def _board_changed(self, message: BoardChanged) -> None:
        """A check's panel opened while it ran shows its end (its problem, fixes and action) when it ends."""
        panel = self._troubleshooting
        if panel is None or not panel.is_attached or message.live is not self.live:
            return
        row = self.live.board.rows.get(panel.check)
        if row is not None and panel.stale(row):
            panel.call_next(panel.show, row)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The troubleshooting worker failed: reported in the console's one place for that."""
        self.workbench.worker_failed(event)

    def action_troubleshoot(self) -> None:
        check = self.view.selected_check()
        if check is not None:
            self._troubleshoot(check)

    @work(group="troubleshoot", exclusive=True, exit_on_error=False)
    async def _troubleshoot(self, check: str) -> None:
        """The check's panel, over the screen: the admin's choice there is done here (a fix, after its own
        confirmation, or running the check again), and the panel closes once something was done."""
        from ..dialogs.troubleshoot import TroubleshootModal
        from ..fixes import apply_fix

        live = self.live
        saved_by = None if self.workbench.workspace.stored_as(live.connection) else self.SAVED_BY
        panel = TroubleshootModal(check, live.board[check], live.connection.name, saved_by=saved_by)
        await self.app.push_screen(panel)
        self._troubleshooting = panel
        try:
            async for choice in panel.choices():
                if choice.spec is None:
                    panel.dismiss(None)
                    self.action_rerun(choice.check)
                    return
                if await apply_fix(self, choice.check, choice.spec):
                    if self.app.screen is panel:
                        panel.dismiss(None)
                    return
        finally:
            self._troubleshooting = None

    def action_rerun(self, check: str | None = None) -> None:
        check = check or self.view.selected_check()
        if check is None:
            return
        if not self.live.rerun(check):
            self.notify(STILL_RUNNING, severity="warning")

    def action_rerun_all(self) -> None:
        if not self.live.rerun_all():
            self.notify(STILL_RUNNING, severity="warning")

    # What a fix asks of its host (`screens.fixes.FixHost`) that only the screen can do: messages up.

    def restart(self, connection: Connection, timeout: float | None = None) -> None:
        self.post_message(self.Restart(connection, timeout))

    def adopt(self, settings: M365Settings | OnPremSettings, what: str) -> None:
        self.post_message(self.Adopt(settings, what))
