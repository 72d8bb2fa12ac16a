"""`workbench demo`: the main job on the embedded lab, in the terminal.

Starts the lab (a simulated Microsoft 365 tenant and on-premises Exchange on loopback), creates a throw-away data
directory with sample connections — Microsoft 365 with a client secret, with a certificate, on-premises found by
autodiscover, and one with a mistyped secret — and streams their verification. Nothing touches your own data.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from storage import Home
from workbench import certificates
from workbench.describe import credential_of, status_of, target_of
from workbench.drafts import M365Draft, OnPremDraft
from workbench.model import CertificateCredential, ClientSecretCredential, Secret

from .context import new_stamp, now
from .io import print_table


def register(commands: Any) -> None:
    parser = commands.add_parser("demo", help="start the lab and verify sample connections against it")
    parser.add_argument("--keep", action="store_true", help="keep the demo data directory and print its path")
    parser.add_argument("--mailboxes", type=int, default=250, help="mailboxes in the lab (default 250)")
    parser.set_defaults(handler=run)


def _section(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def run(args: argparse.Namespace) -> int:
    from workbench.lab import Lab

    from .verify import verify_all

    folder = Path(tempfile.mkdtemp(prefix="workbench-demo-"))
    try:
        with Lab(mailboxes=max(args.mailboxes, 1), auto_approve=1.0) as lab:
            state = lab.state
            print("The lab is running on loopback: a Microsoft 365 tenant (Entra ID, Graph, Exchange Online EWS)")
            print(f"and an Exchange 2019 organisation ({state.onprem.domain}, DNS at {state.onprem.dns}).")
            print(f"Demo data directory: {folder / 'home'} (removed at the end).")
            home = Home(folder / "home")
            connections = _sample_connections(home, state)
            _section("Connections")
            print_table(
                ["NAME", "KIND", "TARGET", "CREDENTIAL"],
                [[c.name, c.kind.value, target_of(c), credential_of(c)] for c in connections],
            )
            _section("Verification (each line appears as its check finishes)")
            options = argparse.Namespace(
                json=False, only=None, grant_impersonation=False, timeout=10.0, sequential=True
            )
            code = verify_all(home, connections, options)
            _section("Stored results")
            print_table(
                ["NAME", "LAST VERIFICATION"],
                [[c.name, status_of(c)] for c in home.store.snapshot().connections],
            )
            print("\nOne connection fails on purpose (its secret is mistyped): see its code, cause and fixes above.")
    finally:
        if args.keep:
            print(f"\nDemo data kept in {folder / 'home'}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if code in (0, 1) else code


def _sample_connections(home: Home, state: Any) -> list[Any]:
    m, o = state.m365, state.onprem
    loaded = certificates.load_file(Path(m.certificate_pfx), Secret(m.certificate_password), now())
    info, _ = home.certificates.add(loaded.info, loaded.key_pem)
    changes = home.changeset()

    def m365(name: str, credential: Any) -> Any:
        return M365Draft(
            tenant_id=m.tenant_id,
            client_id=m.client_id,
            app_account=m.app_account,
            name=name,
            cloud="custom",
            authority_host=m.authority_host,
            graph_url=m.graph_url,
            ews_url=m.ews_url,
            ca_bundle=state.ca_bundle,
        ).build(credential, new_stamp())

    built = [
        m365(
            "Contoso (client secret)", ClientSecretCredential(secret_ref=changes.stage_secret(Secret(m.client_secret)))
        ),
        m365("Contoso (certificate)", CertificateCredential(thumbprint=info.thumbprint, sha256=info.sha256)),
        OnPremDraft(
            admin_upn=o.admin_upn, name="Fabrikam (autodiscover)", dns_servers=[o.dns], ca_bundle=state.ca_bundle
        ).build(changes.stage_secret(Secret(o.admin_password)), new_stamp()),
        m365(
            "Contoso (mistyped secret)",
            ClientSecretCredential(secret_ref=changes.stage_secret(Secret(m.client_secret[:-3] + "xyz"))),
        ),
    ]
    for connection in built:
        changes.add(connection)
    changes.commit()
    return built
