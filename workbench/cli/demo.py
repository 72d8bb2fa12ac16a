"""`workbench demo`: the console on the embedded lab.

Starts the lab (a simulated Microsoft 365 tenant and on-premises Exchange on loopback), creates a throw-away data
directory with sample connections — Microsoft 365 with a client secret and with a certificate, on-premises found
by autodiscover, and two that fail on purpose (a mistyped client secret, a server certificate nobody trusts yet) —
and opens the console on it; the lab stops when the console quits. `--home DIR` uses (and keeps) DIR instead, so a
trainer can prepare a demo. With `--headless`, or when standard output is not a terminal, it streams the
verification of the sample connections as text instead. Nothing touches your own data.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from storage import Home, InUseError, NotFoundError
from workbench import certificates
from workbench.describe import credential_of, status_of, target_of
from workbench.drafts import M365Draft, OnPremDraft
from workbench.model import CertificateCredential, ClientSecretCredential, M365Settings, Secret

from .context import new_stamp, now
from .io import print_table


def register(commands: Any) -> None:
    parser = commands.add_parser("demo", help="open the console on the embedded lab, with sample connections")
    parser.add_argument("--home", type=Path, help="use (and keep) this data directory instead of a temporary one")
    parser.add_argument("--headless", action="store_true", help="stream the verification as text, no console")
    parser.add_argument("--keep", action="store_true", help="keep the demo data directory and print its path")
    parser.add_argument("--mailboxes", type=int, default=250, help="mailboxes in the lab (default 250)")
    parser.set_defaults(handler=run)


def _section(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def run(args: argparse.Namespace) -> int:
    from workbench.lab import Lab

    headless = args.headless or not (sys.stdout.isatty() and sys.stdin.isatty())
    folder = Path(tempfile.mkdtemp(prefix="workbench-demo-")) if args.home is None else None
    path = args.home.expanduser() if args.home is not None else folder / "home"  # type: ignore[operator]
    code = 0
    log: Path | None = None
    try:
        with Lab(mailboxes=max(args.mailboxes, 1), auto_approve=1.0) as lab:
            if lab.kerberos_note is not None:
                print(f"Note: {lab.kerberos_note}", file=sys.stderr)
            home = Home(path)
            _sample_connections(home, lab.state)  # in a kept DIR: the samples are pointed at this run's lab
            if headless:
                code = _stream(home, lab.state, path)
            else:
                from screens import WorkbenchApp
                from screens.wizard import LabValues
                from workbench.redaction import console_log, console_logging

                # WORKBENCH_LOG's records go to a file; a temporary data directory's log outlives it.
                log_path = console_log(path) if folder is None or args.keep else folder.with_suffix(".log")
                with console_logging(log_path, restore=False) as log:
                    values = LabValues.of(lab.state, lab.auto_approve)
                    WorkbenchApp(home, lab=True, timeout=10.0, lab_values=values, log_file=log).run()
    finally:
        if folder is None or args.keep:
            print(f"Demo data directory: {path} (kept)")
        else:
            shutil.rmtree(folder, ignore_errors=True)
        if log is not None:
            print(f"Log: {log}")
    return 0 if code in (0, 1) else code


def _stream(home: Home, state: Any, path: Path) -> int:
    from .verify import verify_all

    print("The lab is running on loopback: a Microsoft 365 tenant (Entra ID, Graph, Exchange Online EWS)")
    print(f"and an Exchange 2019 organisation ({state.onprem.domain}, DNS at {state.onprem.dns}).")
    print(f"Demo data directory: {path}")
    connections = home.store.snapshot().connections
    _section("Connections")
    print_table(
        ["NAME", "KIND", "TARGET", "CREDENTIAL"],
        [[c.name, c.kind.value, target_of(c), credential_of(c)] for c in connections],
    )
    _section("Verification (each line appears as its check finishes)")
    options = argparse.Namespace(json=False, only=None, grant_impersonation=False, timeout=10.0, sequential=True)
    code = verify_all(home, list(connections), options)
    _section("Stored results")
    print_table(
        ["NAME", "LAST VERIFICATION"],
        [[c.name, status_of(c)] for c in home.store.snapshot().connections],
    )
    print(
        "\nTwo connections fail on purpose: a mistyped client secret, and a server certificate that is not trusted"
        " yet. See their codes, causes and fixes above; in the console (`workbench demo` in a terminal) the"
        " troubleshooting panel sets the secret or pins the certificate for you."
    )
    return code


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
        OnPremDraft(
            admin_upn=o.admin_upn,
            name="Fabrikam by name (certificate not trusted yet)",
            discovery="manual",
            server=o.server_fqdn,  # its own name: Kerberos asks for HTTP/exch01.fabrikam.test
            dns_servers=[o.dns],
        ).build(changes.stage_secret(Secret(o.admin_password)), new_stamp()),
    ]
    left: set[str] = set()  # the certificates of the samples an earlier demo left in DIR (their lab is gone)
    for connection in built:
        with contextlib.suppress(NotFoundError):
            earlier = changes.get(connection.name)
            changes.delete(earlier.id)
            if isinstance(earlier.settings, M365Settings) and isinstance(
                earlier.settings.credential, CertificateCredential
            ):
                left.add(earlier.settings.credential.thumbprint)
        changes.add(connection)
    changes.commit()
    for thumbprint in left - {info.thumbprint}:
        with contextlib.suppress(NotFoundError, InUseError):  # kept while a connection of the admin's uses it
            home.certificates.remove(thumbprint)
    return built
