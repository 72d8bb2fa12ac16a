"""Every network call has a wall-clock deadline, and a call the verification stops waiting for ends at once: its
sockets are shut down, its processes killed, its thread left behind as a daemon (issue 19, item 2).

Against real sockets on loopback: a server that trickles its answer (each read gets a byte in time, so read
timeouts never fire), a TLS port that never finishes its handshake, a KDC that never answers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from tests.fakeserver import Trickling, https_server, self_signed, trickler
from workbench.checks import problems
from workbench.checks.engine import Check, Context, Plan, Run
from workbench.checks.events import Finished, Outcome, Status
from workbench.model import Secret
from workbench.net import deadline, identity, kerberos, routes, tls
from workbench.net.graph import Graph

HANG = 15.0  # a call still running this long after it should have ended is hung


def _ends(call: Callable[[], Any], within: float = HANG) -> BaseException | None:
    """Run `call` in a daemon thread; what it raised (None if it returned). It must end within `within` seconds."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # noqa: BLE001
            outcome.append(error)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(within)
    assert not thread.is_alive(), f"still running after {within:g} s"
    return outcome[0]


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[str, str, type[Trickling]]]:
    """A trickling server: its URL, a CA bundle that names 127.0.0.1, and its handler class."""
    pem, _ = self_signed(tmp_path, "trickle", ip="127.0.0.1")
    handler = trickler()
    with https_server(pem, handler) as port:
        yield f"https://127.0.0.1:{port}", str(pem), handler


@contextlib.contextmanager
def _silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for sock in accepted:
            sock.close()
        listener.close()


def _expire_after(limit: deadline.Deadline, seconds: float) -> None:
    threading.Timer(seconds, limit.expire).start()


# ---------------------------------------------------------------- each client, against a trickle


def test_a_requests_session_ends_a_trickled_answer_at_connect_plus_read_timeout(
    slow: tuple[str, str, type[Trickling]],
) -> None:
    url, ca_bundle, handler = slow
    started = time.monotonic()
    error = _ends(lambda: routes.session(routes.RouteTable()).post(f"{url}/EWS", verify=ca_bundle, timeout=0.5))
    assert isinstance(error, requests.exceptions.Timeout), error
    assert "timed out" in str(error) and time.monotonic() - started >= 1.0  # connect + read: 0.5 + 0.5
    assert handler.seen and handler.gone.wait(5), "the connection was left open"


def test_msal_s_session_ends_a_trickled_answer(slow: tuple[str, str, type[Trickling]]) -> None:
    url, ca_bundle, _ = slow
    error = _ends(lambda: identity.http_session(ca_bundle, 10.0).post(f"{url}/common/oauth2/v2.0/token", timeout=0.5))
    assert isinstance(error, requests.exceptions.Timeout), error


def test_msal_itself_ends_a_trickled_discovery_through_the_session_s_own_timeout(
    slow: tuple[str, str, type[Trickling]],
) -> None:
    """MSAL passes no timeout to an `http_client` it is given (the hostile review: a trickled tenant discovery
    held `connections add --automatic` for 90 s): the session carries the run's timeout itself."""
    import msal

    url, ca_bundle, _ = slow
    error = _ends(
        lambda: msal.PublicClientApplication(
            "14d82eec-204b-4c2f-b7e8-296a70dab67e",
            authority=f"{url}/common",
            http_client=identity.http_session(ca_bundle, timeout=0.5),
            instance_discovery=False,
            timeout=0.5,
        )
    )
    assert isinstance(error, requests.exceptions.Timeout), error


def test_graph_ends_a_trickled_answer(slow: tuple[str, str, type[Trickling]]) -> None:
    url, ca_bundle, handler = slow
    graph = Graph(url, Secret("token"), ca_bundle=ca_bundle, timeout=0.5)
    try:
        error = _ends(lambda: graph.get("/organization"))
    finally:
        graph.close()
    assert isinstance(error, httpx.TimeoutException), error
    assert handler.gone.wait(5), "the connection was left open"


# ---------------------------------------------------------------- a call nobody waits for ends at once


def test_a_call_given_up_on_ends_its_request_before_the_request_s_own_deadline(
    slow: tuple[str, str, type[Trickling]],
) -> None:
    url, ca_bundle, handler = slow
    limit = deadline.Deadline()

    def call() -> None:
        with deadline.bind(limit):
            routes.session(routes.RouteTable()).post(url, verify=ca_bundle, timeout=30)  # 60 s of its own

    _expire_after(limit, 0.5)
    error = _ends(call, within=10)
    assert isinstance(error, requests.exceptions.RequestException), error
    assert handler.gone.wait(5)


def test_a_tls_handshake_given_up_on_ends() -> None:
    limit = deadline.Deadline()

    def call() -> None:
        with deadline.bind(limit):
            tls.inspect("127.0.0.1", port, timeout=30)

    with _silent_port() as port:
        _expire_after(limit, 0.3)
        error = _ends(call, within=10)
    assert isinstance(error, OSError), error


