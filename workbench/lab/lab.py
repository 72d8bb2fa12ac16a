"""`Lab`: the embedded Microsoft 365 tenant and on-premises Exchange organisation on loopback TLS.

    with Lab(scenarios={"bad-secret"}, mailboxes=20) as lab:
        lab.state.m365.client_id, lab.state.ca_bundle, ...

Everything a client needs to reach the lab is in `state` (also written by `workbench lab --state-file`).
Files (CA bundle, PFX) live in a private temporary folder removed when the lab stops.
"""

from __future__ import annotations

import random
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from workbench.clouds import GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID

from . import scenarios as scenario_table
from .autodiscover import FOREIGN_HOST, Autodiscover, RedirectSite, start_redirect_site
from .ca import LOOPBACK_NAMES, LabCA
from .dns import LabDns, Zone
from .entra import Entra
from .ews_online import ExchangeOnlineEws
from .ews_onprem import OnPremEws
from .graph import Graph
from .http import LabServer, Request, Router, server_tls_context
from .httpauth import Authenticator, KerberosAcceptor
from .kerberos import Kdc, Principal
from .kerberos import missing as kerberos_missing
from .org import Organization, seed_organization
from .tenant import seed_tenant
from .tokens import TokenIssuer
from .world import World
from .wsman import RemotePowerShell

PS_SLOW_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class M365State:
    authority_host: str
    graph_url: str
    ews_url: str
    tenant_id: str
    tenant_domain: str
    initial_domain: str
    app_account: str
    client_id: str
    client_secret: str
    certificate_pfx: str
    certificate_password: str
    certificate_thumbprint: str
    certificate_pem: str
    admin_upn: str
    admin_password: str
    public_client_id: str  # Microsoft Graph Command Line Tools: Microsoft's, in every tenant, not seeded by us
    organisation_client_id: str  # the tenant's own public client (for tenants that block Microsoft's)
    mailbox_count: int


@dataclass(frozen=True, slots=True)
class KerberosState:
    realm: str  # FABRIKAM.TEST
    kdc: str  # 127.0.0.1:PORT (also published as SRV _kerberos._tcp.<domain> through `dns`)
    spn: str  # HTTP/exch01.fabrikam.test


@dataclass(frozen=True, slots=True)
class OnPremState:
    domain: str
    accepted_domains: tuple[str, ...]
    server: str  # host:port that resolves without the lab's DNS
    server_fqdn: str  # the server's own name (resolve it through `dns`)
    server_ip: str
    ews_url: str
    powershell_url: str
    autodiscover_url: str
    dns: str  # ip:port of the lab's DNS server
    admin_upn: str
    admin_password: str
    mailbox_count: int
    certificate_sha256: str  # of the server certificate, for pinning
    kerberos: KerberosState | None  # None: no KDC could run here (see `Lab.kerberos_note`)
    redirect_site: str = ""  # ip:80 of http://autodiscover.<domain> (the autodiscover-redirect scenarios), or ""


