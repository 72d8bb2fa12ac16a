"""Get-Mailbox throughput of the lab's remote PowerShell, with a plain pypsrp loop (the baseline the engine's
enumeration is later compared with), and the lab's own share of the time (inside its Receive handler).

Goal: the lab is not the bottleneck — at least 5,000 objects/s lab-side on the 2-core reference machine.
"""

from __future__ import annotations

import time

from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell

from tests.lab.conftest import powershell
from workbench.lab import Lab
from workbench.lab import wsman as lab_wsman

MAILBOXES = 20_000
GOAL = 5_000


def run() -> None:
    inside = [0.0]
    original = lab_wsman.RemotePowerShell._receive

    def timed(self: lab_wsman.RemotePowerShell, *args: object) -> str:
        started = time.perf_counter()
        try:
            return original(self, *args)  # type: ignore[arg-type]  # forwarding the handler's own arguments
        finally:
            inside[0] += time.perf_counter() - started

    setattr(lab_wsman.RemotePowerShell, "_receive", timed)  # noqa: B010
    try:
        with Lab(mailboxes=MAILBOXES, seed=1) as lab, powershell(lab.state, "basic") as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-Mailbox").add_parameter("ResultSize", "Unlimited")
            started = time.perf_counter()
            ps.begin_invoke()
            first = None
            count = polls = 0
            while ps.state == PSInvocationState.RUNNING:
                ps.poll_invoke()
                polls += 1
                if ps.output and first is None:
                    first = time.perf_counter() - started
                count += len(ps.output)
                ps.output[:] = []
            count += len(ps.output)
            total = time.perf_counter() - started
    finally:
        setattr(lab_wsman.RemotePowerShell, "_receive", original)  # noqa: B010
    lab_rate = count / inside[0]
    print(f"lab remote PowerShell, Get-Mailbox -ResultSize Unlimited, {count:,} objects over {polls} Receive polls")
    print(
        f"  plain pypsrp loop end to end   {count / total:9,.0f} objects/s   ({total:.2f} s, "
        f"first batch after {first or 0:.3f} s)"
    )
    print(f"  inside the lab's handler       {lab_rate:9,.0f} objects/s   ({inside[0]:.2f} s)")
    print(f"  lab share of the wall time     {inside[0] / total:9.0%}")
    print(f"  goal: lab-side >= {GOAL:,} objects/s -> {'met' if lab_rate >= GOAL else 'MISSED'}")
