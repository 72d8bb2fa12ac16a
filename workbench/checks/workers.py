"""The worker threads of one verification: daemon threads, at most `size` of them at work, none ever waited for.

`concurrent.futures.ThreadPoolExecutor` joins its threads when the interpreter exits, even after
`shutdown(wait=False)`: one thread stuck in a library call (a server that trickles its answer, a resolver that
does not answer) kept `workbench verify` and the console alive after they had finished. These threads are
daemons, so nothing joins them; and a call the run gave up on (`abandon`: its check timed out, the run was
cancelled or closed) no longer counts against the limit, so the run's next calls get a thread of their own while
the abandoned one ends by itself (its deadline has shut its sockets down).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(eq=False, slots=True)
class _Job:
    future: Future[Any]
    call: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    abandoned: bool = False


class Workers(Executor):
    """An executor of daemon threads for one verification run (see the module's description)."""

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._lock = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._running: dict[Future[Any], _Job] = {}
        self._counted = 0  # threads that count against `size`: idle or at work on a job not abandoned
        self._idle = 0
        self._serial = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the run's threads are shut down")
            self._queue.append(_Job(future, fn, args, kwargs))
            self._wake()
        return future

    def _wake(self) -> None:
        """Hand the queue to an idle thread, or start one if the run may have another (lock held)."""
        if not self._queue:
            return
        if self._idle:
            self._lock.notify(min(self._idle, len(self._queue)))
        if len(self._queue) > self._idle and self._counted < self._size:
            self._counted += 1
            self._serial += 1
            threading.Thread(target=self._serve, name=f"{self._name}_{self._serial}", daemon=True).start()

    def abandon(self, future: Future[Any]) -> None:
        """Nobody waits for this call any more: its thread stops counting, and ends when the call returns."""
        with self._lock:
            job = self._running.get(future)
            if job is None or job.abandoned:
                return
            job.abandoned = True
            self._counted -= 1
            self._wake()

    def shutdown(self, wait: bool = False, *, cancel_futures: bool = False) -> None:
        """No new calls; the queued ones still run (they release what the run held). Never waits: `wait` is
        accepted for the Executor interface and ignored."""
        with self._lock:
            self._closed = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft().future.cancel()
            self._lock.notify_all()

    @property
    def busy(self) -> int:
        """Threads at work on a call somebody still waits for."""
        with self._lock:
            return sum(1 for job in self._running.values() if not job.abandoned)

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._idle += 1
                    self._lock.wait()
                    self._idle -= 1
                if not self._queue:  # closed and drained
                    self._counted -= 1
                    return
                job = self._queue.popleft()
                if not job.future.set_running_or_notify_cancel():
                    continue
                self._running[job.future] = job
            try:
                result = job.call(*job.args, **job.kwargs)
            except BaseException as error:  # noqa: BLE001  (handed to whoever waits, as ThreadPoolExecutor does)
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
            with self._lock:
                del self._running[job.future]
                if job.abandoned:  # a replacement took this thread's place
                    return


__all__ = ["Workers"]
