"""The engine's mechanics on synthetic plans: ordering, concurrency, skips, timeouts, failures, cancel, re-run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from workbench.checks import problems
from workbench.checks.engine import Check, Context, Plan, Run
from workbench.checks.events import Finished, Outcome, Started, Status, Summary


def collect(run: Run) -> list[Any]:
    async def go() -> list[Any]:
        return [event async for event in run.events()]

    return asyncio.run(go())


def finished(events: list[Any]) -> dict[str, Finished]:
    return {e.check: e for e in events if isinstance(e, Finished)}


def passing(name: str, delay: float = 0.0, **facts: Any) -> Any:
    async def run(ctx: Context) -> Outcome:
        await asyncio.sleep(delay)
        return Outcome.passed(f"{name} ok", **facts)

    return run


async def failing(ctx: Context) -> Outcome:
    return Outcome.failed("broken", problems.INTERNAL)


def test_independent_checks_run_concurrently_and_dependants_wait() -> None:
    plan = Plan(
        (
            Check("a", "A", passing("a", 0.05, x=1)),
            Check("b", "B", passing("b", 0.05)),
            Check("c", "C", passing("c"), ("a", "b")),
        )
    )
    events = collect(Run(plan))
    order = [(type(e).__name__, getattr(e, "check", None)) for e in events]
    assert order[0] == ("Planned", None)  # the whole plan is announced first
    assert order[1:3] == [("Started", "a"), ("Started", "b")]  # b did not wait for a
    assert order.index(("Started", "c")) > max(order.index(("Finished", "a")), order.index(("Finished", "b")))
    assert isinstance(events[-1], Summary) and events[-1].status is Status.PASSED


def test_failure_skips_dependants_with_the_reason() -> None:
    plan = Plan(
        (Check("a", "A", failing), Check("b", "B", passing("b"), ("a",)), Check("c", "C", passing("c"), ("b",)))
    )
    result = finished(collect(Run(plan)))
    assert result["a"].status is Status.FAILED and result["a"].outcome.problem is problems.INTERNAL
    # The reason names the checks by their titles, as the admin sees them, never by their internal ids.
    assert (result["b"].status, result["b"].outcome.detail) == (Status.SKIPPED, "waits on A (failed)")
    assert (result["c"].status, result["c"].outcome.detail) == (Status.SKIPPED, "waits on B (skipped)")


def test_timeout_and_crash_are_failures_not_hangs() -> None:
    async def hang(ctx: Context) -> Outcome:
        await asyncio.sleep(60)
        return Outcome.passed("never")

    async def crash(ctx: Context) -> Outcome:
        raise RuntimeError("password=hunter2 in a message")

    plan = Plan((Check("slow", "Slow", hang, timeout=0.1), Check("bug", "Bug", crash)))
    result = finished(collect(Run(plan)))
    assert result["slow"].outcome.problem is problems.TIMEOUT and "0.1 s" in result["slow"].outcome.detail
    assert result["bug"].outcome.problem is problems.INTERNAL


def test_facts_flow_to_dependants() -> None:
    async def use(ctx: Context) -> Outcome:
        return Outcome.passed(f"got {ctx.fact('token')}")

    plan = Plan((Check("a", "A", passing("a", token="T1")), Check("b", "B", use, ("a",))))
    assert finished(collect(Run(plan)))["b"].outcome.detail == "got T1"


def test_cancel_marks_running_and_waiting_checks_cancelled() -> None:
    plan = Plan(
        (Check("a", "A", passing("a", 5)), Check("b", "B", passing("b"), ("a",)), Check("c", "C", passing("c")))
    )

    async def go() -> list[Any]:
        run = Run(plan)
        seen = []
        async for event in run.events():
            seen.append(event)
            if isinstance(event, Started) and event.check == "a":
                run.cancel()
        return seen

    events = asyncio.run(go())
    result = finished(events)
    assert result["a"].status is Status.CANCELLED and result["b"].status is Status.CANCELLED
    assert isinstance(events[-1], Summary) and events[-1].status is Status.CANCELLED


def test_rerun_repeats_one_check_and_its_dependants_with_the_facts_gathered() -> None:
    calls: dict[str, int] = {"a": 0, "b": 0, "c": 0}

    def counted(name: str, **facts: Any) -> Any:
        async def run(ctx: Context) -> Outcome:
            calls[name] += 1
            if name == "c":
                return Outcome.passed(f"sees {ctx.fact('k')}")
            return Outcome.passed(name, **facts)

        return run

    plan = Plan(
        (
            Check("a", "A", counted("a", k="v")),
            Check("b", "B", counted("b"), ("a",)),
            Check("c", "C", counted("c"), ("a",)),
        )
    )
    first = Run(plan)
    collect(first)
    again = collect(first.rerun("b"))
    assert calls == {"a": 1, "b": 2, "c": 1}
    assert [e.check for e in again if isinstance(e, Finished)] == ["b"]


def test_only_runs_the_check_and_its_prerequisites() -> None:
    plan = Plan((Check("a", "A", passing("a")), Check("b", "B", passing("b"), ("a",)), Check("c", "C", passing("c"))))
    assert set(finished(collect(Run(plan, only=["b"])))) == {"a", "b"}


def test_plans_must_be_well_formed() -> None:
    with pytest.raises(ValueError, match="not earlier in the plan"):
        Plan((Check("b", "B", passing("b"), ("a",)),))
    with pytest.raises(ValueError, match="duplicate"):
        Plan((Check("a", "A", passing("a")), Check("a", "A", passing("a"))))
    with pytest.raises(KeyError, match="no check 'zz'"):
        Plan((Check("a", "A", passing("a")),)).dependants("zz")


def test_blocking_calls_do_not_block_the_loop() -> None:
    import threading
    import time

    beats: list[float] = []
    done = threading.Event()

    async def blocking(ctx: Context) -> Outcome:
        await ctx.blocking(time.sleep, 0.2)
        done.set()
        return Outcome.passed("slept in a thread")

    async def go() -> None:
        async def heartbeat() -> None:
            while not done.is_set():
                beats.append(time.monotonic())
                await asyncio.sleep(0.01)

        beat = asyncio.create_task(heartbeat())
        [event async for event in Run(Plan((Check("b", "B", blocking),))).events()]
        await beat

    asyncio.run(go())
    assert len(beats) >= 5  # the loop kept running while the call slept


def test_problem_placeholders() -> None:
    filled = problems.EWS_DISABLED.fill(app_id="1234")
    assert any('@{Add="1234"}' in (f.command or "") for f in filled.fixes)
    assert "{app_id}" not in str(filled) and "{account}" in str(problems.ErrorImpersonateUserDenied.fill().fixes)


def test_the_top_level_api_is_lazy_and_complete() -> None:
    import subprocess
    import sys

    code = (
        "import sys, workbench; assert 'msal' not in sys.modules and 'workbench.lab' not in sys.modules; "
        "from workbench import Lab, verify, verify_sync, Report, M365Draft, OnPremDraft, open_home; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
