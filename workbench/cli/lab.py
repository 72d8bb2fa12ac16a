"""`workbench lab`: run the lab in the foreground and publish how to reach it in a JSON state file."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.lab import Lab

from .io import fail, info


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "lab",
        help="run the simulated Microsoft 365 tenant and Exchange server on loopback until Ctrl+C",
        description="Run the lab in the foreground. Once every server is ready, the state file (JSON, 0600) tells "
        "clients the endpoints, the CA bundle and the lab's credentials; it is removed when the lab stops.",
    )
    parser.add_argument("--state-file", type=Path, help="where to write the lab's endpoints and credentials")
    parser.add_argument("--scenario", default="", metavar="S[,S]", help="faults to switch on (see --list-scenarios)")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every response")
    parser.add_argument("--mailboxes", type=int, default=10, help="number of user mailboxes to seed")
    parser.add_argument("--auto-approve", type=float, metavar="SECONDS", help="approve device codes after this delay")
    parser.add_argument("--seed", type=int, help="make tenant ids and names repeatable")
    parser.add_argument(
        "--propagation-seconds", type=float, default=4.0, help="propagation-delay: how long a new app stays unknown"
    )
    parser.add_argument("--list-scenarios", action="store_true", help="list the scenarios and exit")
    parser.set_defaults(handler=run)


def _kerberos_line(lab: Lab) -> str:
    kerberos = lab.state.onprem.kerberos
    if kerberos is None:
        return f"none: {lab.kerberos_note}"
    return f"realm {kerberos.realm}, KDC {kerberos.kdc}, service {kerberos.spn}"


def run(args: argparse.Namespace) -> int:
    from storage.files import atomic_write
    from workbench.lab import SCENARIOS, Lab, UnknownScenario
    from workbench.lab.autodiscover import PortUnavailable

    if args.list_scenarios:
        for scenario in SCENARIOS.values():
            code = f" [{scenario.code}]" if scenario.code else ""
            print(f"{scenario.name:<22} {scenario.part:<7} {scenario.effect}{code}")
        return 0
    if args.state_file is None:
        fail("--state-file is required (where clients find the lab's endpoints)")
    if args.latency_ms < 0 or args.mailboxes < 0:
        fail("--latency-ms and --mailboxes must not be negative")
    try:
        lab = Lab(
            args.scenario,
            latency_ms=args.latency_ms,
            mailboxes=args.mailboxes,
            auto_approve=args.auto_approve,
            seed=args.seed,
            propagation_seconds=args.propagation_seconds,
        )
    except (UnknownScenario, ValueError) as error:
        fail(str(error))
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    state_file: Path = args.state_file
    try:
        lab.start()
    except PortUnavailable as error:
        fail(str(error))
    try:
        state = lab.state
        atomic_write(state_file, (json.dumps(state.to_json(), indent=2) + "\n").encode())
        m365 = state.m365
        onprem = state.onprem
        info(
            f"lab ready{' with ' + ', '.join(state.scenarios) if state.scenarios else ''}\n"
            f"  Entra ID   {m365.authority_host}/{m365.tenant_id}\n"
            f"  Graph      {m365.graph_url}/v1.0\n"
            f"  EWS        {m365.ews_url}\n"
            f"  Exchange   {onprem.ews_url}  (PowerShell {onprem.powershell_url})\n"
            f"  DNS        {onprem.dns} for {onprem.domain}\n"
            f"  Kerberos   {_kerberos_line(lab)}\n"
            + (
                f"  Redirect   http://autodiscover.{onprem.domain} at {onprem.redirect_site}\n"
                if onprem.redirect_site
                else ""
            )
            + f"  CA bundle  {state.ca_bundle}\n"
            f"  state      {state_file} (credentials inside; removed on exit)\n"
            "Ctrl+C stops the lab."
        )
        sys.stderr.flush()
        stop.wait()
    finally:
        lab.stop()
    with contextlib.suppress(FileNotFoundError):
        state_file.unlink()
    info("lab stopped")
    return 0
