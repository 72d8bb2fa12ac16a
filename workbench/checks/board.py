"""A verification as a board of rows: the events of a run folded into what a screen shows for each check.

The board is plain state, fed from the run's event stream and read by whoever draws it, at whatever pace it
draws. Every change marks its row dirty; a view takes the dirty set when it repaints, so a check that reports
progress twenty thousand times costs the screen one repaint per frame, not twenty thousand. A re-run feeds the
same board: the rows it plans again go back to waiting, the others keep their results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from .events import (
    AwaitingConfirmation,
    CheckInfo,
    ConfirmationAnswered,
    ConfirmationRequest,
    Event,
    Finished,
    Planned,
    Progress,
    Started,
    Status,
    Step,
    Summary,
)


class Phase(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    ASKING = "asking"  # waiting for the admin to answer a confirmation
    DONE = "done"


@dataclass(slots=True)
class Row:
    info: CheckInfo
    phase: Phase = Phase.WAITING
    started: float | None = None  # monotonic
    result: Finished | None = None
    message: str = ""  # the latest progress line
    done: int | None = None
    total: int | None = None
    steps: dict[int, Step] = field(default_factory=dict)
    request: ConfirmationRequest | None = None

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def title(self) -> str:
        return self.info.title

    @property
    def status(self) -> Status | None:
        return self.result.status if self.result is not None else None

    def elapsed_ms(self, now: float) -> int | None:
        """The finished check's duration, or how long a running one has run so far."""
        if self.result is not None:
            return self.result.duration_ms
        if self.started is not None:
            return int((now - self.started) * 1000)
        return None

    @property
    def detail(self) -> str:
        if self.result is not None:
            return self.result.outcome.detail
        if self.phase is Phase.ASKING and self.request is not None:
            return f"waiting for you: {self.request.question}"
        if self.done is not None:
            of = f" of {self.total:,}" if self.total is not None else ""
            return f"{self.done:,}{of} so far"
        return self.message


class Board:
    """Rows in plan order, keyed by check id."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.rows: dict[str, Row] = {}
        self.summary: Summary | None = None
        self.run: str = ""
        self.connection: str = ""
        self._dirty: set[str] = set()
        self._active = False  # between a run's Planned and its Summary

    # ------------------------------------------------------------------ feeding

    def apply(self, event: Event) -> None:
        self.run, self.connection = event.run, event.connection
        match event:
            case Planned():
                self._plan(event.checks)
            case Started():
                row = self._row(event.check)
                row.phase, row.started, row.result = Phase.RUNNING, self._clock(), None
                row.message, row.done, row.total, row.steps = "", None, None, {}
            case Progress():
                row = self._row(event.check)
                if event.step is not None:
                    row.steps[event.step.index] = event.step
                else:
                    row.message, row.done, row.total = event.message, event.done, event.total
            case AwaitingConfirmation():
                row = self._row(event.check)
                row.phase, row.request = Phase.ASKING, event.request
            case ConfirmationAnswered():
                row = self._row(event.check)
                row.phase, row.request = Phase.RUNNING, None
            case Finished():
                row = self._row(event.check)
                row.phase, row.result, row.request = Phase.DONE, event, None
            case Summary():
                self.summary, self._active = event, False
                return
        if isinstance(event, Planned):
            return
        self._dirty.add(event.check)

    def _plan(self, checks: tuple[CheckInfo, ...]) -> None:
        """A first run lays out every row; a re-run puts back to waiting only the rows it will report on."""
        if not self.rows:
            self.rows = {info.id: Row(info) for info in checks}
        else:
            for info in checks:
                self.rows[info.id] = Row(info)
        self._dirty |= {info.id for info in checks}
        self.summary, self._active = None, True

    def _row(self, check: str) -> Row:
        row = self.rows.get(check)
        if row is None:  # an event for a check the plan did not announce: show it rather than lose it
            row = self.rows[check] = Row(CheckInfo(check, check, ()))
        return row

    # ------------------------------------------------------------------ reading

    def take_dirty(self) -> set[str]:
        """The rows changed since the last call (a view repaints those)."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows.values())

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, check: str) -> Row:
        return self.rows[check]

    @property
    def running(self) -> bool:
        return self._active

    def counts(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for row in self:
            if row.status is not None:
                counts[row.status] += 1
        return counts

    def overall(self) -> Status | None:
        """The board's verdict once nothing runs: failed, else cancelled, else warning, else passed."""
        if self.running or not self.rows:
            return None
        counts = self.counts()
        for status in (Status.FAILED, Status.CANCELLED):
            if counts[status]:
                return status
        if counts[Status.WARNING] or counts[Status.SKIPPED]:
            return Status.WARNING
        return Status.PASSED

    def waited_on(self, check: str) -> list[Row]:
        """For a skipped check: the checks it needed that did not pass, so the screen can name them."""
        needed = (self.rows[need] for need in self.rows[check].info.needs if need in self.rows)
        return [row for row in needed if row.status is not None and not row.status.ok]
