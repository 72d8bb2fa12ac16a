"""The few internals of our dependencies the workbench relies on. Each fails loudly, naming what moved, when a
version bump changes it — before a verification quietly loses its per-run routes, trust or timeout."""

from __future__ import annotations

import inspect

import requests
from requests.adapters import HTTPAdapter

from workbench.model import Secret
from workbench.net import ews, routes


def test_requests_lets_an_adapter_choose_the_pool_for_a_request() -> None:
    # routes.RoutingAdapter overrides this hook (requests >= 2.32) to connect to the run's IP with the real name.
    assert "build_connection_pool_key_attributes" in vars(HTTPAdapter), "requests renamed its pool-key hook"
    params = list(inspect.signature(HTTPAdapter.build_connection_pool_key_attributes).parameters)
    assert params[:3] == ["self", "request", "verify"]


def test_exchangelib_protocols_are_per_account_routed_and_timed_per_run() -> None:
    from exchangelib import Configuration
    from exchangelib.protocol import BaseProtocol, CachingProtocol, Protocol

    assert isinstance(Protocol, CachingProtocol), "exchangelib no longer caches protocols through its metaclass"
    table = routes.RouteTable()
    configs = [
        Configuration(
            service_endpoint="https://exch01.fabrikam.test/EWS/Exchange.asmx",
            credentials=ews._password_credentials("admin@fabrikam.test", Secret("same-password")),
            auth_type="basic",
        )
        for _ in range(2)
    ]
    first, second = (ews._run_protocol(config, table, 7.5) for config in configs)
    configs[0].credentials.client_cached = object()  # exchangelib caches on credentials; the key must still work
    try:
        assert first is not second, "equal credentials of two runs shared one exchangelib protocol"
        assert Protocol[configs[0]][0] is first  # the cache entry we remove on release
        assert first.TIMEOUT == 7.5 and BaseProtocol.TIMEOUT != 7.5  # this protocol only
        session = first.raw_session(first.service_endpoint)
        adapter = session.get_adapter(first.service_endpoint)
        assert isinstance(adapter, routes.RoutingAdapter) and adapter.routes is table
        session.close()
        assert BaseProtocol.HTTP_ADAPTER_CLS is HTTPAdapter  # nothing process-wide was changed
    finally:
        for protocol in (first, second):
            account = type("Account", (), {"protocol": protocol})()
            ews.release(account)
        assert all(p not in (first, second) for p, _ in Protocol._protocol_cache.values())


def test_pypsrp_session_can_be_routed() -> None:
    from pypsrp.wsman import WSMan

    wsman = WSMan("exch01.fabrikam.test", ssl=True, auth="basic", username="u", password="p")  # nothing is sent
    transport = wsman.transport
    assert callable(getattr(transport, "_build_session", None)), "pypsrp renamed _build_session"
    session = transport._build_session()
    assert isinstance(session, requests.Session)
    assert hasattr(transport, "session"), "pypsrp no longer keeps its session on the transport"


def test_msal_takes_our_http_client_and_timeout() -> None:
    import msal

    params = inspect.signature(msal.ConfidentialClientApplication.__init__).parameters
    assert {"http_client", "timeout", "instance_discovery"} <= set(params)


def test_secret_never_shows_in_a_repr() -> None:
    assert "hunter2" not in repr(Secret("hunter2")) and "hunter2" not in str(Secret("hunter2"))


def test_urllib3_lets_an_adapter_choose_its_pools_and_connections() -> None:
    # adapter.DeadlineAdapter gives its pool managers (direct and through an HTTP proxy) pools whose connections put
    # their sockets under the current deadline, in `_new_conn` (a new connection) and `request` (a reused one).
    from urllib3 import connection

    from workbench.net import adapter

    assert callable(getattr(connection.HTTPConnection, "_new_conn", None)), "urllib3 renamed _new_conn"
    ours = adapter.DeadlineAdapter()
    try:
        pool = ours.poolmanager.connection_from_url("https://exch01.fabrikam.test/EWS/Exchange.asmx")  # nothing sent
        assert isinstance(pool, adapter.HTTPSConnectionPool) and pool.ConnectionCls is adapter.HTTPSConnection
        proxied = ours.proxy_manager_for("http://proxy.fabrikam.test:3128")
        assert proxied.pool_classes_by_scheme is adapter.WATCHED_POOLS
    finally:
        ours.close()


def test_httpx_transports_take_a_network_backend() -> None:
    # httpx_deadline.watch_client wraps the network backend of every pool of a client (its own transport and those
    # for proxies from the environment) to watch Graph's sockets.
    import httpx

    from workbench.net import httpx_deadline

    client = httpx.Client(mounts={"https://proxied.fabrikam.test": httpx.HTTPTransport(proxy="http://127.0.0.1:9")})
    try:
        assert hasattr(client, "_transport") and hasattr(client, "_mounts"), "httpx renamed a client's transports"
        httpx_deadline.watch_client(client)
        transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
        for transport in transports:
            pool = transport._pool  # type: ignore[attr-defined]
            assert isinstance(pool._network_backend, httpx_deadline._Backend), "httpcore renamed _network_backend"
    finally:
        client.close()
