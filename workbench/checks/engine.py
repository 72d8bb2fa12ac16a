"""The verification engine: a plan of checks run as a DAG, streamed as events.

Independent checks run concurrently; a check starts when everything it needs has passed (or warned), and is
skipped when one of them failed. Blocking client libraries run in the run's own bounded set of daemon threads
through `Context.blocking`, so the event loop that consumes the stream (a Textual UI, the CLI) never stalls, one
run's threads never starve another's, and no thread ever holds up the end of the process. Each such call has a
deadline (`workbench.net.deadline`): when the check stops waiting for it — its time ran out, the run was cancelled
or closed — the call's sockets are shut down and its processes killed, and its thread is left to end by itself.
Every check has a timeout that counts only its own work: time spent waiting for a worker thread or for the admin
to answer a confirmation stops its clock. A cancelled run reports every unfinished check as cancelled. A finished
run can re-run one check — with what it needs, if that did not pass, and what depends on it — reusing the facts the
rest gathered.

Everything a run decides belongs to its `RunScope` (threads, deadlines, private state, the context its checks run
in, what to close at the end); nothing is shared with another run.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import itertools
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from workbench.net import deadline, routes
from workbench.redaction import redact
from workbench.text import visible

from .events import (
    AwaitingConfirmation,
    CheckFailed,
    CheckInfo,
    ConfirmationAnswered,
    ConfirmationRequest,
    Event,
    Finished,
    Outcome,
    Planned,
    Progress,
    Started,
    Status,
    Step,
    Summary,
)
from .workers import Workers

T = TypeVar("T")

THREADS_PER_RUN = 6

Confirm = Callable[[ConfirmationRequest], Awaitable[bool]]


async def refuse(request: ConfirmationRequest) -> bool:
    """The default answer when nobody is there to ask: no."""
    return False


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    run: Callable[[Context], Awaitable[Outcome]]
    needs: tuple[str, ...] = ()
    timeout: float = 30.0


class _Clock:
    """A check's time budget that stands still while the check waits for a thread or for the admin."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self._used = 0.0
        self._since = time.monotonic()
        self._paused = 0
        self.resumed = asyncio.Event()
        self.resumed.set()

    def pause(self) -> None:
        if self._paused == 0:
            self._used += time.monotonic() - self._since
            self.resumed.clear()
        self._paused += 1

    def resume(self) -> None:
        self._paused -= 1
        if self._paused == 0:
            self._since = time.monotonic()
            self.resumed.set()

    def remaining(self) -> float | None:
        """Seconds left, or None while the clock is paused."""
        if self._paused:
            return None
        return self.budget - self._used - (time.monotonic() - self._since)


