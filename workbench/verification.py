"""Verifying a connection: the plan for its kind, its secrets and certificate from the data directory (through
`home_target`), the run as an async stream of events, a blocking helper that returns a report (rendered as a table
in Jupyter), and the summary stored back on the connection."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .checks import online, onprem
from .checks.engine import Confirm, Plan, Run, refuse
from .checks.events import Event, Finished, Status, Summary
from .checks.target import Target
from .home_target import target_for as target_for  # where the console and the CLI have always found it
from .model import Connection, M365Settings, VerificationStatus, VerificationSummary

if TYPE_CHECKING:
    from storage import Home

    from .registration import RegistrationRun


MAX_PARALLEL = 8  # connections verified at once by `verify --all` and the console's fleet view


def plan_for(connection: Connection) -> Plan:
    settings = connection.settings
    return online.plan(settings) if isinstance(settings, M365Settings) else onprem.plan()


@dataclass
class Verification:
    """One verification: iterate `events()`, re-run a check with `rerun()`, and `close()` when done.

    It owns everything its runs decide — routes and trust, the thread pool, tokens and sessions — and releases
    them on `close()`; nothing is shared with another verification in the same process."""

    target: Target
    confirm: Confirm = refuse
    only: list[str] | None = None
    registration: RegistrationRun | None = None  # automatic registration first, then the checks on its app
    run: Run = field(init=False)

    def __post_init__(self) -> None:
        resources: dict[str, Any] = {"target": self.target}
        if self.registration is not None:
            from .registration import registration_checks

            plan = registration_checks(self.registration)
            resources["registration"] = self.registration
        else:
            plan = plan_for(self.target.connection)
        self.run = Run(
            plan,
            only=self.only,
            confirm=self.confirm,
            resources=resources,
            timeout_scale=max(1.0, self.target.timeout / 20.0),
            connection=self.target.connection.id,
        )

    @property
    def plan(self) -> Plan:
        return self.run.plan

    def events(self) -> AsyncIterator[Event]:
        return self.run.events()

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> AsyncIterator[Event]:
        """Run `check_id` again (with what it needs that did not pass, and what depends on it)."""
        self.run = self.run.rerun(check_id, confirm)
        return self.run.events()

    def rerun_all(self, confirm: Confirm | None = None) -> AsyncIterator[Event]:
        """Every check again, in the same scope (sessions already open are reused)."""
        self.run = Run(
            self.run.plan,
            confirm=confirm or self.run.confirm,
            resources=self.run.resources,
            timeout_scale=max(1.0, self.target.timeout / 20.0),
            scope=self.run.scope,
            connection=self.run.connection,
        )
        return self.run.events()

    def cancel(self) -> None:
        self.run.cancel()

    def close(self) -> None:
        if self.registration is not None:
            self.registration.stop.set()  # a registration's retry loops end with the verification
        self.run.close()


async def verify(
    connection: Connection,
    *,
    home: Home | None = None,
    target: Target | None = None,
    confirm: Confirm | None = None,
    only: list[str] | None = None,
    timeout: float = 20.0,
) -> AsyncIterator[Event]:
    """Verify `connection`, yielding events as they happen. Give `home` (secrets from its vault) or `target`."""
    if target is None:
        if home is None:
            from storage import Home, default_home

            home = Home(default_home())
        target = target_for(home, connection, timeout)
    verification = Verification(target, confirm or refuse, only)
    try:
        async for event in verification.events():
            yield event
    finally:
        verification.close()


@dataclass(frozen=True)
class Report:
    connection: str
    results: tuple[Finished, ...]
    summary: Summary

    @property
    def failed(self) -> bool:
        return self.summary.failed

    def _repr_html_(self) -> str:
        colours = {
            "passed": "#1a7f37",
            "warning": "#9a6700",
            "failed": "#cf222e",
            "skipped": "#6e7781",
            "cancelled": "#6e7781",
        }
        rows = "".join(
            f"<tr><td style='color:{colours[r.status.value]}'>{r.status.value}</td><td>{html.escape(r.title)}</td>"
            f"<td>{html.escape(r.outcome.detail)}</td>"
            f"<td>{html.escape(r.outcome.problem.code) if r.outcome.problem else ''}</td>"
            f"<td style='text-align:right'>{r.duration_ms} ms</td></tr>"
            for r in self.results
        )
        return (
            f"<table><caption>{html.escape(self.connection)}: {self.summary.status.value} "
            f"({self.summary.duration_ms} ms)</caption><tr><th>Status</th><th>Check</th><th>Detail</th>"
            f"<th>Problem</th><th>Time</th></tr>{rows}</table>"
        )


def verify_sync(connection: Connection, **kwargs: Any) -> Report:
    """Blocking helper for scripts and notebooks: run the whole verification and return the report."""

    async def collect() -> Report:
        results: list[Finished] = []
        summary: Summary | None = None
        async for event in verify(connection, **kwargs):
            if isinstance(event, Finished):
                results.append(event)
            elif isinstance(event, Summary):
                summary = event
        assert summary is not None
        return Report(connection.name, tuple(results), summary)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(collect())
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, collect()).result()


def summary_record(summary: Summary, now: datetime | None = None) -> VerificationSummary:
    status = {
        Status.PASSED: VerificationStatus.PASSED,
        Status.WARNING: VerificationStatus.WARNING,
        Status.FAILED: VerificationStatus.FAILED,
        Status.CANCELLED: VerificationStatus.CANCELLED,
    }[summary.status]
    return VerificationSummary(
        at=(now or datetime.now(UTC)).replace(microsecond=0),
        status=status,
        passed=summary.counts[Status.PASSED],
        warnings=summary.counts[Status.WARNING],
        failed=summary.counts[Status.FAILED],
        skipped=summary.counts[Status.SKIPPED],
        duration_ms=summary.duration_ms,
    )
