"""`workbench demo`: a walk through the workbench on a throw-away data directory.

Until the embedded lab and the verification engine exist, the demo shows what the foundation does, through the
same code the other commands use: certificates, both kinds of connection, the validators' messages, a staged
changeset with its diff, the commit, and an export without secrets. Nothing touches the user's own data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from storage import Home
from workbench import certificates
from workbench.drafts import DraftInvalid, M365Draft, OnPremDraft
from workbench.exports import export_document
from workbench.model import CertificateCredential, ClientSecretCredential, Secret
from workbench.validate import server_address, server_warnings

from .connections import credential_of, status_of, target_of
from .context import new_stamp, now
from .io import print_table

TENANT = "8f2c1c52-4a5e-4d8e-9b0e-2f6c4d1a7e10"
CLIENT = "3b9d7e21-6c4f-4b1a-8e2d-5a7f9c0b1d23"


def register(commands: Any) -> None:
    parser = commands.add_parser("demo", help="a guided walk through the workbench on a throw-away store")
    parser.add_argument("--keep", action="store_true", help="keep the demo data directory and print its path")
    parser.set_defaults(handler=run)


def _step(title: str) -> None:
    print(f"\n== {title}")


def run(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="workbench-demo-"))
    try:
        _tour(Home(folder / "home"))
    finally:
        if args.keep:
            print(f"\nDemo data kept in {folder / 'home'} (WORKBENCH_HOME={folder / 'home'} workbench ...)")
        else:
            shutil.rmtree(folder)
    return 0


def _tour(home: Home) -> None:
    print(f"Demo data directory: {home.path} (private, 0700; removed at the end)")

    _step("Generate an app certificate in the personal store (RSA 2048, client authentication)")
    loaded = certificates.generate("CN=Exchange Workbench Demo", 365, now())
    info, _ = home.certificates.add(loaded.info, loaded.key_pem)
    print(f"  {info.subject}  SHA-1 {info.thumbprint}  expires {info.not_after:%Y-%m-%d}")

    _step("Validators explain what is wrong, field by field")
    try:
        M365Draft(tenant_id="contoso.onmicrosoft.com", client_id="{12}", app_account="CONTOSO\\svc").build(
            ClientSecretCredential(secret_ref=None), new_stamp()
        )
    except DraftInvalid as error:
        for problem in error.errors:
            print(f"  {problem.field:<12} {problem.message}")
    for warning in server_warnings(server_address("127.0.0.1")):
        print(f"  warning      {warning}")

    _step("Stage connections in a changeset (nothing is written yet)")
    changes = home.changeset()
    with_cert = M365Draft(tenant_id=TENANT, client_id=CLIENT, app_account="backup@contoso.com", name="Contoso").build(
        CertificateCredential(thumbprint=info.thumbprint, sha256=info.sha256), new_stamp()
    )
    secret_ref = changes.stage_secret(Secret("demo~client.secret-value"))
    with_secret = M365Draft(tenant_id=TENANT, client_id=CLIENT, app_account="svc@fabrikam.com").build(
        ClientSecretCredential(secret_ref=secret_ref), new_stamp()
    )
    password_ref = changes.stage_secret(Secret("demo-admin-password"))
    on_prem = OnPremDraft(admin_upn="admin@contoso.com", dns_servers=["127.0.0.1:5353"]).build(
        password_ref, new_stamp()
    )
    for connection in (with_cert, with_secret, on_prem):
        changes.add(connection)
    changes.edit(replace(on_prem, name="Contoso on-premises"))
    for change in changes:
        print(f"  {change.kind.value:<7} {change.connection.name}")
    print(f"  connections on disk so far: {len(home.store.snapshot().connections)}")

    _step("OK: commit everything in one atomic write")
    result = changes.commit()
    print(f"  added {result.added}; secrets went to the vault ({home.vault().backend.description})")
    print_table(
        ["  NAME", "KIND", "TARGET", "CREDENTIAL", "STATUS"],
        [
            [f"  {c.name}", c.kind.value, target_of(c), credential_of(c), status_of(c)]
            for c in home.store.snapshot().connections
        ],
    )

    _step("Export (what you can hand to a colleague): no secrets, no references to them")
    exported = export_document(home.store.snapshot().connections, now())
    print("  " + json.dumps(exported["connections"][0]["settings"]["credential"]))
    on_disk = b"".join(p.read_bytes() for p in home.path.iterdir() if p.is_file())
    leaked = [s for s in ("demo~client.secret-value", "demo-admin-password") if s.encode() in on_disk]
    print(f"  secrets found in clear under the data directory: {leaked or 'none'}")
