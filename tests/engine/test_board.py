"""The board folds a run's events into rows a screen can draw at its own pace; re-runs refresh only their rows."""

from __future__ import annotations

import asyncio
from typing import Any

from workbench.checks import problems
from workbench.checks.board import Board, Phase
from workbench.checks.engine import Check, Context, Plan, Run
from workbench.checks.events import Outcome, Planned, Status, Step, StepStatus

attempts = {"a": 0}


async def flaky(ctx: Context) -> Outcome:
    attempts["a"] += 1
    if attempts["a"] == 1:
        return Outcome.failed("first try fails", problems.INTERNAL)
    return Outcome.passed("second try works")


async def counting(ctx: Context) -> Outcome:
    for done in range(1, 501):
        ctx.progress(f"{done} items", done, 500)
    ctx.progress("attempt", step=Step(1, "POST https://x.test/", StepStatus.FAILED, "refused"))
    return Outcome.passed("500 items")


async def fine(ctx: Context) -> Outcome:
    return Outcome.passed("fine")


def plan() -> Plan:
    return Plan(
        (
            Check("a", "Alpha", flaky),
            Check("b", "Bravo", fine, ("a",)),
            Check("c", "Counting", counting),
        )
    )


def feed(board: Board, run: Run) -> list[Any]:
    async def go() -> list[Any]:
        seen = []
        async for event in run.events():
            board.apply(event)
            seen.append(event)
        return seen

    return asyncio.run(go())


def test_rows_follow_the_plan_and_progress_is_coalesced_into_the_row() -> None:
    attempts["a"] = 0
    board = Board()
    run = Run(plan())
    feed(board, run)
    assert [row.id for row in board] == ["a", "b", "c"]
    assert board["a"].status is Status.FAILED and board["a"].phase is Phase.DONE
    assert board["b"].status is Status.SKIPPED
    assert [r.title for r in board.waited_on("b")] == ["Alpha"]
    counting_row = board["c"]
    assert (counting_row.done, counting_row.total) == (500, 500)  # 500 progress events, one row state
    assert counting_row.steps[1].label == "POST https://x.test/"
    assert board.take_dirty() == {"a", "b", "c"}
    assert board.take_dirty() == set()
    assert board.overall() is Status.FAILED and not board.running


def test_a_rerun_announces_and_resets_only_the_checks_it_runs_again() -> None:
    attempts["a"] = 0
    board = Board()
    first = Run(plan())
    feed(board, first)
    board.take_dirty()
    again = first.rerun("a")
    events = feed(board, again)
    planned = events[0]
    assert isinstance(planned, Planned) and {c.id for c in planned.checks} == {"a", "b"}
    assert board["a"].status is Status.PASSED and board["b"].status is Status.PASSED
    assert board["c"].status is Status.PASSED and board["c"].done == 500  # untouched, not reset to waiting
    assert board.take_dirty() == {"a", "b"}
    assert board.overall() is Status.PASSED


def test_a_row_mid_run_shows_running_time_and_counts() -> None:
    ticks = iter([10.0, 12.5])
    board = Board(clock=lambda: next(ticks))
    from workbench.checks.events import Progress, Started

    board.apply(Planned(checks=plan().info()))
    assert board.running and all(row.phase is Phase.WAITING for row in board)
    board.apply(Started(check="c", title="Counting"))
    board.apply(Progress(check="c", title="Counting", message="12,400 mailboxes", done=12400, total=None))
    row = board["c"]
    assert row.phase is Phase.RUNNING and row.detail == "12,400 so far"
    assert row.elapsed_ms(12.5) == 2500