class RunScope:
    """What one verification owns across its first run and its re-runs: the thread pool, the private state
    (tokens, the password, live clients) and how to release it, and the context its checks run in."""

    def __init__(self, *, threads: int = THREADS_PER_RUN, context: contextvars.Context | None = None) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.workers = Workers(threads, f"run-{self.id}")
        self.watchdog = deadline.Watchdog(f"run-{self.id}-deadlines")
        # A route table of its own even when the caller gives no context: trust and DNS never leak between runs.
        self.context = context if context is not None else routes.run_context()
        self.context.run(deadline.bind_watchdog, self.watchdog)  # the requests of its checks keep time here
        self.private: dict[str, Any] = {}
        self.closers: dict[int, Callable[[], Any]] = {}  # id(private value) -> how to release it
        self.runs = itertools.count()
        self.closed = False
        self._calls: set[deadline.Deadline] = set()  # blocking calls in flight
        self._lock = threading.Lock()

    def close(self) -> None:
        """End every call still in flight (its sockets shut down, its processes killed), release what the
        verification owns in its own threads (closing a runspace pool talks to the server; the caller — a UI's
        event loop — must not wait for that), and let the threads end. Nothing ever waits for a worker: they are
        daemon threads, and one still in a library call ends by itself."""
        if self.closed:
            return
        self.closed = True
        with self._lock:
            calls, self._calls = self._calls, set()
        for call in calls:
            call.expire()
        for key in list(self.closers):
            self.release(self.closers.pop(key))
        self.workers.shutdown()
        self.watchdog.close()

    def release(self, close: Callable[[], Any]) -> None:
        """Run `close` in a worker thread, never in the caller's."""
        try:
            self.workers.submit(_quietly, close)
        except RuntimeError:  # the threads are shut down: a thread of its own, then
            threading.Thread(target=_quietly, args=(close,), name=f"run-{self.id}-release", daemon=True).start()

    def submit(self, work: Callable[[], T], limit: deadline.Deadline) -> Future[T]:
        """Run `work` in one of the run's threads; `limit` is the call's deadline, ended if the run closes."""
        with self._lock:
            if self.closed:
                raise RuntimeError("this verification is closed")
            self._calls.add(limit)
        try:
            return self.workers.submit(contextvars.copy_context().run, work)
        except RuntimeError:
            self.settled(limit)
            raise

    def settled(self, limit: deadline.Deadline) -> None:
        with self._lock:
            self._calls.discard(limit)

    def give_up(self, future: Future[Any], limit: deadline.Deadline) -> None:
        """Nobody waits for this call any more: end its connections and free its thread's place."""
        limit.expire()
        self.workers.abandon(future)


