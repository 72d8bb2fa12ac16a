"""One process, many runs: what the console does for hours. Each test here failed on the engine as the one-shot
CLI used it — routes shared by every run, one thread pool for all, confirmations inside the timeout, re-runs that
forgot the admin, tokens and passwords in events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.engine.conftest import m365_connection, onprem_connection, target, verify
from tests.engine.test_engine import collect, finished
from workbench.checks import problems
from workbench.checks.engine import Check, Context, Plan, Run
from workbench.checks.events import (
    AwaitingConfirmation,
    ConfirmationAnswered,
    ConfirmationRequest,
    Event,
    Finished,
    Outcome,
    Planned,
    Progress,
    Status,
    is_public,
)
from workbench.lab import Lab
from workbench.model import Secret
from workbench.verification import Verification, verify_sync


async def _run_all(*verifications: Verification) -> list[list[Event]]:
    async def one(v: Verification) -> list[Event]:
        try:
            return [e async for e in v.events()]
        finally:
            v.close()

    return list(await asyncio.gather(*(one(v) for v in verifications)))


# ---------------------------------------------------------------- 1. routes and trust belong to one run


@pytest.mark.kerberos
def test_a_mistyped_pin_does_not_poison_the_next_run_of_the_same_host(make_lab: Callable[..., Lab]) -> None:
    state = make_lab().state
    wrong = onprem_connection(state, "fqdn", ca_bundle="", pin_sha256="AB" * 32)
    right = onprem_connection(state, "fqdn")  # the same host, trusted through the lab's CA bundle
    first = verify(state, wrong)
    assert first.failures() == [("onprem.tls", "TLS_PIN_MISMATCH")]
    second = verify(state, right)
    assert second.failures() == [], second.failures()


@pytest.mark.kerberos
def test_two_runs_to_one_host_with_different_trust_at_the_same_time(make_lab: Callable[..., Lab]) -> None:
    state = make_lab().state
    pinned = onprem_connection(state, "fqdn", ca_bundle="", pin_sha256=state.onprem.certificate_sha256)
    wrong = onprem_connection(state, "fqdn", ca_bundle="", pin_sha256="CD" * 32)
    bundle = onprem_connection(state, "fqdn")
    runs = asyncio.run(_run_all(*(Verification(target(state, c)) for c in (pinned, wrong, bundle, pinned))))
    results = [{c: e.status for c, e in finished(events).items()} for events in runs]
    details = [
        {c: (e.outcome.detail, e.outcome.raw_error) for c, e in finished(events).items() if not e.status.ok}
        for events in runs
    ]
    assert all(status.ok for status in results[0].values()), details[0]
    assert results[1]["onprem.tls"] is Status.FAILED
    assert all(status.ok for status in results[2].values()), details[2]
    assert all(status.ok for status in results[3].values()), details[3]


# ---------------------------------------------------------------- 2. threads and timeouts


def _sleeper(seconds: float) -> Callable[[Context], Any]:
    async def run(ctx: Context) -> Outcome:
        await ctx.blocking(time.sleep, seconds)
        return Outcome.passed(f"slept {seconds} s in a thread")

    return run


def test_a_busy_run_does_not_starve_another_runs_threads() -> None:
    busy = Plan(tuple(Check(f"busy{i}", "Busy", _sleeper(1.5), timeout=10) for i in range(8)))
    quick = Plan((Check("vault", "A local read", _sleeper(0.05), timeout=0.5),))

    async def go() -> list[Any]:
        crowd = asyncio.ensure_future(collect_async(Run(busy)))
        await asyncio.sleep(0.1)  # the busy run holds every thread it has
        result = await collect_async(Run(quick))
        await crowd
        return result

    result = finished(asyncio.run(go()))
    assert result["vault"].status is Status.PASSED, result["vault"].outcome.detail


async def collect_async(run: Run) -> list[Any]:
    try:
        return [event async for event in run.events()]
    finally:
        run.close()


def test_the_timeout_counts_from_when_a_thread_takes_the_work() -> None:
    # Twelve checks of 0.4 s on six threads: the second six wait 0.4 s for a thread. Their 0.7 s budget is for
    # their own work, so none times out.
    plan = Plan(tuple(Check(f"c{i}", "Check", _sleeper(0.4), timeout=0.7) for i in range(12)))
    run = Run(plan)
    try:
        result = finished(collect(run))
    finally:
        run.close()
    assert {e.status for e in result.values()} == {Status.PASSED}, [e.outcome.detail for e in result.values()]


def test_a_real_timeout_still_fires() -> None:
    plan = Plan((Check("hang", "Hangs in a thread", _sleeper(3), timeout=0.2),))
    run = Run(plan)
    try:
        result = finished(collect(run))
    finally:
        run.close()
    assert result["hang"].outcome.problem is problems.TIMEOUT


@pytest.mark.kerberos
def test_impersonation_checks_do_not_queue_behind_the_enumeration(make_lab: Callable[..., Lab]) -> None:
    state = make_lab(mailboxes=4000).state
    result = verify(state, onprem_connection(state, "fqdn"), timeout=30)
    assert result.failures() == []
    order = [e.check for e in result.events if isinstance(e, Finished)]
    assert order.index("onprem.ews.impersonation") < order.index("onprem.mailboxes"), order


# ---------------------------------------------------------------- 3. confirmation stops the clock


def _asks(answer: bool) -> Callable[[Context], Any]:
    async def run(ctx: Context) -> Outcome:
        request = ConfirmationRequest(
            action=problems.Action.GRANT_IMPERSONATION,
            question="Grant it?",
            command="New-ManagementRoleAssignment ...",
            account="admin@contoso.com",
            server="EXCH01",
        )
        if await ctx.confirm(request):
            return Outcome.passed("granted")
        return Outcome.failed("refused", problems.ErrorImpersonateUserDenied)

    return run


def test_waiting_for_the_admin_is_not_the_checks_time() -> None:
    async def slow_reader(request: ConfirmationRequest) -> bool:
        await asyncio.sleep(0.6)  # the admin reads the question for longer than the check's timeout
        return True

    events = collect(Run(Plan((Check("grant", "Grant", _asks(True), timeout=0.3),)), confirm=slow_reader))
    assert finished(events)["grant"].status is Status.PASSED, finished(events)["grant"].outcome.detail
    waiting = [e for e in events if isinstance(e, AwaitingConfirmation)]
    answered = [e for e in events if isinstance(e, ConfirmationAnswered)]
    assert len(waiting) == 1 and waiting[0].request.account == "admin@contoso.com"
    assert len(answered) == 1 and answered[0].accepted


@pytest.mark.kerberos
def test_cancel_while_a_confirmation_is_open_grants_nothing(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("no-impersonation")
    state = lab.state
    assert lab.org is not None
    before = len(lab.org.assignments)
    asked: list[ConfirmationRequest] = []

    async def never_answers(request: ConfirmationRequest) -> bool:
        asked.append(request)
        await asyncio.Event().wait()
        return True

    async def go() -> dict[str, Status]:
        verification = Verification(target(state, onprem_connection(state, "fqdn")), never_answers)
        statuses: dict[str, Status] = {}
        try:
            async for event in verification.events():
                if isinstance(event, AwaitingConfirmation):
                    verification.cancel()
                if isinstance(event, Finished):
                    statuses[event.check] = event.status
        finally:
            verification.close()
        return statuses

    statuses = asyncio.run(go())
    assert statuses["onprem.impersonation"] is Status.CANCELLED
    assert len(lab.org.assignments) == before
    request = asked[0]
    assert request.action is problems.Action.GRANT_IMPERSONATION
    assert request.account == state.onprem.admin_upn
    assert request.command.startswith("New-ManagementRoleAssignment") and state.onprem.admin_upn in request.command


# ---------------------------------------------------------------- 4. re-run


@pytest.mark.kerberos
def test_rerun_takes_the_admins_answer(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("no-impersonation")
    state = lab.state

    async def yes(request: ConfirmationRequest) -> bool:
        return True

    async def go() -> dict[str, Status]:
        verification = Verification(target(state, onprem_connection(state, "fqdn")))  # refuses by default
        try:
            first = [e async for e in verification.events()]
            assert finished(first)["onprem.impersonation"].status is Status.FAILED
            again = [e async for e in verification.rerun("onprem.impersonation", confirm=yes)]
        finally:
            verification.close()
        return {c: e.status for c, e in finished(again).items()}

    statuses = asyncio.run(go())
    assert statuses == {"onprem.impersonation": Status.PASSED, "onprem.ews.impersonation": Status.PASSED}


def test_rerunning_a_skipped_check_runs_what_it_waited_on() -> None:
    attempts = {"a": 0}

    async def flaky(ctx: Context) -> Outcome:
        attempts["a"] += 1
        if attempts["a"] == 1:
            return Outcome.failed("not yet", problems.TIMEOUT)
        return Outcome.passed("now it works", token="T")

    async def uses(ctx: Context) -> Outcome:
        return Outcome.passed(f"got {ctx.fact('token')}")

    plan = Plan((Check("a", "A", flaky), Check("b", "B", uses, ("a",)), Check("c", "C", _sleeper(0))))
    first = Run(plan)
    result = finished(collect(first))
    assert result["b"].status is Status.SKIPPED
    again = collect(first.rerun("b"))
    assert {c: e.status for c, e in finished(again).items()} == {"a": Status.PASSED, "b": Status.PASSED}
    assert finished(again)["b"].outcome.detail == "got T"
    summary = again[-1]
    assert summary.counts[Status.PASSED] == 3  # the verification as it stands, c included
    first.close()


# ---------------------------------------------------------------- 5. nothing secret in what a run shows


@pytest.mark.kerberos
def test_events_reports_and_reprs_carry_no_secret(make_lab: Callable[..., Lab]) -> None:
    state = make_lab().state
    secrets = (state.m365.client_secret, state.onprem.admin_password, "eyJ", "Bearer ")
    for connection in (m365_connection(state), m365_connection(state, "certificate"), onprem_connection(state)):
        result = verify(state, connection)
        assert result.failures() == []
        shown = repr(result.events)
        for secret in secrets:
            assert secret not in shown, (connection.name, secret)
        for event in result.events:
            if isinstance(event, Finished):
                assert all(is_public(v) for v in event.outcome.facts.values()), event.outcome.facts
                assert not event.outcome.private
            if isinstance(event, Planned | Progress | Finished):
                assert event.connection == connection.id and event.run
    report = verify_sync(m365_connection(state), target=target(state, m365_connection(state)))
    assert "eyJ" not in repr(report) and state.m365.client_secret not in repr(report)
    assert "eyJ" not in report._repr_html_()


def test_internal_failures_are_redacted_and_private_facts_stay_private() -> None:
    async def crash(ctx: Context) -> Outcome:
        raise RuntimeError("connect failed: password=hunter2 token=abc.def")

    async def leaky(ctx: Context) -> Outcome:
        return Outcome.passed("oops", password=Secret("hunter2"))

    async def keeps(ctx: Context) -> Outcome:
        return Outcome.passed("kept", private={"password": Secret("hunter2")}, user="admin")

    async def reads(ctx: Context) -> Outcome:
        return Outcome.passed(f"password has {len(ctx.fact('password'))} characters")

    plan = Plan(
        (
            Check("bug", "Bug", crash),
            Check("leak", "Leak", leaky),
            Check("keep", "Keep", keeps),
            Check("read", "Read", reads, ("keep",)),
        )
    )
    run = Run(plan)
    events = collect(run)
    result = finished(events)
    assert result["bug"].outcome.problem is problems.INTERNAL
    assert "hunter2" not in (result["bug"].outcome.raw_error or "") and "[redacted]" in (
        result["bug"].outcome.raw_error or ""
    )
    assert result["leak"].outcome.problem is problems.INTERNAL  # a secret offered as a public fact is refused
    assert result["read"].outcome.detail == "password has 7 characters"
    assert "hunter2" not in repr(events)
    assert run.facts == {"user": "admin"}


@pytest.mark.kerberos
def test_the_lab_never_changes_the_environment_under_running_clients(make_lab: Callable[..., Lab]) -> None:
    """requests iterates os.environ for proxies; the lab's NTLM acceptor once swapped a variable per handshake and
    a concurrent client died of a KeyError. The variable is now set once, before anything runs."""
    import os
    import threading

    state = make_lab().state
    before = dict(os.environ)
    errors: list[BaseException] = []
    done = threading.Event()

    def iterate() -> None:
        while not done.is_set():
            try:
                dict(os.environ.items())
            except BaseException as error:  # noqa: BLE001
                errors.append(error)
                return

    reader = threading.Thread(target=iterate)
    reader.start()
    try:
        result = verify(state, onprem_connection(state, "fqdn"))
    finally:
        done.set()
        reader.join()
    assert result.failures() == []
    assert errors == [] and dict(os.environ) == before


@pytest.mark.kerberos
def test_a_bare_run_gets_a_route_table_of_its_own(make_lab: Callable[..., Lab]) -> None:
    from workbench.verification import plan_for

    state = make_lab().state
    connection = onprem_connection(state, "fqdn")
    run = Run(plan_for(connection), resources={"target": target(state, connection)})
    try:
        result = finished(collect(run))
    finally:
        run.close()
    assert {c: e.status for c, e in result.items() if not e.status.ok} == {}


def test_cancel_right_after_a_check_finishes_never_hangs() -> None:
    """A consumer that cancels on a Finished event: the dependants were scheduled but had not run yet."""
    plan = Plan(
        (Check("a", "A", _sleeper(0)), Check("b", "B", _sleeper(0), ("a",)), Check("c", "C", _sleeper(0), ("a",)))
    )

    async def go(max_parallel: int | None) -> list[Any]:
        run = Run(plan, max_parallel=max_parallel)
        seen = []
        try:
            async for event in run.events():
                seen.append(event)
                if isinstance(event, Finished) and event.check == "a":
                    run.cancel()
        finally:
            run.close()
        return seen

    for limit in (None, 1):
        events = asyncio.run(asyncio.wait_for(go(limit), 10))
        result = finished(events)
        assert {c: e.status for c, e in result.items()} == {
            "a": Status.PASSED,
            "b": Status.CANCELLED,
            "c": Status.CANCELLED,
        }
        assert events[-1].status is Status.CANCELLED


def test_closing_during_a_run_cancels_and_a_closed_verification_refuses_reruns(make_lab: Callable[..., Lab]) -> None:
    import pytest

    state = make_lab().state

    async def go() -> tuple[dict[str, Status], Verification]:
        verification = Verification(target(state, onprem_connection(state, "fqdn")))
        statuses: dict[str, Status] = {}
        async for event in verification.events():
            if isinstance(event, Finished):
                statuses[event.check] = event.status
                if event.check == "onprem.locate":
                    verification.close()
        return statuses, verification

    statuses, verification = asyncio.run(asyncio.wait_for(go(), 60))
    assert Status.FAILED not in statuses.values(), statuses
    assert statuses["onprem.tls"] is Status.CANCELLED
    with pytest.raises(RuntimeError, match="closed"):
        verification.rerun("onprem.tls")


def test_reruns_release_what_they_replace_and_close_leaves_no_protocol(make_lab: Callable[..., Lab]) -> None:
    from exchangelib.protocol import Protocol

    state = make_lab().state
    before = len(Protocol._protocol_cache)

    async def go(connection: Any, again: str) -> tuple[int, int]:
        verification = Verification(target(state, connection))
        try:
            [e async for e in verification.events()]
            owned = len(verification.run.scope.closers)
            for _ in range(4):
                [e async for e in verification.rerun(again)]
            return owned, len(verification.run.scope.closers)
        finally:
            verification.close()

    for connection, again in (
        (onprem_connection(state, "fqdn"), "onprem.powershell"),
        (m365_connection(state), "m365.discovery"),
    ):
        first, after = asyncio.run(go(connection, again))
        assert first == after, (again, first, after)  # replaced sessions were released, not piled up
    assert len(Protocol._protocol_cache) == before  # every exchangelib protocol was taken out again


@pytest.mark.kerberos
def test_a_grant_under_way_is_reported_as_what_it_did_even_if_cancelled(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab("no-impersonation,ps-slow")
    state = lab.state
    assert lab.org is not None
    before = len(lab.org.assignments)

    async def yes(request: ConfirmationRequest) -> bool:
        return True

    async def go() -> Status:
        verification = Verification(target(state, onprem_connection(state, "fqdn")), yes)
        status = Status.SKIPPED
        try:
            async for event in verification.events():
                if isinstance(event, ConfirmationAnswered):
                    asyncio.get_running_loop().call_later(0.1, verification.cancel)
                if isinstance(event, Finished) and event.check == "onprem.impersonation":
                    status = event.status
        finally:
            verification.close()
        return status

    status = asyncio.run(asyncio.wait_for(go(), 60))
    granted = len(lab.org.assignments) > before
    assert (status is Status.PASSED) == granted, (status, granted)
    assert granted  # 0.1 s after the answer the cmdlet is already running on the (slow) server
