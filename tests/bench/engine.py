"""Verification engine benchmarks, printed as ratios against baselines measured in the same run.

1. Exchange Online with 100 ms latency on every lab response: the full plan's wall time against its critical path
   (the longest chain of dependent checks, from the durations of this same run) and against the same checks run one
   after another. Goal: wall <= 1.15 x critical path.
2. On-premises with 5,000 mailboxes: the engine's enumeration against a plain pypsrp loop on the same lab, time to
   the first progress event, and the peak RSS of this process (the lab runs in a separate process). Goal <= 1.2x.
3. `verify --all` over 200 lab connections against verifying one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.engine.conftest import m365_connection, onprem_connection, target
from workbench.checks.engine import Plan, Run
from workbench.checks.events import Finished, Progress, Started
from workbench.lab import LabState
from workbench.lab.lab import KerberosState, M365State, OnPremState
from workbench.verification import plan_for

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def lab_process(*args: str) -> Any:
    """`workbench lab` in its own process, so this process's RSS is the engine's alone."""
    folder = Path(tempfile.mkdtemp())
    state_file = folder / "lab.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "lab", "--state-file", str(state_file), *args],
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        while not state_file.exists():
            if process.poll() is not None:
                raise RuntimeError("the lab did not start")
            time.sleep(0.05)
        raw = json.loads(state_file.read_text())
        yield LabState(
            raw["ca_bundle"],
            tuple(raw["scenarios"]),
            raw["latency_ms"],
            M365State(**raw["m365"]),
            OnPremState(
                **{
                    **raw["onprem"],
                    "accepted_domains": tuple(raw["onprem"]["accepted_domains"]),
                    "kerberos": KerberosState(**raw["onprem"]["kerberos"]) if raw["onprem"]["kerberos"] else None,
                }
            ),
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _run(run: Run) -> tuple[float, dict[str, Finished], list[tuple[float, Any]]]:
    started = time.monotonic()
    finished: dict[str, Finished] = {}
    timeline: list[tuple[float, Any]] = []
    async for event in run.events():
        timeline.append((time.monotonic() - started, event))
        if isinstance(event, Finished):
            finished[event.check] = event
    elapsed = time.monotonic() - started
    run.close()
    return elapsed, finished, timeline


def critical_path(plan: Plan, finished: dict[str, Finished]) -> float:
    longest: dict[str, float] = {}
    for check in plan.checks:
        before = max((longest[n] for n in check.needs), default=0.0)
        longest[check.id] = before + finished[check.id].duration_ms / 1000
    return max(longest.values())


def online_latency() -> None:
    with lab_process("--latency-ms", "100", "--mailboxes", "5") as state:
        connection = m365_connection(state)
        plan = plan_for(connection)
        asyncio.run(_run(Run(plan, resources={"target": target(state, connection)})))  # warm up imports
        wall, finished, _ = asyncio.run(_run(Run(plan, resources={"target": target(state, connection)})))
        path = critical_path(plan, finished)
        serial, _, _ = asyncio.run(_run(Run(plan, resources={"target": target(state, connection)}, max_parallel=1)))
    print("Exchange Online verification, 100 ms latency per lab response")
    print(f"  wall time (DAG, concurrent)       {wall:6.2f} s")
    print(
        f"  critical path of the same run     {path:6.2f} s   -> wall / critical path = {wall / path:.2f}x "
        "(goal <= 1.15x)"
    )
    print(f"  same checks one after another     {serial:6.2f} s   -> sequential / wall = {serial / wall:.2f}x")


def onprem_enumeration() -> None:
    with lab_process("--mailboxes", "5000") as state:
        connection = onprem_connection(state, "fqdn")
        run = Run(plan_for(connection), resources={"target": target(state, connection)})
        _, finished, timeline = asyncio.run(_run(run))
        engine = finished["onprem.mailboxes"].duration_ms / 1000
        start = next(t for t, e in timeline if isinstance(e, Started) and e.check == "onprem.mailboxes")
        first = next(t for t, e in timeline if isinstance(e, Progress) and e.check == "onprem.mailboxes" and e.done)
        raw = _raw_pypsrp(state)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"On-premises enumeration, {finished['onprem.mailboxes'].outcome.detail}")
    print(f"  engine (onprem.mailboxes check)   {engine:6.2f} s")
    print(f"  plain pypsrp loop, same cmdlets   {raw:6.2f} s   -> engine / raw = {engine / raw:.2f}x (goal <= 1.2x)")
    print(f"  time to the first progress event  {first - start:6.3f} s after the check started")
    print(f"  peak RSS of this process          {rss:6.0f} MiB (engine and clients; the lab runs apart)")


def _raw_pypsrp(state: LabState) -> float:
    from pypsrp.complex_objects import PSInvocationState
    from pypsrp.powershell import PowerShell

    from tests.lab.conftest import powershell

    with powershell(state) as pool:  # Kerberos, as Exchange takes it by default
        started = time.monotonic()
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Mailbox").add_parameter("ResultSize", "Unlimited")
        ps.begin_invoke()
        while ps.state == PSInvocationState.RUNNING:
            ps.poll_invoke()
            ps.output[:] = []
        public = PowerShell(pool)
        public.add_cmdlet("Get-Mailbox").add_parameter("PublicFolder", True).add_parameter("ResultSize", "Unlimited")
        public.invoke()
        return time.monotonic() - started


def verify_all() -> None:
    from storage import Home
    from workbench.cli.verify import verify_all as run_all
    from workbench.model import ClientSecretCredential, M365Settings, Secret

    with lab_process("--mailboxes", "5") as state, tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("WORKBENCH_VAULT", "key-file")
        home = Home(Path(tmp) / "home")
        changes = home.changeset()
        base = m365_connection(state)
        assert isinstance(base.settings, M365Settings)
        for n in range(200):
            credential = ClientSecretCredential(secret_ref=changes.stage_secret(Secret(state.m365.client_secret)))
            settings = replace(base.settings, credential=credential)
            changes.add(replace(base, id=f"c{n}", name=f"tenant {n:03d}", settings=settings))
        changes.commit()
        connections = list(home.store.snapshot().connections)
        options = argparse.Namespace(json=True, only=None, grant_impersonation=False, timeout=20.0)
        timings = []
        for batch in (connections[:1], connections):
            started = time.monotonic()
            with contextlib.redirect_stdout(io.StringIO()):
                run_all(home, batch, options)
            timings.append(time.monotonic() - started)
    one, many = timings
    print("verify --all over lab connections (Exchange Online, client secret; 8 at a time)")
    print(f"  one connection                    {one:6.2f} s")
    print(
        f"  200 connections                   {many:6.2f} s   -> {many / one:.1f}x one connection "
        f"({many / 200 * 1000:.0f} ms each)"
    )


def run() -> None:
    online_latency()
    print()
    onprem_enumeration()
    print()
    verify_all()
