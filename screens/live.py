"""A verification as the console runs it: the engine's event stream pumped into a board, re-runs on the same
board, cancel at once, the result handed to whoever records it.

The pump is a task on the UI's loop; the checks' blocking work runs in the verification's own thread pool, so
the loop only folds events into the board. Views repaint from the board at their own pace.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from workbench.checks.board import Board
from workbench.checks.events import Event, Summary
from workbench.model import Connection

if TYPE_CHECKING:
    from workbench.checks.engine import Confirm


class Source(Protocol):
    """What a live verification drives: `workbench.verification.Verification`, or a scripted stand-in."""

    def events(self) -> AsyncIterator[Event]: ...

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> AsyncIterator[Event]: ...

    def rerun_all(self, confirm: Confirm | None = None) -> AsyncIterator[Event]: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class LiveVerification:
    def __init__(
        self,
        connection: Connection,
        source: Source,
        *,
        on_summary: Callable[[LiveVerification, Summary], None] | None = None,
        board: Board | None = None,
    ) -> None:
        self.connection = connection
        self.source = source
        self.board = board if board is not None else Board()
        self.on_summary = on_summary
        self.closed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._pump(self.source.events())

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> bool:
        """Run one check again (with what it needs that did not pass, and what depends on it). False while a
        run is still going: one run at a time per verification."""
        if self.running or self.closed:
            return False
        self._pump(self.source.rerun(check_id, confirm))
        return True

    def rerun_all(self, confirm: Confirm | None = None) -> bool:
        if self.running or self.closed:
            return False
        self._pump(self.source.rerun_all(confirm))
        return True

    def cancel(self) -> None:
        """Stop now: unfinished checks end as cancelled, and the board says so."""
        if self.running:
            self.source.cancel()

    async def wait(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def close(self) -> None:
        """Cancel what runs and release everything the verification holds (in its own threads)."""
        if self.closed:
            return
        self.closed = True
        self.source.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.source.close()

    def _pump(self, stream: AsyncIterator[Event]) -> None:
        self._task = asyncio.get_running_loop().create_task(self._consume(stream), name=f"verify {self.connection.id}")

    async def _consume(self, stream: AsyncIterator[Event]) -> None:
        async for event in stream:
            self.board.apply(event)
            if isinstance(event, Summary) and self.on_summary is not None:
                self.on_summary(self, event)
