"""Wall-clock deadlines for network calls.

Connect and read timeouts bound each wait for the next byte. A server that trickles its answer — a byte of header
every second — satisfies every one of them and holds the caller for as long as it likes. A `Deadline` bounds a
whole call instead: when its time comes, or when whoever waits for the call gives up on it (`expire()`), every
socket the call uses is shut down and every process it started is killed, so the thread blocked in a library call
returns at once with an error.

* Sockets are watched where they are used: requests' adapters (`workbench.net.adapter`), Graph's network streams
  (`workbench.net.httpx_deadline`), the TLS inspection and the Kerberos ticket process register what they open or
  reuse with the deadline bound in the current context (`bind`, `watch`). A deadline keeps a duplicate of each
  socket's descriptor: shutting it down ends the connection for every descriptor of it (also once TLS has taken
  the original over), and the duplicate is the deadline's own, so it can never name another connection after the
  call.
* Deadlines nest: a request's (its timeout, from start to end) within a verification call's (expired when the
  check stops waiting for it). A socket watched under the inner one is shut down by either.
* A `Watchdog` expires deadlines when their time comes: one daemon thread, started when a deadline is armed and
  gone after a short idle spell. A verification run binds its own (`bind_watchdog`); an adapter used outside a run
  falls back on one of its own.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any

IDLE = 2.0  # seconds a watchdog's thread waits for another deadline before it ends


class _Duplicate:
    """A descriptor of our own on a watched socket's connection. Ending and closing it are serialised, so a
    deadline that expires just as its call ends can never shut down a descriptor number reused meanwhile."""

    def __init__(self, sock: socket.socket) -> None:
        # A plain socket on a new descriptor, for a TLS socket as well (which cannot be dup()ed).
        self._sock: socket.socket | None = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)
        self._lock = threading.Lock()

    def end(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            if self._sock is not None:
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked on any descriptor of the connection

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


class Deadline:
    """The end of one call: `seconds` from now (None: only when expired by hand), within `parent`'s."""

    def __init__(
        self,
        seconds: float | None = None,
        *,
        parent: Deadline | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else clock() + seconds
        self.parent = parent
        self._clock = clock
        self._lock = threading.Lock()
        self._expired = False
        self._closed = False
        self._held: set[_Duplicate | subprocess.Popen[Any]] = set()  # ended when this or a parent expires
        self._owned: dict[int, tuple[socket.socket, _Duplicate]] = {}  # id(watched) -> (watched, duplicate)
        self._processes: list[subprocess.Popen[Any]] = []
        self._watchdog: Watchdog | None = None  # the one it is armed on

    @property
    def expired(self) -> bool:
        """This deadline passed or was expired (not counting a parent's)."""
        return self._expired

    @property
    def ended(self) -> bool:
        """This deadline or an enclosing one was expired: whatever the call got since may be cut short."""
        return any(deadline._expired for deadline in self._chain())

    @property
    def done(self) -> bool:
        return self._closed or self._expired

    def _chain(self) -> Iterator[Deadline]:
        deadline: Deadline | None = self
        while deadline is not None:
            yield deadline
            deadline = deadline.parent

    def remaining(self) -> float | None:
        """Seconds left before this deadline or an enclosing one ends (0 once one was expired), None if unbounded."""
        left: float | None = None
        for deadline in self._chain():
            if deadline._expired:
                return 0.0
            if deadline.at is not None:
                here = max(0.0, deadline.at - self._clock())
                left = here if left is None else min(left, here)
        return left

    def watch(self, sock: socket.socket) -> None:
        """End `sock`'s connection when this deadline or an enclosing one expires (at once if one already has)."""
        with self._lock:
            if self._closed or id(sock) in self._owned:
                return
            try:
                duplicate = _Duplicate(sock)
            except OSError:  # already closed: nothing to end
                return
            self._owned[id(sock)] = (sock, duplicate)  # the socket is kept, so its id stays its own
        for deadline in self._chain():
            deadline._hold(duplicate)

    def watch_process(self, process: subprocess.Popen[Any]) -> None:
        """Kill `process` when this deadline or an enclosing one expires."""
        with self._lock:
            if self._closed:
                return
            self._processes.append(process)
        for deadline in self._chain():
            deadline._hold(process)

    def _hold(self, thing: _Duplicate | subprocess.Popen[Any]) -> None:
        with self._lock:
            if not self._expired:
                self._held.add(thing)
                return
        _end(thing)

    def _drop(self, thing: _Duplicate | subprocess.Popen[Any]) -> None:
        with self._lock:
            self._held.discard(thing)

    def expire(self) -> None:
        """End the call now: shut down its sockets, kill its processes (and those of calls within it)."""
        with self._lock:
            if self._expired:
                return
            self._expired = True
            held, self._held = self._held, set()
        for thing in held:
            _end(thing)

    def close(self) -> None:
        """The call is over: let go of what it watched (its duplicate descriptors are closed)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            owned = [duplicate for _, duplicate in self._owned.values()]
            things: list[_Duplicate | subprocess.Popen[Any]] = [*owned, *self._processes]
            self._owned.clear()
            self._processes.clear()
        for thing in things:
            for deadline in self._chain():
                deadline._drop(thing)
        for duplicate in owned:
            duplicate.close()
        if self._watchdog is not None:
            self._watchdog.over(self)

    def __repr__(self) -> str:
        state = "expired" if self._expired else ("closed" if self._closed else "open")
        return f"Deadline({self.seconds!r}, {state})"


def _end(thing: _Duplicate | subprocess.Popen[Any]) -> None:
    if isinstance(thing, _Duplicate):
        thing.end()
        return
    with contextlib.suppress(OSError):
        thing.kill()  # (Popen checks that the process was not reaped first)


class Watchdog:
    """Expires deadlines when their time comes, in one daemon thread that exists only while there is work."""

    def __init__(
        self, name: str = "deadlines", *, idle: float = IDLE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self._idle = idle
        self._clock = clock
        self._ready = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, deadline: Deadline) -> None:
        if deadline.at is None:
            return
        deadline._watchdog = self
        with self._ready:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._ready.notify()

    @property
    def alive(self) -> bool:
        with self._ready:
            return self._thread is not None

    def close(self) -> None:
        """Its owner is done: the thread ends as soon as every deadline armed on it is over (closed or expired),
        without waiting for more."""
        with self._ready:
            self._closed = True
            self._ready.notify()

    def over(self, deadline: Deadline) -> None:
        """`deadline` was closed: once the watchdog is closed, that may be the last one it waited for."""
        if self._closed:
            with self._ready:
                self._ready.notify()

    def _serve(self) -> None:
        with self._ready:
            while True:
                if self._closed:  # nothing new will come: forget what is over, wherever it sits
                    self._heap = [entry for entry in self._heap if not entry[2].done]
                    heapq.heapify(self._heap)
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    if not self._closed:
                        self._ready.wait(self._idle)
                    if not self._heap:
                        self._thread = None
                        return
                    continue
                wait = self._heap[0][0] - self._clock()
                if wait > 0:
                    self._ready.wait(wait)
                    continue
                _, _, due = heapq.heappop(self._heap)
                self._ready.release()
                try:
                    due.expire()
                finally:
                    self._ready.acquire()


_current: ContextVar[Deadline | None] = ContextVar("workbench_deadline", default=None)
_watchdog: ContextVar[Watchdog | None] = ContextVar("workbench_watchdog", default=None)


def current() -> Deadline | None:
    """The deadline of the call this code runs in, if any."""
    return _current.get()


class bind:
    """Make `deadline` the current call's in this context, while the `with` block runs. (A class, not a generator:
    an exception passing through is left exactly as it is — contextlib would set its traceback, which some
    library exceptions refuse.)"""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self._token: Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline:
        self._token = _current.set(self.deadline)
        return self.deadline

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _current.reset(self._token)


def bind_watchdog(watchdog: Watchdog) -> None:
    """In the current context (a run's own), deadlines are armed on `watchdog`."""
    _watchdog.set(watchdog)


def watch(sock: socket.socket) -> None:
    """Watch `sock` under the current deadline (nothing outside a call that has one)."""
    deadline = _current.get()
    if deadline is not None:
        deadline.watch(sock)


def watch_process(process: subprocess.Popen[Any]) -> None:
    """Kill `process` if the current call's deadline expires before it ends."""
    deadline = _current.get()
    if deadline is not None:
        deadline.watch_process(process)


class within(bind):
    """A deadline for what runs inside, `seconds` from now, nested in the current one and current while it runs;
    closed when the block ends. It is armed on the run's watchdog, or else on `fallback`; with neither, it ends
    only with an enclosing one."""

    def __init__(self, seconds: float | None, fallback: Watchdog | None = None) -> None:
        super().__init__(Deadline(seconds, parent=_current.get()))
        self._watchdog = _watchdog.get() or fallback

    def __enter__(self) -> Deadline:
        if self._watchdog is not None:
            self._watchdog.arm(self.deadline)
        return super().__enter__()

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)
        self.deadline.close()


__all__ = ["Deadline", "Watchdog", "bind", "bind_watchdog", "current", "watch", "watch_process", "within"]