@pytest.mark.kerberos
def test_the_kerberos_ticket_process_is_killed_when_the_call_is_given_up() -> None:
    with _silent_port() as port:
        realm = kerberos.Realm(
            "FABRIKAM.TEST", (("127.0.0.1", port),), "admin@FABRIKAM.TEST", "HTTP/exch01.fabrikam.test@FABRIKAM.TEST"
        )
        limit = deadline.Deadline()

        def call() -> None:
            with deadline.bind(limit):
                kerberos.obtain(realm, Secret("pw"), timeout=60)

        _expire_after(limit, 1.0)
        error = _ends(call, within=10)
    assert isinstance(error, kerberos.KerberosError), error


def test_dns_through_the_connection_s_servers_gives_up_at_its_timeout() -> None:
    """Pins the README's claim (dnspython's lifetime is a wall-clock bound): a resolver that never answers."""
    from workbench.net import resolve

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        error = _ends(
            lambda: resolve.address_of("exch01.fabrikam.test", (f"127.0.0.1:{silent.getsockname()[1]}",), 1.0)
        )
        assert isinstance(error, resolve.NotFound), error
        assert time.monotonic() - started < 5
    finally:
        silent.close()


# ---------------------------------------------------------------- the engine


def test_a_check_out_of_time_ends_its_connection_and_leaves_no_thread_to_wait_for(
    slow: tuple[str, str, type[Trickling]],
) -> None:
    """The check's clock runs out long before its request's own deadline: the request is ended with it, and the
    run's threads are daemons (nothing joins them when the process exits)."""
    url, ca_bundle, handler = slow

    async def post(ctx: Context) -> Outcome:
        await ctx.blocking(lambda: routes.session().post(url, verify=ca_bundle, timeout=30))
        return Outcome.passed("answered")

    run = Run(Plan((Check("slow", "A trickled answer", post, timeout=1.0),)))

    async def go() -> list[Any]:
        try:
            return [event async for event in run.events()]
        finally:
            run.close()

    events = asyncio.run(go())
    finished = next(e for e in events if isinstance(e, Finished))
    assert finished.status is Status.FAILED and finished.outcome.problem is problems.TIMEOUT
    assert handler.gone.wait(5), "the trickled request went on after the check gave up"
    workers = [t for t in threading.enumerate() if t.name.startswith(f"run-{run.scope.id}")]
    assert all(t.daemon for t in workers), [t.name for t in workers if not t.daemon]


async def _collect(run: Run) -> list[Any]:
    return [event async for event in run.events()]


def test_closing_a_run_ends_the_calls_in_flight(slow: tuple[str, str, type[Trickling]]) -> None:
    url, ca_bundle, handler = slow

    async def post(ctx: Context) -> Outcome:
        await ctx.blocking(lambda: routes.session().post(url, verify=ca_bundle, timeout=30))
        return Outcome.passed("answered")

    run = Run(Plan((Check("slow", "A trickled answer", post, timeout=60),)))

    async def go() -> Status:
        events = asyncio.ensure_future(_collect(run))
        while not handler.seen:
            await asyncio.sleep(0.05)
        run.close()  # as the console's quit does, without waiting for the check to wind down
        assert await asyncio.to_thread(handler.gone.wait, 5), "closing the run left its request running"
        finished = [e for e in await events if isinstance(e, Finished)]
        return finished[0].status

    assert asyncio.run(go()) is Status.CANCELLED


# ---------------------------------------------------------------- automatic registration's sign-in


def test_closing_a_registrar_ends_a_sign_in_stuck_in_a_trickle(slow: tuple[str, str, type[Trickling]]) -> None:
    """The console closes the registrar when the wizard or the app-deletion dialog goes away (quitting, too): a
    sign-in whose authority trickles its answer must end then, not when its requests run out of time."""
    from workbench.model import Cloud, CustomEndpoints
    from workbench.registration import Registrar, RegistrationRequest, SignInError

    url, ca_bundle, handler = slow
    request = RegistrationRequest(
        app_account="backup@contoso.com",
        cloud=Cloud.CUSTOM,
        custom_endpoints=CustomEndpoints(authority_host=url, graph_url=url, ews_url=f"{url}/EWS/Exchange.asmx"),
        ca_bundle=ca_bundle,
        tenant_id="00000000-0000-4000-8000-000000000001",
    )
    registrar = Registrar(request, installation_id="", timeout=30)

    def close_once_asked() -> None:
        stop = time.monotonic() + HANG
        while not handler.seen and time.monotonic() < stop:
            time.sleep(0.05)
        time.sleep(0.3)
        registrar.close()

    threading.Thread(target=close_once_asked, daemon=True).start()
    error = _ends(registrar.start_sign_in, within=10)
    assert isinstance(error, SignInError), error
    assert handler.gone.wait(5)
