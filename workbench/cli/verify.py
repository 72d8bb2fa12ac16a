"""`workbench verify NAME | --all`: stream every check as it finishes, explain failures, record the summary.

Human output is one line per check (and one per failure's fix); `--json` prints one JSON object per line as
events happen. Exit codes: 0 nothing failed, 1 a check failed, 2 usage or configuration errors.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from .io import fail

if TYPE_CHECKING:
    import asyncio

SYMBOL = {"passed": "ok", "warning": "!!", "failed": "XX", "skipped": "--", "cancelled": "--"}


def register(commands: Any) -> None:
    parser = commands.add_parser("verify", help="verify connections against the real services (streams each check)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="connections to verify")
    parser.add_argument("--all", action="store_true", help="verify every connection (concurrently)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line, as events happen")
    parser.add_argument("--only", nargs="+", metavar="CHECK_ID", help="run only these checks (and what they need)")
    parser.add_argument("--grant-impersonation", action="store_true", help="grant ApplicationImpersonation if missing")
    parser.add_argument(
        "--allow-autodiscover-redirect",
        action="append",
        default=[],
        metavar="HOST",
        help="follow autodiscover's HTTP redirect to HOST, outside the admin's domain, and sign in there (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=20.0, metavar="S", help="per network call (default 20)")
    parser.set_defaults(handler=run)


def _emit_json(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def _emit_human(connection: str, event: Any, prefix: bool, explained: set[str]) -> None:
    from workbench.checks.events import Finished, Progress, Summary
    from workbench.checks.fix_commands import command_of

    lead = f"[{connection}] " if prefix else ""
    if isinstance(event, Finished):
        outcome = event.outcome
        print(
            f"{lead}{SYMBOL[event.status.value]} {event.title:<34} {outcome.detail} ({event.duration_ms} ms)",
            flush=True,
        )
        if outcome.problem and not event.status.ok:
            if outcome.problem.code in explained:
                print(f"{lead}   {outcome.problem.code}: same cause and fixes as above", flush=True)
                return
            explained.add(outcome.problem.code)
            print(f"{lead}   {outcome.problem.code}: {outcome.problem.title}", flush=True)
            for fix in outcome.problem.fixes[:3]:
                command = command_of(fix, connection, outcome.problem)
                print(f"{lead}   - {fix.text}" + (f"\n{lead}       {command}" if command else ""), flush=True)
    elif isinstance(event, Progress) and event.done is None:
        print(f"{lead}   . {event.message}", flush=True)
    elif isinstance(event, Summary):
        c = {k.value: v for k, v in event.counts.items()}
        print(
            f"{lead}== {event.status.value.upper()}: {c['passed']} passed, {c['warning']} warnings, "
            f"{c['failed']} failed, "
            f"{c['skipped']} skipped in {event.duration_ms / 1000:.1f} s",
            flush=True,
        )


def _event_json(connection: str, event: Any) -> dict[str, Any] | None:
    from workbench.checks.events import (
        AwaitingConfirmation,
        ConfirmationAnswered,
        Finished,
        Planned,
        Progress,
        Summary,
    )

    if isinstance(event, Planned):
        return {
            "event": "planned",
            "connection": connection,
            "run": event.run,
            "checks": [{"check": c.id, "title": c.title, "needs": list(c.needs)} for c in event.checks],
        }
    if isinstance(event, ConfirmationAnswered):
        return {"event": "confirmed", "connection": connection, "check": event.check, "accepted": event.accepted}
    if isinstance(event, AwaitingConfirmation):
        r = event.request
        return {
            "event": "confirmation",
            "connection": connection,
            "check": event.check,
            "action": r.action.value,
            "question": r.question,
            "command": r.command,
            "account": r.account,
            "server": r.server,
        }
    if isinstance(event, Finished):
        problem = event.outcome.problem
        return {
            "event": "check",
            "connection": connection,
            "check": event.check,
            "title": event.title,
            "status": event.status.value,
            "duration_ms": event.duration_ms,
            "detail": event.outcome.detail,
            "problem": _problem_json(connection, problem) if problem else None,
        }
    if isinstance(event, Progress):
        return {
            "event": "progress",
            "connection": connection,
            "check": event.check,
            "message": event.message,
            "done": event.done,
            "total": event.total,
            "step": (
                {"index": event.step.index, "status": event.step.status.value, "label": event.step.label}
                if event.step
                else None
            ),
        }
    if isinstance(event, Summary):
        c = {k.value: v for k, v in event.counts.items()}
        return {
            "event": "summary",
            "connection": connection,
            "status": event.status.value,
            "passed": c["passed"],
            "warnings": c["warning"],
            "failed": c["failed"],
            "skipped": c["skipped"],
            "duration_ms": event.duration_ms,
        }
    return None


def _problem_json(connection: str, problem: Any) -> dict[str, Any]:
    """The catalogue's JSON, with the CLI's command line for the fixes that are workbench operations."""
    from workbench.checks.fix_commands import command_of

    body: dict[str, Any] = problem.as_json()
    body["fixes"] = [
        {**entry, "command": command_of(fix, connection, problem)}
        for entry, fix in zip(body["fixes"], problem.fixes, strict=True)
    ]
    return body


async def _verify_one(
    home: Any, connection: Any, args: argparse.Namespace, prefix: bool, limit: asyncio.Semaphore
) -> Any:
    from workbench import quoting
    from workbench.checks.events import ConfirmationRequest, Summary
    from workbench.checks.problems import Action
    from workbench.verification import Verification, target_for

    allowed = frozenset(getattr(args, "allow_autodiscover_redirect", None) or ())

    async def confirm(request: ConfirmationRequest) -> bool:
        # What this invocation's options allow, and nothing else: the answers belong to this run.
        if request.action is Action.ALLOW_AUTODISCOVER_REDIRECT:
            accepted = request.server.lower() in allowed
            option = f"--allow-autodiscover-redirect {quoting.posix(request.server)}"
            answer = f"yes ({option})" if accepted else f"no: add {option} to follow it"
        elif request.action is Action.GRANT_IMPERSONATION:
            accepted = bool(args.grant_impersonation)
            answer = "yes (--grant-impersonation)" if accepted else "no: add --grant-impersonation to grant it"
        else:
            accepted, answer = False, "no"
        if not args.json:
            print(
                f"[{connection.name}] {request.question} ({request.command} on {request.server}) {answer}", flush=True
            )
        return accepted

    async with limit:
        if getattr(args, "sequential", False) and not args.json:
            print(f"\n--- {connection.name}", flush=True)
        verification = Verification(target_for(home, connection, args.timeout), confirm, args.only)
        summary = None
        explained: set[str] = set()
        try:
            async for event in verification.events():
                if args.json:
                    line = _event_json(connection.name, event)
                    if line is not None:
                        _emit_json(line)
                else:
                    _emit_human(connection.name, event, prefix, explained)
                if isinstance(event, Summary):
                    summary = event
        finally:
            verification.close()
        return summary


def _record(home: Any, results: list[tuple[Any, Any]]) -> None:
    """Store every summary on its connection, in one write that touches nothing else."""
    from storage import StorageError
    from workbench.verification import summary_record

    try:
        home.store.record_verifications({connection.id: summary_record(summary) for connection, summary in results})
    except StorageError as error:
        print(f"warning: the results were not recorded: {error}", file=sys.stderr)


def verify_all(home: Any, connections: list[Any], args: argparse.Namespace) -> int:
    """Verify connections concurrently (bounded), print as events come, record each summary; the exit code."""
    import asyncio  # loaded by the commands that verify, not by every command's argument parser

    async def main() -> list[Any]:
        from workbench.verification import MAX_PARALLEL

        limit = asyncio.Semaphore(MAX_PARALLEL)
        prefix = len(connections) > 1 and not getattr(args, "sequential", False)
        if getattr(args, "sequential", False):
            return [await _verify_one(home, c, args, prefix, limit) for c in connections]
        return await asyncio.gather(*(_verify_one(home, c, args, prefix, limit) for c in connections))

    try:
        summaries = asyncio.run(main())
    except KeyboardInterrupt:
        print("verification interrupted", file=sys.stderr)
        return 130
    if not args.only:
        _record(home, [(c, s) for c, s in zip(connections, summaries, strict=True) if s is not None])
    return 1 if any(s is None or s.failed for s in summaries) else 0


def allowed_hosts(values: list[str]) -> list[str]:
    """The hosts of --allow-autodiscover-redirect, validated as DNS names (an IP address or a URL is refused)."""
    from workbench import validate

    hosts = []
    for value in values:
        try:
            hosts.append(validate.hostname(value, field="allow", label="--allow-autodiscover-redirect"))
        except validate.FieldError as error:
            fail(error.message)
    return hosts


def run(args: argparse.Namespace) -> int:
    from storage import NotFoundError

    from .context import open_home

    if args.all == bool(args.names):
        fail("name the connections to verify, or use --all")
    if not math.isfinite(args.timeout) or not 0 < args.timeout <= 3600:
        fail("--timeout must be a number of seconds from more than 0 up to 3600")
    args.allow_autodiscover_redirect = allowed_hosts(args.allow_autodiscover_redirect)
    home = open_home()
    snapshot = home.store.snapshot()
    try:
        connections = list(snapshot.connections) if args.all else [snapshot.connection(n) for n in args.names]
    except NotFoundError as error:
        fail(str(error))
    if not connections:
        fail("there are no connections to verify")
    if args.only:
        from workbench.verification import plan_for

        for connection in connections:
            plan = plan_for(connection)
            unknown = [c for c in args.only if c not in {check.id for check in plan.checks}]
            if unknown:
                fail(
                    f"'{connection.name}' has no check {', '.join(unknown)}; "
                    f"its checks: {', '.join(c.id for c in plan.checks)}"
                )
    return verify_all(home, connections, args)
