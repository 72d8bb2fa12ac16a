"""`workbench certs ...`: the personal certificate store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from storage import NotFoundError
from workbench import certificates, validate
from workbench.certificates import CertificateError
from workbench.model import CertificateInfo
from workbench.text import visible
from workbench.validate import FieldError

from .context import now, open_home
from .io import fail, print_json, print_table, read_secret, warn


def register(commands: Any) -> None:
    parser = commands.add_parser("certs", help="the personal certificate store (app certificates and keys)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list certificates")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_list)

    p = sub.add_parser("import", help="import a PFX, or a PEM holding certificate and key; prints the thumbprint")
    p.add_argument("file", type=Path)
    p.add_argument("--password-stdin", action="store_true", help="read the file's password from stdin")
    p.set_defaults(handler=run_import)

    p = sub.add_parser("generate", help="create a self-signed RSA 2048 certificate for an app registration")
    p.add_argument("--subject", default=certificates.DEFAULT_SUBJECT, help="e.g. 'CN=Exchange Workbench'")
    p.add_argument("--days", default="365", help="validity in days (default 365)")
    p.add_argument("--cert-out", type=Path, help="also write the public certificate (PEM) here, for Entra ID")
    p.set_defaults(handler=run_generate)

    p = sub.add_parser("remove", help="remove a certificate and its private key")
    p.add_argument("thumbprint")
    p.set_defaults(handler=run_remove)


def _document(info: CertificateInfo) -> dict[str, object]:
    return {
        "thumbprint": info.thumbprint,
        "sha256": info.sha256,
        "subject": info.subject,
        "issuer": info.issuer,
        "serial": info.serial,
        "not_before": info.not_before.isoformat(),
        "not_after": info.not_after.isoformat(),
        "key_size": info.key_size,
        "source": info.source.value,
    }


def run_list(args: argparse.Namespace) -> int:
    found = open_home().certificates.list()
    if args.json:
        print_json([_document(info) for info in found])
        return 0
    if not found:
        print("No certificates. Import one (workbench certs import FILE) or generate one (workbench certs generate).")
        return 0
    today = now()
    print_table(
        ["THUMBPRINT (SHA-1)", "SUBJECT", "KEY", "EXPIRES", "DAYS LEFT"],
        [
            [i.thumbprint, i.subject, f"RSA {i.key_size}", f"{i.not_after:%Y-%m-%d}", str(i.days_left(today))]
            for i in found
        ],
    )
    return 0


def _store(loaded: certificates.LoadedCertificate) -> CertificateInfo:
    info, added = open_home().certificates.add(loaded.info, loaded.key_pem)
    if not added:
        warn(f"certificate {info.thumbprint} was already in the store")
    days = info.days_left(now())
    if days < 30:
        warn(f"certificate {info.thumbprint} expires in {days} day(s), on {info.not_after:%Y-%m-%d}")
    return info


def run_import(args: argparse.Namespace) -> int:
    password = read_secret("file password", True, lambda text: text.strip("\r\n")) if args.password_stdin else None
    try:
        loaded = certificates.load_file(args.file, password, now())
    except CertificateError as error:
        fail(f"{args.file}: {error}")
    print(_store(loaded).thumbprint)
    return 0


def run_generate(args: argparse.Namespace) -> int:
    try:
        days = validate.validity_days(args.days)
        loaded = certificates.generate(args.subject, days, now())
    except FieldError as error:
        fail(error.message)
    except CertificateError as error:
        fail(str(error))
    if args.cert_out is not None:  # first: a certificate whose public part could not be saved is not stored
        try:
            args.cert_out.write_text(loaded.info.cert_pem, encoding="ascii")
        except OSError as error:
            fail(f"Cannot write {args.cert_out}: {error.strerror or error}; nothing was stored")
    info = _store(loaded)
    print(info.thumbprint)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    try:
        thumbprint = validate.thumbprint(args.thumbprint)
        info = open_home().certificates.remove(thumbprint)
    except FieldError as error:
        fail(error.message)
    except NotFoundError as error:
        fail(str(error))
    print(f"Removed {info.thumbprint} ({visible(info.subject)})")
    return 0
