"""The verification engine: a plan of checks run as a DAG, streamed as events.

Independent checks run concurrently; a check starts when everything it needs has passed (or warned), and is
skipped when one of them failed. Blocking client libraries run in worker threads through `Context.blocking`, so
the event loop that consumes the stream (a Textual UI, the CLI) never stalls. Every check has a timeout; a
cancelled run reports every unfinished check as cancelled. A finished run can re-run one check and what depends
on it, reusing the facts the rest gathered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from .problems import Problem

T = TypeVar("T")


class Status(StrEnum):
    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def ok(self) -> bool:
        return self in (Status.PASSED, Status.WARNING)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    detail: str
    problem: Problem | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    raw_error: str | None = None  # the library's own words, redacted, for the details view

    @classmethod
    def passed(cls, detail: str, **facts: Any) -> Outcome:
        return cls(Status.PASSED, detail, facts=facts)

    @classmethod
    def warning(cls, detail: str, problem: Problem | None = None, **facts: Any) -> Outcome:
        return cls(Status.WARNING, detail, problem, facts=facts)

    @classmethod
    def failed(cls, detail: str, problem: Problem, raw_error: str | None = None, **facts: Any) -> Outcome:
        return cls(Status.FAILED, detail, problem, facts=facts, raw_error=raw_error)


class CheckFailed(Exception):
    """Raised inside a check to end it with a failed outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    run: Callable[[Context], Awaitable[Outcome]]
    needs: tuple[str, ...] = ()
    timeout: float = 30.0


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Started:
    check: str
    title: str


@dataclass(frozen=True, slots=True)
class Progress:
    check: str
    title: str
    message: str
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    check: str
    title: str
    outcome: Outcome
    duration_ms: int

    @property
    def status(self) -> Status:
        return self.outcome.status


@dataclass(frozen=True, slots=True)
class Summary:
    status: Status  # failed if anything failed, else cancelled, else warning, else passed
    counts: Mapping[Status, int]
    duration_ms: int

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED


Event = Started | Progress | Finished | Summary


# ---------------------------------------------------------------- what a check can use


Confirm = Callable[[str], Awaitable[bool]]


async def _never(question: str) -> bool:
    return False


class Context:
    """Everything a check may use: the facts gathered so far, progress reporting, blocking calls, confirmation."""

    def __init__(
        self,
        check: Check,
        facts: dict[str, Any],
        emit: Callable[[Event], None],
        confirm: Confirm,
        resources: Mapping[str, Any],
        cleanup: list[Callable[[], Any]],
    ) -> None:
        self._check = check
        self.facts = facts
        self._emit = emit
        self.confirm = confirm
        self.resources = resources
        self._cleanup = cleanup

    def defer(self, close: Callable[[], Any]) -> None:
        """Release something (a session, a runspace pool) when the run and its re-runs are done with it."""
        self._cleanup.append(close)

    def fact(self, name: str) -> Any:
        if name not in self.facts:
            raise KeyError(f"check {self._check.id} needs fact {name!r}, which no earlier check provided")
        return self.facts[name]

    def progress(self, message: str, done: int | None = None, total: int | None = None) -> None:
        self._emit(Progress(self._check.id, self._check.title, message, done, total))

    async def blocking(self, call: Callable[..., T], *args: Any) -> T:
        """Run a blocking library call in a worker thread. The call itself must carry its own network timeouts;
        the check's timeout bounds how long we wait for it."""
        return await asyncio.to_thread(call, *args)

    def thread_progress(self) -> Callable[[str, int | None, int | None], None]:
        """A progress reporter that worker threads may call."""
        loop = asyncio.get_running_loop()

        def report(message: str, done: int | None = None, total: int | None = None) -> None:
            loop.call_soon_threadsafe(self.progress, message, done, total)

        return report


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
        confirm: Confirm = _never,
        resources: Mapping[str, Any] | None = None,
        timeout_scale: float = 1.0,
        max_parallel: int | None = None,
        cleanup: list[Callable[[], Any]] | None = None,
    ) -> None:
        self.plan = plan
        self._slots = asyncio.Semaphore(max_parallel) if max_parallel else None
        self.facts: dict[str, Any] = facts if facts is not None else {}
        selected = plan.with_prerequisites(only) if only is not None else {c.id for c in plan.checks}
        self._checks = [c for c in plan.checks if c.id in selected and c.id not in (done or {})]
        self.statuses: dict[str, Status] = dict(done or {})
        self.outcomes: dict[str, Finished] = {}
        self._confirm = confirm
        self._resources = resources or {}
        self._cleanup: list[Callable[[], Any]] = cleanup if cleanup is not None else []
        self._timeout_scale = timeout_scale
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelled = False

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
        self._queue.put_nowait(Started(check.id, check.title))
        context = Context(check, self.facts, self._queue.put_nowait, self._confirm, self._resources, self._cleanup)
        timeout = check.timeout * self._timeout_scale
        try:
            outcome = await asyncio.wait_for(check.run(context), timeout)
        except CheckFailed as failure:
            outcome = failure.outcome
        except TimeoutError:
            from .problems import TIMEOUT

            outcome = Outcome.failed(f"no answer within {timeout:g} s", TIMEOUT)
        except asyncio.CancelledError:
            outcome = Outcome(Status.CANCELLED, "cancelled")
        except Exception as error:  # noqa: BLE001  (a bug in a check must not take the whole run down)
            from .problems import INTERNAL

            outcome = Outcome.failed(f"the check itself failed: {type(error).__name__}", INTERNAL, repr(error))
        if outcome.status.ok:
            self.facts.update(outcome.facts)
        duration = int((time.monotonic() - started) * 1000)
        self._queue.put_nowait(Finished(check.id, check.title, outcome, duration))

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
                    names = ", ".join(f"{n} ({self.statuses[n].value})" for n in blocked)
                    self._finish_without_running(check, Status.SKIPPED, f"needs {names}")
                    changed = True
                    continue
                self._tasks[check.id] = asyncio.create_task(self._run_one(check), name=check.id)

    def _finish_without_running(self, check: Check, status: Status, detail: str) -> None:
        self.statuses[check.id] = status
        event = Finished(check.id, check.title, Outcome(status, detail), 0)
        self.outcomes[check.id] = event
        self._queue.put_nowait(event)

    async def events(self) -> AsyncIterator[Event]:
        started = time.monotonic()
        total = len(self._checks)
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
        mine = [self.outcomes[c.id] for c in self._checks if c.id in self.outcomes]
        counts = {status: sum(1 for e in mine if e.status is status) for status in Status}
        if counts[Status.FAILED]:
            overall = Status.FAILED
        elif counts[Status.CANCELLED]:
            overall = Status.CANCELLED
        elif counts[Status.WARNING] or counts[Status.SKIPPED]:
            overall = Status.WARNING
        else:
            overall = Status.PASSED
        yield Summary(overall, counts, int((time.monotonic() - started) * 1000))

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> Run:
        """A new run of `check_id` and everything that depends on it, on the facts gathered so far."""
        again = self.plan.dependants(check_id)
        done = {k: v for k, v in self.statuses.items() if k not in again}
        return Run(
            self.plan,
            facts=self.facts,
            only=again | set(done),
            done=done,
            confirm=confirm or self._confirm,
            resources=self._resources,
            timeout_scale=self._timeout_scale,
            cleanup=self._cleanup,
        )

    def close(self) -> None:
        """Release what the checks deferred (newest first). Call once the run and its re-runs are over."""
        while self._cleanup:
            close = self._cleanup.pop()
            with contextlib.suppress(Exception):  # closing a session the server already dropped may fail
                close()
