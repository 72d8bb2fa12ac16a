"""The guard that keeps the whole suite on loopback. Its own test swaps the real socket calls for recorders,
so even a broken guard could not send a packet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import network_guard

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("192.0.2.10", False),
        ("10.1.2.3", False),
        ("2001:db8::1", False),
        ("login.microsoftonline.com", False),
    ],
)
def test_only_loopback_is_allowed(host: str, allowed: bool) -> None:
    assert network_guard.is_loopback_host(host) is allowed


class Recorder:
    """Stands in for the real socket calls, so that even a broken guard could not send anything."""

    def __init__(self) -> None:
        self.reached: list[object] = []

    def connect(self, sock: object, address: object) -> None:
        self.reached.append(address)

    def connect_ex(self, sock: object, address: object) -> int:
        self.reached.append(address)
        return 0

    def sendto(self, sock: object, data: bytes, *args: object) -> int:
        self.reached.append(args[-1])
        return len(data)

    def getaddrinfo(self, host: object, *args: object, **kwargs: object) -> list[object]:
        self.reached.append(host)
        return []


def test_guard_blocks_before_the_real_call() -> None:
    recorder = Recorder()
    names = ("connect", "connect_ex", "sendto")
    saved = {name: getattr(socket.socket, name) for name in names}
    saved_lookup, saved_flag = socket.getaddrinfo, network_guard._installed
    before = len(network_guard.violations)
    try:
        network_guard._installed = False
        network_guard.install({name: getattr(recorder, name) for name in (*names, "getaddrinfo")})
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            with pytest.raises(network_guard.NetworkGuardError):
                tcp.connect(("192.0.2.10", 443))
            tcp.connect(("127.0.0.1", 9))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(network_guard.NetworkGuardError):
            udp.sendto(b"x", ("192.0.2.53", 53))
        with pytest.raises(network_guard.NetworkGuardError):
            socket.getaddrinfo("login.microsoftonline.com", 443)
    finally:
        for name, original in saved.items():
            setattr(socket.socket, name, original)
        socket.getaddrinfo, network_guard._installed = saved_lookup, saved_flag
        del network_guard.violations[before:]
    assert recorder.reached == [("127.0.0.1", 9)]


def test_guarded_subprocesses_refuse_too() -> None:
    """The CLI tests run `workbench` with the guard as sitecustomize; prove it is active there."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "guard"), str(ROOT)])}
    code = (
        "import socket\ntry:\n    socket.getaddrinfo('graph.microsoft.com', 443)\n"
        "except OSError as e:\n    print(type(e).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "NetworkGuardError"
