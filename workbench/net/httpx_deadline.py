"""httpx's connections, watched by the current deadline (see `workbench.net.deadline`): the same guarantee the
requests adapters give, for Microsoft Graph.

httpx has no hook for its sockets, so each transport's connection pool is given a network backend that wraps the
streams it opens: every read, write and TLS upgrade first puts the stream's socket under the current deadline
(a connection reused from the pool as well as a new one). The pool attribute used is pinned by
tests/unit/test_library_contracts.py.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from . import deadline


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def _watch(self) -> None:
        sock = self._stream.get_extra_info("socket")
        if sock is not None:
            deadline.watch(sock)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._watch()
        return self._stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._watch()
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self._watch()  # the handshake too: the duplicate outlives TLS taking the socket over
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def watch_client(client: httpx.Client) -> httpx.Client:
    """Make every transport of `client` (its own, and those for proxies from the environment) watch its sockets."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if pool is not None and not isinstance(pool._network_backend, _Backend):
            pool._network_backend = _Backend(pool._network_backend)
    return client


def total_timeout(timeout: httpx.Timeout) -> float | None:
    """Connect plus read timeout: a request's wall-clock allowance, as for requests (`workbench.net.adapter`)."""
    numbers = [t for t in (timeout.connect, timeout.read) if t is not None]
    return sum(numbers) if numbers else None


__all__ = ["total_timeout", "watch_client"]