@dataclass(frozen=True, slots=True)
class LabState:
    ca_bundle: str
    scenarios: tuple[str, ...]
    latency_ms: int
    m365: M365State
    onprem: OnPremState

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Lab:
    def __init__(
        self,
        scenarios: str | set[str] | frozenset[str] | tuple[str, ...] = (),
        *,
        latency_ms: int = 0,
        mailboxes: int = 10,
        auto_approve: float | None = None,
        seed: int | None = None,
        organisation_client_id: str | None = None,
        propagation_seconds: float = 4.0,
    ) -> None:
        text = scenarios if isinstance(scenarios, str) else ",".join(scenarios)
        self.scenarios = scenario_table.parse(text)
        if {"autodiscover-redirect", "autodiscover-redirect-foreign"} <= self.scenarios:
            raise ValueError("autodiscover-redirect and autodiscover-redirect-foreign exclude each other")
        if latency_ms < 0 or mailboxes < 0:
            raise ValueError("latency and mailbox count must not be negative")
        self.latency_ms = latency_ms
        self.mailboxes = mailboxes
        self.auto_approve = auto_approve
        self.organisation_client_id = organisation_client_id
        self.propagation_seconds = propagation_seconds
        self._rng = random.Random(seed)  # noqa: S311  (lab identities, not secrets)
        self._folder: Path | None = None
        self._servers: list[LabServer] = []
        self._dns: LabDns | None = None
        self._kdc: Kdc | None = None
        self.kerberos_note: str | None = None  # why the lab runs without Kerberos, when it does
        self._state: LabState | None = None
        self.world: World | None = None
        self.org: Organization | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def state(self) -> LabState:
        if self._state is None:
            raise RuntimeError("the lab is not running")
        return self._state

    def _latency(self, request: Request) -> float:
        extra = PS_SLOW_SECONDS if "ps-slow" in self.scenarios and request.path.lower().startswith("/powershell") else 0
        return self.latency_ms / 1000 + extra

    def start(self) -> LabState:
        folder = Path(tempfile.mkdtemp(prefix="workbench-lab-"))
        folder.chmod(0o700)
        self._folder = folder
        try:
            return self._start(folder)
        except BaseException:
            self.stop()
            raise

    def _start(self, folder: Path) -> LabState:
        ca = LabCA(folder)
        server_cert = ca.issue_server()
        tls = server_tls_context(str(server_cert.cert_file), str(server_cert.key_file))
        now = datetime.now(UTC)
        tenant, app, accounts = seed_tenant(
            rng=self._rng,
            mailboxes=self.mailboxes,
            scenarios=self.scenarios,
            organisation_client_id=self.organisation_client_id,
            now=now,
            propagation_seconds=self.propagation_seconds,
        )
        world = World(tenant=tenant, issuer=TokenIssuer(), scenarios=self.scenarios, auto_approve=self.auto_approve)
        self.world = world
        services = [
            ("login", Entra(world).router()),
            ("graph", Graph(world).router()),
            ("outlook", ExchangeOnlineEws(world).router()),
        ]
        for name, router in services:
            self._servers.append(LabServer(name, router, tls, server_cert.der, self._latency).start())
        login, graph, outlook = self._servers
        world.login_url, world.graph_url, world.outlook_url = login.url, graph.url, outlook.url

        password = secrets.token_urlsafe(12)
        cert = x509.load_der_x509_certificate(app.certificate_der)
        pfx = folder / "lab-app.pfx"
        pfx.touch(mode=0o600)
        pfx.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"Exchange Workbench (lab)",
                app.private_key,
                cert,
                None,
                serialization.BestAvailableEncryption(password.encode()),
            )
        )
        handed_out_tenant = str(tenant.new_id()) if "unknown-tenant" in self.scenarios else tenant.id
        onprem = self._start_onprem(folder, ca)
        self._state = LabState(
            ca_bundle=str(ca.bundle),
            scenarios=tuple(sorted(self.scenarios)),
            latency_ms=self.latency_ms,
            onprem=onprem,
            m365=M365State(
                authority_host=login.url,
                graph_url=graph.url,
                ews_url=f"{outlook.url}/EWS/Exchange.asmx",
                tenant_id=handed_out_tenant,
                tenant_domain=tenant.default_domain,
                initial_domain=tenant.initial_domain,
                app_account=accounts["app_account"],
                client_id=app.client_id,
                client_secret=app.client_secret,
                certificate_pfx=str(pfx),
                certificate_password=password,
                certificate_thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
                certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                admin_upn=accounts["admin"],
                admin_password=accounts["admin_password"],
                public_client_id=GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID,
                organisation_client_id=accounts["organisation_client_id"],
                mailbox_count=self.mailboxes,
            ),
        )
        return self._state

    def _start_onprem(self, folder: Path, ca: LabCA) -> OnPremState:
        org, accounts = seed_organization(rng=self._rng, mailboxes=self.mailboxes, scenarios=self.scenarios)
        foreign = "autodiscover-redirect-foreign" in self.scenarios
        redirected = foreign or "autodiscover-redirect" in self.scenarios
        srv_foreign = "autodiscover-srv-foreign" in self.scenarios
        names: tuple[str, ...] = (
            org.fqdn,
            f"autodiscover.{org.domain}",
            f"mail.{org.domain}",
            org.domain,
            *LOOPBACK_NAMES,
        )
        if foreign or srv_foreign:  # the hosting provider's name, on its own certificate's list
            names = (*names, FOREIGN_HOST)
        if "untrusted-cert" in self.scenarios:
            certificate = LabCA(folder, "Fabrikam Internal Issuing CA").issue_server(names, label="exchange")
        elif "name-mismatch" in self.scenarios:
            certificate = ca.issue_server(("legacy-mail.fabrikam-old.test",), label="exchange")
        else:
            certificate = ca.issue_server(names, label="exchange")
        kerberos = self._start_kdc(folder, org)
        acceptor = (
            KerberosAcceptor(kerberos.keytab, folder / "kerberos-replay", org.realm) if kerberos is not None else None
        )
        auth = Authenticator(org, folder, certificate.der, acceptor)
        router = Router()
        ews = OnPremEws(org, auth)
        ews.register(router)
        RemotePowerShell(org, auth).router(router)
        server = LabServer(
            "exchange",
            router,
            server_tls_context(str(certificate.cert_file), str(certificate.key_file)),
            certificate.der,
            self._latency,
        )
        Autodiscover(
            org,
            auth,
            lambda: f"https://{org.fqdn}:{server.port}/EWS/Exchange.asmx",
            internal_only="autodiscover-internal-only" in self.scenarios,
            broken="autodiscover-broken" in self.scenarios,
        ).register(router)
        server.silent = "server-down" in self.scenarios
        self._servers.append(server.start())
        zone = Zone(a={org.fqdn: "127.0.0.1", f"mail.{org.domain}": "127.0.0.1"})
        redirect_site = ""
        if redirected:
            # Only the plain-HTTP redirect leads to the server: no A record for the domain, autodiscover.<domain>
            # is the redirect site (nothing answers https there), no SRV record.
            target = f"{FOREIGN_HOST if foreign else org.fqdn}:{server.port}"
            site = start_redirect_site(RedirectSite(lambda: target).router(), random.Random())  # noqa: S311
            self._servers.append(site)
            redirect_site = f"{site.host}:{site.port}"
            zone.a[f"autodiscover.{org.domain}"] = site.host
            if foreign:
                zone.a[FOREIGN_HOST] = "127.0.0.1"
        elif srv_foreign:
            # Only the SRV record leads on, and it names the hosting provider in another domain.
            zone.a[FOREIGN_HOST] = "127.0.0.1"
            zone.srv[f"_autodiscover._tcp.{org.domain}"] = [(0, 0, server.port, FOREIGN_HOST)]
        else:
            if "autodiscover-srv-only" not in self.scenarios:
                zone.a |= {org.domain: "127.0.0.1", f"autodiscover.{org.domain}": "127.0.0.1"}
            zone.srv[f"_autodiscover._tcp.{org.domain}"] = [(0, 0, server.port, org.fqdn)]
        if kerberos is not None:  # a domain controller, as Active Directory publishes its KDCs
            zone.a[f"dc01.{org.domain}"] = "127.0.0.1"
            zone.srv[f"_kerberos._tcp.{org.domain}"] = [(0, 100, kerberos.port, f"dc01.{org.domain}")]
        self._dns = LabDns(zone).start()
        self.org = org
        password = accounts["admin_password"]
        if "bad-password" in self.scenarios:
            password = f"Wrong-{self._rng.getrandbits(32):08x}"
        port = server.port
        return OnPremState(
            domain=org.domain,
            accepted_domains=tuple(org.accepted_domains),
            server=f"localhost:{port}",
            server_fqdn=f"{org.fqdn}:{port}",
            server_ip=f"127.0.0.1:{port}",
            ews_url=f"https://localhost:{port}/EWS/Exchange.asmx",
            powershell_url=f"https://localhost:{port}/PowerShell",
            autodiscover_url=f"https://localhost:{port}/autodiscover/autodiscover.svc",
            dns=self._dns.address,
            admin_upn=accounts["admin"],
            admin_password=password,
            mailbox_count=self.mailboxes,
            certificate_sha256=certificate.sha256,
            kerberos=KerberosState(org.realm, kerberos.address, kerberos.service) if kerberos is not None else None,
            redirect_site=redirect_site,
        )

    def _start_kdc(self, folder: Path, org: Organization) -> Kdc | None:
        """The organisation's KDC, or None (and `kerberos_note` says why) where MIT Kerberos is not installed."""
        self.kerberos_note = kerberos_missing()
        if self.kerberos_note is not None:
            return None
        kdc = Kdc(folder / "kdc", org.realm, f"HTTP/{org.fqdn}")
        self._kdc = kdc
        kdc.start(Principal(r.alias, r.password) for r in org.recipients.values() if r.password)
        return kdc

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if self._dns is not None:
            self._dns.stop()
            self._dns = None
        if self._kdc is not None:
            self._kdc.stop()
            self._kdc = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._state = None

    def server(self, name: str) -> LabServer:
        return next(s for s in self._servers if s.name == name)

    @property
    def servers(self) -> tuple[LabServer, ...]:
        return tuple(self._servers)