class Context:
    """Everything a check may use: facts gathered so far, progress reporting, blocking calls, confirmation."""

    def __init__(self, run: Run, check: Check, clock: _Clock) -> None:
        self._run = run
        self._check = check
        self._clock = clock
        self.facts: Mapping[str, Any] = run.facts
        self.resources = run.resources

    def own(self, value: T, close: Callable[[], Any]) -> T:
        """A private value (a client, a runspace pool) this verification must release: when the verification
        closes, or as soon as a re-run of the check replaces it — re-runs never pile up sessions on a server."""
        self._run.scope.closers[id(value)] = close
        return value

    def fact(self, name: str) -> Any:
        """A fact an earlier check provided, public or private."""
        if name in self._run.scope.private:
            return self._run.scope.private[name]
        if name in self._run.facts:
            return self._run.facts[name]
        raise KeyError(f"check {self._check.id} needs fact {name!r}, which no earlier check provided")

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self.fact(name)
        except KeyError:
            return default

    def progress(
        self, message: str, done: int | None = None, total: int | None = None, step: Step | None = None
    ) -> None:
        if step is not None:  # progress lines come from servers too: one line each, shown literally
            step = dataclasses.replace(step, label=visible(step.label), detail=visible(step.detail))
        self._run.emit(
            Progress(
                check=self._check.id,
                title=self._check.title,
                message=visible(message),
                done=done,
                total=total,
                step=step,
            )
        )

    async def blocking(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking library call in one of the run's threads, in this check's context (so the run's routes
        go with it). The clock runs only once a thread has taken the call. Each request within it has its own
        wall-clock deadline; the call as a whole ends — its sockets shut down, its processes killed, its thread
        left behind — as soon as the check stops waiting for it (its time ran out, the run was cancelled)."""
        loop = asyncio.get_running_loop()
        clock = self._clock
        scope = self._run.scope
        state = {"resumed": False}
        limit = deadline.Deadline()

        def resume_once() -> None:
            if not state["resumed"]:
                state["resumed"] = True
                clock.resume()

        def work() -> T:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits for this call any more
                loop.call_soon_threadsafe(resume_once)
            with deadline.bind(limit):
                try:
                    return call(*args)
                finally:
                    limit.close()

        clock.pause()
        try:
            future = scope.submit(work, limit)
        except RuntimeError:  # the verification was closed under the check: that is a cancellation
            resume_once()
            raise asyncio.CancelledError from None
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            scope.give_up(future, limit)
            raise
        finally:
            resume_once()
            scope.settled(limit)

    def thread_progress(self) -> Callable[..., None]:
        """A progress reporter that worker threads may call: (message, done, total, step=None)."""
        loop = asyncio.get_running_loop()

        def report(message: str, done: int | None = None, total: int | None = None, step: Step | None = None) -> None:
            loop.call_soon_threadsafe(self.progress, message, done, total, step)

        return report

    async def confirm(self, request: ConfirmationRequest) -> bool:
        """Ask the admin. The check's clock stands still until the answer; a cancelled run never gets one."""
        check = self._check
        self._run.emit(AwaitingConfirmation(check=check.id, title=check.title, request=request))
        self._clock.pause()
        try:
            accepted = bool(await self._run.confirm(request))
        finally:
            self._clock.resume()
        self._run.emit(ConfirmationAnswered(check=check.id, title=check.title, accepted=accepted))
        return accepted


@dataclass(frozen=True, slots=True)
class Plan:
    checks: tuple[Check, ...]

    def __post_init__(self) -> None:
        ids = [c.id for c in self.checks]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate check ids in a plan")
        known: set[str] = set()
        for check in self.checks:
            missing = [n for n in check.needs if n not in known]
            if missing:
                raise ValueError(f"check {check.id} needs {missing}, which are not earlier in the plan")
            known.add(check.id)

    def get(self, check_id: str) -> Check:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(f"no check {check_id!r} in this plan; known: {', '.join(c.id for c in self.checks)}")

    def info(self) -> tuple[CheckInfo, ...]:
        return tuple(CheckInfo(c.id, c.title, c.needs) for c in self.checks)

    def dependants(self, check_id: str) -> set[str]:
        """The check and everything that (transitively) needs it."""
        self.get(check_id)
        found = {check_id}
        for check in self.checks:
            if any(n in found for n in check.needs):
                found.add(check.id)
        return found

    def with_prerequisites(self, check_ids: Iterable[str]) -> set[str]:
        wanted = set(check_ids)
        for check in reversed(self.checks):
            if check.id in wanted:
                wanted.update(check.needs)
        return wanted


class Run:
    """One execution of a plan. Iterate `events()` once; `cancel()` from anywhere on the same loop."""

    def __init__(
        self,
        plan: Plan,
        *,
        facts: dict[str, Any] | None = None,
        only: Iterable[str] | None = None,
        done: Mapping[str, Status] | None = None,
        confirm: Confirm = refuse,
        resources: Mapping[str, Any] | None = None,
        timeout_scale: float = 1.0,
        max_parallel: int | None = None,
        scope: RunScope | None = None,
        connection: str = "",
        outcomes: Mapping[str, Finished] | None = None,
    ) -> None:
        self.plan = plan
        self.scope = scope or RunScope()
        number = next(self.scope.runs)
        self.id = self.scope.id if number == 0 else f"{self.scope.id}-{number}"
        self.connection = connection
        self._slots = asyncio.Semaphore(max_parallel) if max_parallel else None
        self.facts: dict[str, Any] = facts if facts is not None else {}
        selected = plan.with_prerequisites(only) if only is not None else {c.id for c in plan.checks}
        self._checks = [c for c in plan.checks if c.id in selected and c.id not in (done or {})]
        self.statuses: dict[str, Status] = dict(done or {})
        self.outcomes: dict[str, Finished] = {k: v for k, v in (outcomes or {}).items() if k in self.statuses}
        self.confirm = confirm
        self.resources = resources or {}
        self._timeout_scale = timeout_scale
        self._max_parallel = max_parallel
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._reported: set[str] = set()
        self._cancelled = False
        if self.scope.closed:
            raise RuntimeError("this verification is closed; start a new one")

    def emit(self, event: Event) -> None:
        self._queue.put_nowait(_stamped(event, self.id, self.connection))

    def cancel(self) -> None:
        self._cancelled = True
        for task in self._tasks.values():
            task.cancel()

    async def _run_one(self, check: Check) -> None:
        if self._slots is None:
            await self._execute(check)
            return
        async with self._slots:
            await self._execute(check)

    async def _execute(self, check: Check) -> None:
        started = time.monotonic()
        self.emit(Started(check=check.id, title=check.title))
        clock = _Clock(check.timeout * self._timeout_scale)
        context = Context(self, check, clock)
        outcome = await self._supervise(check, context, clock)
        try:
            public = outcome.public()
        except TypeError as error:
            from .problems import INTERNAL

            public = Outcome.failed(f"the check itself failed: {error}", INTERNAL)
        if public.status.ok:
            self.facts.update(public.facts)
            self._replace_private(outcome.private)
        duration = int((time.monotonic() - started) * 1000)
        self._report(Finished(check=check.id, title=check.title, outcome=public, duration_ms=duration))

    def _replace_private(self, fresh: Mapping[str, Any]) -> None:
        """Take a check's private values; the ones they replace (from an earlier run of the check) are released
        in the run's threads."""
        scope = self.scope
        for name, value in fresh.items():
            old = scope.private.get(name)
            close = scope.closers.pop(id(old), None) if old is not None and old is not value else None
            if close is not None:
                scope.release(close)
            scope.private[name] = value
            if scope.closed and id(value) in scope.closers:  # finished after close(): nobody will use it
                scope.release(scope.closers.pop(id(value)))

    def _report(self, event: Finished) -> None:
        if event.check not in self._reported:
            self._reported.add(event.check)
            self.emit(event)

    def _task_done(self, check: Check, task: asyncio.Task[None]) -> None:
        """A task cancelled before it ever ran (a cancel right after it was scheduled, or while it waited for a
        slot) reports nothing itself; the run must still hear that the check was cancelled."""
        if check.id not in self._reported:
            self._report(
                Finished(
                    check=check.id,
                    title=check.title,
                    outcome=Outcome(Status.CANCELLED, "cancelled before it started"),
                    duration_ms=0,
                )
            )

    async def _supervise(self, check: Check, context: Context, clock: _Clock) -> Outcome:
        """Run the check as its own task and end it when its clock (which pauses) runs out."""
        task = asyncio.ensure_future(check.run(context))
        try:
            while not task.done():
                remaining = clock.remaining()
                if remaining is None:
                    resumed = asyncio.ensure_future(clock.resumed.wait())
                    await asyncio.wait({task, resumed}, return_when=asyncio.FIRST_COMPLETED)
                    resumed.cancel()
                    continue
                if remaining <= 0:
                    task.cancel()
                    finished = await _settled(task)
                    if finished is not None:  # it completed something it could not undo, and says so
                        return finished
                    from .problems import TIMEOUT

                    return Outcome.failed(f"no answer within {clock.budget:g} s", TIMEOUT)
                await asyncio.wait({task}, timeout=remaining)
            return task.result()
        except CheckFailed as failure:
            return failure.outcome
        except asyncio.CancelledError:
            task.cancel()
            finished = await _settled(task)
            return finished if finished is not None else Outcome(Status.CANCELLED, "cancelled")
        except Exception as error:  # noqa: BLE001  (a bug in a check must not take the whole run down)
            from .problems import INTERNAL

            return Outcome.failed(
                f"the check itself failed: {type(error).__name__}", INTERNAL, redact(repr(error), limit=2000)
            )

    def _schedule(self) -> None:
        changed = True
        while changed:
            changed = False
            for check in self._checks:
                if check.id in self.statuses or check.id in self._tasks:
                    continue
                if self._cancelled:
                    self._finish_without_running(check, Status.CANCELLED, "cancelled before it started")
                    changed = True
                    continue
                if not all(n in self.statuses for n in check.needs):
                    continue
                blocked = [n for n in check.needs if not self.statuses[n].ok]
                if blocked:
                    # Named by title, as the admin sees the checks (an id like m365.token.graph is ours).
                    names = ", ".join(f"{self.plan.get(n).title} ({self.statuses[n].value})" for n in blocked)
                    self._finish_without_running(check, Status.SKIPPED, f"waits on {names}")
                    changed = True
                    continue
                task = asyncio.create_task(self._run_one(check), name=check.id, context=self.scope.context.copy())
                task.add_done_callback(functools.partial(self._task_done, check))
                self._tasks[check.id] = task

    def _finish_without_running(self, check: Check, status: Status, detail: str) -> None:
        self.statuses[check.id] = status
        self._reported.add(check.id)
        event = _stamped(
            Finished(check=check.id, title=check.title, outcome=Outcome(status, detail), duration_ms=0),
            self.id,
            self.connection,
        )
        self.outcomes[check.id] = event
        self._queue.put_nowait(event)

    async def events(self) -> AsyncIterator[Event]:
        started = time.monotonic()
        total = len(self._checks)
        reported = {c.id for c in self._checks}  # a re-run announces only what it runs again
        planned = tuple(info for info in self.plan.info() if info.id in reported)
        yield _stamped(Planned(checks=planned), self.id, self.connection)
        self._schedule()
        finished_ids: set[str] = set()
        try:
            while len(finished_ids) < total:
                event = await self._queue.get()
                if isinstance(event, Finished):
                    finished_ids.add(event.check)
                    self.statuses[event.check] = event.status
                    self.outcomes[event.check] = event
                    self._tasks.pop(event.check, None)
                    self._schedule()
                yield event
        finally:
            for task in self._tasks.values():
                task.cancel()
            for task in list(self._tasks.values()):
                with contextlib.suppress(BaseException):
                    await task
        yield _stamped(self.summary(int((time.monotonic() - started) * 1000)), self.id, self.connection)

    def summary(self, duration_ms: int) -> Summary:
        """The state of the whole verification: this run's checks and those an earlier run settled."""
        counts = dict.fromkeys(Status, 0)
        for check in self.plan.checks:
            if check.id in self.statuses:
                counts[self.statuses[check.id]] += 1
        if counts[Status.FAILED]:
            overall = Status.FAILED
        elif counts[Status.CANCELLED]:
            overall = Status.CANCELLED
        elif counts[Status.WARNING] or counts[Status.SKIPPED]:
            overall = Status.WARNING
        else:
            overall = Status.PASSED
        return Summary(status=overall, counts=counts, duration_ms=duration_ms)

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> Run:
        """A new run of `check_id`, of what it needs that did not pass (so re-running a skipped check first runs
        what it waited on), and of everything that depends on those, on the facts gathered so far."""
        roots = {check_id} | {
            n
            for n in self.plan.with_prerequisites([check_id])
            if n != check_id and not self.statuses.get(n, Status.SKIPPED).ok
        }
        again: set[str] = set()
        for root in roots:
            again |= self.plan.dependants(root)
        done = {k: v for k, v in self.statuses.items() if k not in again}
        return Run(
            self.plan,
            facts=self.facts,
            only=again | set(done),
            done=done,
            confirm=confirm or self.confirm,
            resources=self.resources,
            timeout_scale=self._timeout_scale,
            max_parallel=self._max_parallel,
            scope=self.scope,
            connection=self.connection,
            outcomes=self.outcomes,
        )

    def close(self) -> None:
        """Cancel what still runs and release the scope. Checks cut short this way end as cancelled, never as
        failures."""
        self.cancel()
        self.scope.close()


def _quietly(close: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):  # a session the server already dropped
        close()


async def _settled(task: asyncio.Future[Outcome]) -> Outcome | None:
    """Wait for a cancelled check to wind down: its outcome if it still produced one (a check may finish an
    action it cannot undo and report it), None if it ended cancelled or broken."""
    try:
        return await task
    except BaseException:  # noqa: BLE001  (cancelled, or failed while being cancelled: either way, no outcome)
        return None


def _stamped(event: Event, run: str, connection: str) -> Any:
    return dataclasses.replace(event, run=run, connection=connection)


__all__ = ["Check", "Confirm", "Context", "Plan", "Run", "RunScope", "refuse"]
