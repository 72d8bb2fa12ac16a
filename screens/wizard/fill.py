"""The demo's fill-in: the embedded lab's values, so a newcomer completes every path of the wizard (`ctrl+l`)
without knowing them. Only `workbench demo` gives the console these; a real data directory never has them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.model import Secret

if TYPE_CHECKING:
    from workbench.lab import LabState


@dataclass(frozen=True, slots=True)
class LabValues:
    ca_bundle: str
    # Microsoft 365
    authority_host: str
    graph_url: str
    m365_ews_url: str
    tenant_id: str
    client_id: str
    app_account: str
    client_secret: Secret
    certificate_pfx: str
    certificate_password: Secret
    # on-premises
    admin_upn: str
    admin_password: Secret
    server_fqdn: str
    server_ip: str
    dns: str
    auto_approve: float | None = None  # seconds after which the lab approves a device code (the demo's: 1)

    @classmethod
    def of(cls, state: LabState, auto_approve: float | None = None) -> LabValues:
        m, o = state.m365, state.onprem
        return cls(
            ca_bundle=state.ca_bundle,
            authority_host=m.authority_host,
            graph_url=m.graph_url,
            m365_ews_url=m.ews_url,
            tenant_id=m.tenant_id,
            client_id=m.client_id,
            app_account=m.app_account,
            client_secret=Secret(m.client_secret),
            certificate_pfx=m.certificate_pfx,
            certificate_password=Secret(m.certificate_password),
            admin_upn=o.admin_upn,
            admin_password=Secret(o.admin_password),
            server_fqdn=o.server_fqdn,
            server_ip=o.server_ip,
            dns=o.dns,
            auto_approve=auto_approve,
        )
