"""No test may reach anything but loopback.

`install()` wraps socket connect/connect_ex/sendto and getaddrinfo. A destination outside 127.0.0.0/8 and ::1
(or a name other than `localhost`) is refused before any packet leaves, and recorded in `violations`, so a test
whose code swallowed the error still fails (the autouse fixture in conftest checks the list after every test).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

violations: list[str] = []
_installed = False


class NetworkGuardError(OSError):
    pass


def is_loopback_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def check(address: Any, what: str) -> None:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not is_loopback_host(host):
        message = f"{what} to non-loopback address {address!r} blocked by the test network guard"
        violations.append(message)
        raise NetworkGuardError(message)


def install(real: dict[str, Any] | None = None) -> None:
    """Wrap the socket module. `real` lets the guard's own test swap the underlying calls for recorders."""
    global _installed
    if _installed:
        return
    _installed = True
    originals = real or {
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
        "sendto": socket.socket.sendto,
        "getaddrinfo": socket.getaddrinfo,
    }

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address, "connect")
        return originals["connect"](self, address)  # type: ignore[no-any-return]

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(address, "connect")
        return originals["connect_ex"](self, address)  # type: ignore[no-any-return]

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(args[-1], "sendto")
        return originals["sendto"](self, data, *args)  # type: ignore[no-any-return]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            check((host,), "name lookup")
        return originals["getaddrinfo"](host, *args, **kwargs)

    for name, wrapper in (("connect", connect), ("connect_ex", connect_ex), ("sendto", sendto)):
        setattr(socket.socket, name, wrapper)
    socket.getaddrinfo = getaddrinfo
