"""Two organisations behind the same host name and port, each reached through its own DNS server and trusted by
its own pin. `verify --all` once sent one connection's EWS and PowerShell traffic, with its credentials, to the
other organisation's server (routes were one process-wide table). Each fake server here records what it receives:
only its own connection's password may ever arrive."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

from tests.e2e.conftest import add_onprem, run_workbench
from tests.fakeserver import https_server, recorder, self_signed
from workbench.lab.dns import LabDns, Zone

HOST = "exch01.fabrikam.test"


def _free_port_on(*hosts: str) -> int:
    """A port number free on every one of these loopback addresses."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = int(probe.getsockname()[1])
        try:
            for host in hosts[1:]:
                with socket.socket() as other:
                    other.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port")


def _passwords(seen: list[dict[str, str]]) -> set[str]:
    found = set()
    for headers in seen:
        value = headers.get("Authorization", "")
        if value.startswith("Basic "):
            found.add(base64.b64decode(value[6:]).decode().partition(":")[2])
    return found


def test_credentials_only_ever_reach_their_own_organisation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    addresses = ("127.0.0.2", "127.0.0.3")
    port = _free_port_on(*addresses)
    servers, pins, dns = [], [], []
    for n, address in enumerate(addresses, start=1):
        pem, pin = self_signed(tmp_path, f"org{n}")
        servers.append((pem, recorder(), address))
        pins.append(pin)
        dns.append(LabDns(Zone(a={HOST: address})).start())
    try:
        with (
            https_server(*servers[0][:2], host=addresses[0], port=port),
            https_server(*servers[1][:2], host=addresses[1], port=port),
        ):
            for n in (1, 2):
                added = add_onprem(
                    home,
                    "--name",
                    f"org{n}",
                    "--dns-server",
                    dns[n - 1].address,
                    "--pin-sha256",
                    pins[n - 1],
                    "--powershell-auth",
                    "basic",
                    server=f"{HOST}:{port}",
                    password=f"password-of-org{n}",
                )
                assert added.returncode == 0, added.stderr
            for _ in range(3):
                result = run_workbench(home, "verify", "--all", "--json", "--timeout", "5")
                assert "Traceback" not in result.stderr, result.stderr
    finally:
        for server in dns:
            server.stop()
    first, second = (handler.seen for _, handler, _ in servers)
    assert _passwords(first) == {"password-of-org1"}, _passwords(first)
    assert _passwords(second) == {"password-of-org2"}, _passwords(second)
