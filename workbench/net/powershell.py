"""Exchange remote PowerShell through pypsrp (WSMan over HTTPS to /PowerShell, configuration Microsoft.Exchange).

Only cmdlets are sent (Exchange's endpoint is a no-language runspace). Errors are read from the error stream as
well as from `had_errors`: Exchange reports most failures as non-terminating errors, which leave it False.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.model import PowerShellAuth, Secret

from .kerberos import KerberosAuth, Ticket
from .routes import RoutingAdapter, current


@dataclass
class CmdletResult:
    output: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: bool = False

    def props(self) -> list[dict[str, Any]]:
        return [dict(o.adapted_properties) if hasattr(o, "adapted_properties") else {"value": o} for o in self.output]


def open_pool(
    host: str,
    port: int,
    auth: PowerShellAuth,
    upn: str,
    password: Secret,
    timeout: float,
    ticket: Ticket | None = None,
) -> Any:
    """A runspace pool on Exchange's `Microsoft.Exchange` endpoint. Kerberos presents `ticket` (obtained beforehand,
    see `workbench.net.kerberos`); Basic and NTLM send the password. Never pypsrp's "negotiate": its silent NTLM
    fallback would turn every Kerberos problem into "access denied"."""
    from pypsrp.powershell import RunspacePool
    from pypsrp.wsman import WSMan

    if auth is PowerShellAuth.KERBEROS and ticket is None:
        raise ValueError("Kerberos needs a ticket")

    # The server may hold a Receive for `operation` seconds; the read timeout must outlast that, and both stay
    # within the connection's timeout so that a server that hangs is given up on when the admin said.
    operation = max(1, min(20, math.ceil(timeout) - 2))
    wsman = WSMan(
        host,
        port=port,
        path="PowerShell",
        ssl=True,
        auth=auth.value,
        username=upn,
        password=None if auth is PowerShellAuth.KERBEROS else password.reveal(),
        cert_validation=True,
        connection_timeout=max(1, math.ceil(min(timeout, 30))),
        operation_timeout=operation,
        read_timeout=max(operation + 1, math.ceil(timeout)),
        reconnection_retries=0,
    )
    transport = wsman.transport
    # pypsrp builds its session privately; route its HTTPS through this run's per-host trust and DNS.
    transport.session = transport._build_session()
    transport.session.mount("https://", RoutingAdapter(max_retries=0, routes=current()))
    if ticket is not None:
        transport.session.auth = KerberosAuth(ticket)
    pool = RunspacePool(wsman, configuration_name="Microsoft.Exchange")
    pool.open()
    return pool


def run(pool: Any, cmdlet: str, **parameters: Any) -> CmdletResult:
    return _collect(pool, cmdlet, parameters, None, None)


def stream(
    pool: Any,
    cmdlet: str,
    parameters: dict[str, Any],
    on_batch: Callable[[list[Any]], None],
    cancelled: Callable[[], bool],
) -> CmdletResult:
    """Run a cmdlet and hand its output over batch by batch as the server sends it."""
    return _collect(pool, cmdlet, parameters, on_batch, cancelled)


def _collect(
    pool: Any,
    cmdlet: str,
    parameters: dict[str, Any],
    on_batch: Callable[[list[Any]], None] | None,
    cancelled: Callable[[], bool] | None,
) -> CmdletResult:
    from pypsrp.complex_objects import PSInvocationState
    from pypsrp.powershell import PowerShell

    ps = PowerShell(pool)
    ps.add_cmdlet(cmdlet)
    for name, value in parameters.items():
        ps.add_parameter(name, value)
    result = CmdletResult()
    if on_batch is None:
        result.output = list(ps.invoke())
    else:
        ps.begin_invoke()
        while ps.state == PSInvocationState.RUNNING:
            if cancelled is not None and cancelled():
                ps.stop()
                break
            ps.poll_invoke()
            batch, ps.output[:] = list(ps.output), []
            if batch:
                on_batch(batch)
        if ps.output:
            on_batch(list(ps.output))
    result.errors = [str(e) for e in ps.streams.error]
    result.error_ids = [str(getattr(e, "fq_error", "") or "") for e in ps.streams.error]
    result.warnings = [str(getattr(w, "message", "") or "") for w in ps.streams.warning]
    result.failed = bool(ps.had_errors)
    return result
