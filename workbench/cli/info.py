"""`workbench info`: where the data lives, how secrets are protected, and which client signs admins in."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.redaction import console_log
from workbench.text import visible
from workbench.validate import FieldError

from .context import open_home
from .io import print_json


def register(commands: Any) -> None:
    parser = commands.add_parser("info", help="show the data directory, the store and how secrets are kept")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def _kerberos() -> str:
    """Whether remote PowerShell can use Kerberos here (its default), and how to get it where it cannot."""
    from workbench.checks.problems import INSTALL_KERBEROS_DEBIAN, INSTALL_KERBEROS_RHEL
    from workbench.net import kerberos

    reason = kerberos.missing()
    if reason is None:
        return "available (remote PowerShell's default)"
    return f"{reason}: {INSTALL_KERBEROS_DEBIAN} (RHEL: {INSTALL_KERBEROS_RHEL})"


def run(args: argparse.Namespace) -> int:
    home = open_home()
    snapshot = home.store.snapshot()
    vault = home.vault()
    from workbench.registration import sign_in_client

    facts: dict[str, Any] = {
        "data_dir": str(home.path),
        "store": str(home.store.path),
        "connections": len(snapshot.connections),
        "certificates": len(snapshot.certificates),
        "vault": vault.backend.value,
        "vault_description": vault.backend.description,
        "kerberos": _kerberos(),
        "console_log": str(console_log(home.path)),
    }
    try:  # automatic registration's sign-in client, unless a connection names its own
        client = sign_in_client()
        facts |= {"sign_in_client": client.client_id, "sign_in_client_origin": client.origin}
        shown = client.description
    except FieldError as error:
        facts |= {"sign_in_client": None, "sign_in_client_origin": "environment", "sign_in_client_error": error.message}
        shown = f"invalid: {error.message}"
    if args.json:
        print_json(facts)
    else:
        for key, value in facts.items():
            if key in {"data_dir", "store", "connections", "certificates", "vault", "kerberos"}:
                print(f"{key.replace('_', ' '):<15} {value}")
        print(f"{'secrets':<15} {vault.backend.description}")
        print(f"{'console log':<15} {facts['console_log']} (with WORKBENCH_LOG set; the CLI logs to standard error)")
        print(f"{'sign-in client':<15} {visible(shown)}")
    return 0
