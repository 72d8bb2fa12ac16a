"""requests' transport with a wall-clock deadline on every request (see `workbench.net.deadline`).

A request may take its connect timeout plus its read timeout, from the first byte sent to the last byte of the
answer: never less than those timeouts already allowed an honest server, and never more, however a server
trickles. Past it the request fails as a read timeout. The answer's body is read here too, unless the caller
streams it, or it comes with a 401: NTLM and Negotiate (requests_ntlm, pypsrp, our Kerberos) read the TLS
certificate for the channel binding from the unread response, so that body is read by them, within the call's
deadline. The sockets of its
connections — new or reused, during the TLS handshake as well — are watched under the request's deadline, which
sits within the deadline of the call that made it: when a verification stops waiting for a call, its requests end
too.
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import connection, connectionpool
from urllib3.poolmanager import PoolManager, ProxyManager
from urllib3.util import Timeout

from . import deadline

# urllib3's own class names, so that its error messages read as they always did.


class HTTPConnection(connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline.watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # a connection the pool reuses
            deadline.watch(self.sock)
        super().request(*args, **kwargs)


class HTTPSConnection(connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline.watch(sock)  # before the handshake: the duplicate outlives TLS taking the socket over
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        sock = getattr(self.sock, "socket", self.sock)  # through a TLS proxy: the socket under urllib3's TLS-in-TLS
        if isinstance(sock, socket.socket):
            deadline.watch(sock)
        super().request(*args, **kwargs)


class HTTPConnectionPool(connectionpool.HTTPConnectionPool):
    ConnectionCls = HTTPConnection


class HTTPSConnectionPool(connectionpool.HTTPSConnectionPool):
    ConnectionCls = HTTPSConnection


WATCHED_POOLS: dict[str, type[connectionpool.HTTPConnectionPool]] = {
    "http": HTTPConnectionPool,
    "https": HTTPSConnectionPool,
}


def total_timeout(timeout: Any) -> float | None:
    """Connect plus read timeout, from what requests' `timeout` may be (a number, a pair, urllib3's Timeout)."""
    if isinstance(timeout, Timeout):
        parts: tuple[Any, ...] = (timeout.connect_timeout, timeout.read_timeout)
    elif isinstance(timeout, tuple):
        parts = timeout
    else:
        parts = (timeout, timeout)
    numbers = [float(p) for p in parts if isinstance(p, int | float) and not isinstance(p, bool)]
    return sum(numbers) if numbers else None


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose every request has a wall-clock deadline (see the module's description)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.watchdog = deadline.Watchdog("http-deadlines")  # used outside a verification run only
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # a SOCKS proxy keeps its own pools: only the call's end stops them
            manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        seconds = total_timeout(timeout)
        with deadline.within(seconds, self.watchdog) as limit:
            try:
                response = super().send(
                    request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
                )
                if not stream and response.status_code != 401:
                    _ = response.content  # the whole answer, within the deadline
            except Exception as error:
                if limit.ended:
                    raise _late(limit, request) from error
                raise
            if limit.ended:  # cut short: the headers or the body may end where the connection was shut down
                response.close()
                raise _late(limit, request)
        return response


def _late(limit: deadline.Deadline, request: requests.PreparedRequest) -> requests.exceptions.ReadTimeout:
    if limit.expired:
        why = f"the answer did not come complete within {limit.seconds:g} s"
    else:
        why = "the request was given up before its answer came complete"
    return requests.exceptions.ReadTimeout(f"Read timed out: {why}", request=request)


__all__ = ["WATCHED_POOLS", "DeadlineAdapter", "total_timeout"]
