"""A verification as the console runs it: the engine's event stream pumped into a board, re-runs on the same
board, cancel at once, the result handed to whoever records it.

The pump is a worker of the node that runs the verification (a screen, or the app): it lives as long as that node
(unmounting it cancels the pump and releases the verification) or until `close()`. The checks' blocking work runs
in the verification's own thread pool, so the loop only folds events into the board. Whoever shows the board
`listen`s: it is sent a `BoardChanged` when the board changes (several queued for one connection are handled as
one) and repaints at its own pace (`Pace`).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from textual.message import Message
from textual.timer import Timer

from workbench.checks.board import Board
from workbench.checks.events import Event, Summary
from workbench.model import Connection

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.message_pump import MessagePump
    from textual.worker import Worker

    from workbench.checks.engine import Confirm

GROUP = "verification"  # the workers that pump verifications


class Source(Protocol):
    """What a live verification drives: `workbench.verification.Verification`, or a scripted stand-in."""

    def events(self) -> AsyncIterator[Event]: ...

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> AsyncIterator[Event]: ...

    def rerun_all(self, confirm: Confirm | None = None) -> AsyncIterator[Event]: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class BoardChanged(Message):
    """A live verification's board changed (or its run ended). Several waiting in one queue for the same
    connection are handled as one: a check reporting progress thousands of times a second costs one repaint."""

    def __init__(self, live: LiveVerification) -> None:
        super().__init__()
        self.live = live

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BoardChanged) and message.live.connection.id == self.live.connection.id


class Pace:
    """Calls `redraw` at most once per `gap` seconds however often it is asked (the last request is never lost:
    one asked for too soon runs when the gap has passed). Nothing is scheduled while nobody asks."""

    def __init__(self, node: MessagePump, redraw: Callable[[], None], gap: float) -> None:
        self._node = node
        self._redraw = redraw
        self._gap = gap
        self._last = float("-inf")
        self._timer: Timer | None = None

    def __call__(self) -> None:
        if self._timer is not None:
            return
        wait = self._last + self._gap - time.monotonic()
        if wait <= 0:
            self._now()
        else:
            self._timer = self._node.set_timer(wait, self._now)

    def _now(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self._redraw()


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
        self._streams: asyncio.Queue[AsyncIterator[Event]] = asyncio.Queue()
        self._busy = False  # a stream is queued or being consumed
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: Worker[None] | None = None
        self._listeners: weakref.WeakSet[MessagePump] = weakref.WeakSet()

    @property
    def owner(self) -> DOMNode | None:
        """The node whose worker pumps this verification (None before `start`)."""
        return self._worker.node if self._worker is not None else None

    @property
    def running(self) -> bool:
        return self._busy and not self.closed

    def start(self, owner: DOMNode) -> None:
        """Start the run, pumped by a worker of `owner`: unmounting `owner` ends it (and releases the run)."""
        self._queue(self.source.events())
        self._worker = owner.run_worker(
            self._pump(), name=f"verify {self.connection.id}", group=GROUP, exit_on_error=False
        )

    def listen(self, node: MessagePump) -> None:
        """`node` is sent a `BoardChanged` whenever the board changes, for as long as it runs."""
        self._listeners.add(node)

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> bool:
        """Run one check again (with what it needs that did not pass, and what depends on it). False while a
        run is still going: one run at a time per verification."""
        if self.running or self.closed:
            return False
        self._queue(self.source.rerun(check_id, confirm))
        return True

    def rerun_all(self, confirm: Confirm | None = None) -> bool:
        if self.running or self.closed:
            return False
        self._queue(self.source.rerun_all(confirm))
        return True

    def cancel(self) -> None:
        """Stop now: unfinished checks end as cancelled, and the board says so."""
        if self.running:
            self.source.cancel()

    async def wait(self) -> None:
        """Until the current run has ended (or the verification was closed)."""
        await self._idle.wait()

    def close(self) -> None:
        """Cancel what runs and release everything the verification holds (in its own threads)."""
        if self.closed:
            return
        if self._worker is not None:
            self._worker.cancel()
        self._release()

    def _release(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.source.cancel()
        self.source.close()
        self._idle.set()

    def _queue(self, stream: AsyncIterator[Event]) -> None:
        self._busy = True
        self._idle.clear()
        self._streams.put_nowait(stream)

    def _tell(self) -> None:
        for node in list(self._listeners):
            if not node.post_message(BoardChanged(self)):  # closed: it listens no more
                self._listeners.discard(node)

    async def _pump(self) -> None:
        try:
            while True:
                stream = await self._streams.get()
                try:
                    async for event in stream:
                        self.board.apply(event)
                        if isinstance(event, Summary) and self.on_summary is not None:
                            self.on_summary(self, event)
                        self._tell()
                finally:
                    if self._streams.empty():
                        self._busy = False
                        self._idle.set()
                    self._tell()
        finally:
            self._release()  # the owner went (or the stream broke: the worker reports it): the run is released
