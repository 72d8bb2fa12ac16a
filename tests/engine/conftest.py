"""Connections pointed at the lab, and a helper that verifies one and returns what happened."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import certificates
from workbench.checks.events import ConfirmationRequest, Event, Finished, Progress, Status, Summary
from workbench.checks.target import Target
from workbench.drafts import M365Draft, OnPremDraft, Stamp
from workbench.lab import LabState
from workbench.model import CertificateCredential, ClientSecretCredential, Connection, Secret
from workbench.verification import Verification


def m365_connection(state: LabState, credential: str = "secret") -> Connection:
    m = state.m365
    cred: Any = ClientSecretCredential(secret_ref="lab-secret")
    if credential == "certificate":
        cred = CertificateCredential(thumbprint=m.certificate_thumbprint)
    return M365Draft(
        tenant_id=m.tenant_id,
        client_id=m.client_id,
        app_account=m.app_account,
        cloud="custom",
        authority_host=m.authority_host,
        graph_url=m.graph_url,
        ews_url=m.ews_url,
        ca_bundle=state.ca_bundle,
    ).build(cred, Stamp("m365", datetime.now(UTC)))


def onprem_connection(state: LabState, variant: str = "autodiscover", **overrides: Any) -> Connection:
    o = state.onprem
    fields: dict[str, Any] = {"admin_upn": o.admin_upn, "ca_bundle": state.ca_bundle, "dns_servers": [o.dns]}
    if variant == "fqdn":
        fields |= {"discovery": "manual", "server": o.server_fqdn}
    elif variant == "ip":
        fields |= {"discovery": "manual", "server": o.server_ip, "dns_servers": []}
    fields |= overrides
    return OnPremDraft(**fields).build("lab-password", Stamp("onprem", datetime.now(UTC)))


def target(state: LabState, connection: Connection, timeout: float = 10.0) -> Target:
    def secret(ref: str) -> Secret | None:
        return Secret(state.m365.client_secret if ref == "lab-secret" else state.onprem.admin_password)

    def certificate(thumbprint: str) -> Any:
        loaded = certificates.load_file(
            Path(state.m365.certificate_pfx), Secret(state.m365.certificate_password), datetime.now(UTC)
        )
        return (loaded.info, loaded.key_pem) if loaded.info.thumbprint == thumbprint else None

    return Target(connection, secret, certificate, timeout)


@dataclass
class Result:
    events: list[Event] = field(default_factory=list)

    @property
    def checks(self) -> dict[str, Finished]:
        return {e.check: e for e in self.events if isinstance(e, Finished)}

    @property
    def summary(self) -> Summary:
        last = self.events[-1]
        assert isinstance(last, Summary)
        return last

    def status(self, check: str) -> Status:
        return self.checks[check].status

    def code(self, check: str) -> str | None:
        problem = self.checks[check].outcome.problem
        return problem.code if problem else None

    def failures(self) -> list[tuple[str, str | None]]:
        return [(c, self.code(c)) for c, e in self.checks.items() if e.status is Status.FAILED]

    def progress(self) -> list[Progress]:
        return [e for e in self.events if isinstance(e, Progress)]


async def _no(request: ConfirmationRequest) -> bool:
    return False


def verify(
    state: LabState,
    connection: Connection,
    confirm: Callable[[ConfirmationRequest], Awaitable[bool]] = _no,
    timeout: float = 10.0,
    verification: Verification | None = None,
) -> Result:
    async def go() -> Result:
        v = verification or Verification(target(state, connection, timeout), confirm)
        result = Result()
        try:
            async for event in v.events():
                result.events.append(event)
        finally:
            if verification is None:
                v.close()
        return result

    return asyncio.run(asyncio.wait_for(go(), 120))  # a guard against a hang, not a speed goal
