"""`workbench connections ...`: list, show, add, remove, set-secret, trust, export, import."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from storage import Changeset, NameTakenError, NotFoundError
from workbench import validate
from workbench.certificates import usable_for_connection
from workbench.describe import credential_of, status_of, target_of
from workbench.drafts import DraftInvalid, M365Draft, OnPremDraft
from workbench.exports import ImportProblem, export_document, parse_export, public_document
from workbench.model import (
    CertificateCredential,
    ClientSecretCredential,
    Cloud,
    Connection,
    Credential,
    M365Settings,
    OnPremSettings,
    PowerShellAuth,
)
from workbench.text import visible
from workbench.validate import FieldError

from .context import new_stamp, now, open_home
from .io import FAILURE, fail, info, print_json, print_table, read_secret, warn


def register(commands: Any) -> None:
    parser = commands.add_parser("connections", help="list, add, show, remove, export and import connections")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list connections")
    p.add_argument("--json", action="store_true", help="print JSON (no secrets)")
    p.set_defaults(handler=run_list)

    p = sub.add_parser("show", help="show one connection")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_show)

    p = sub.add_parser("remove", help="remove a connection and its secrets")
    p.add_argument("name")
    p.add_argument(
        "--delete-app",
        action="store_true",
        help="also delete its automatically registered Entra app (signs an admin in with a device code)",
    )
    p.add_argument(
        "--delete-certificate",
        action="store_true",
        help="also remove its certificate and private key when no connection uses them any more (one automatic "
        "registration made goes without asking)",
    )
    p.add_argument("--public-client-id", default="", metavar="GUID", help="--delete-app: the sign-in client")
    p.add_argument("--timeout", type=float, default=20.0, metavar="S", help=argparse.SUPPRESS)
    p.set_defaults(handler=run_remove)

    p = sub.add_parser(
        "register", help="register an automatically registered connection's app again (repairs what is missing)"
    )
    p.add_argument("name")
    p.add_argument("--rotate-certificate", action="store_true", help="new certificate; the old one goes once it works")
    p.add_argument("--yes", action="store_true", help="apply the plan without asking")
    p.add_argument("--public-client-id", default="", metavar="GUID", help="the sign-in client (kept for next time)")
    p.add_argument("--timeout", type=float, default=20.0, metavar="S", help="per network call (default 20)")
    p.set_defaults(handler=run_register)

    p = sub.add_parser("set-secret", help="set the client secret or admin password (read from stdin or a prompt)")
    p.add_argument("name")
    p.add_argument("--stdin", action="store_true", help="read the secret from standard input")
    p.set_defaults(handler=run_set_secret)

    p = sub.add_parser(
        "trust", help="how an on-premises server's certificate is trusted: a pin, a CA bundle, the system"
    )
    p.add_argument("name")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--pin-sha256", metavar="FINGERPRINT", help="accept exactly this certificate (after comparing it)")
    how.add_argument("--ca-bundle", metavar="FILE", help="trust the CAs in this PEM file for this connection")
    how.add_argument("--system", action="store_true", help="trust what the system trusts")
    p.set_defaults(handler=run_trust)

    p = sub.add_parser("export", help="write connections as JSON, without secrets")
    p.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    p.set_defaults(handler=run_export)

    p = sub.add_parser("import", help="add connections from an export (secrets must then be set)")
    p.add_argument("file", type=Path)
    p.set_defaults(handler=run_import)

    add = sub.add_parser("add", help="add a connection").add_subparsers(dest="kind", metavar="KIND", required=True)

    m = add.add_parser(
        "m365",
        help="Microsoft 365 / Exchange Online: registered automatically (--automatic) or by hand in Entra ID",
    )
    m.add_argument(
        "--automatic",
        action="store_true",
        help="sign an admin in with a device code and register the app (with its own certificate) for you",
    )
    m.add_argument("--name", default="", help="display name (default: the application account's domain)")
    m.add_argument(
        "--tenant-id", default="", help="Directory (tenant) ID, a GUID (learned from the sign-in if omitted)"
    )
    m.add_argument("--client-id", default="", help="Application (client) ID, a GUID (manual registration)")
    m.add_argument("--app-account", required=True, help="dedicated application account (an email address)")
    cred = m.add_mutually_exclusive_group()
    cred.add_argument("--client-secret-stdin", action="store_true", help="read the client secret's Value from stdin")
    cred.add_argument("--certificate-thumbprint", metavar="SHA1", help="a certificate in the personal store")
    m.add_argument(
        "--public-client-id", default="", metavar="GUID", help="--automatic: the client the admin signs in to"
    )
    m.add_argument("--yes", action="store_true", help="--automatic: apply the plan without asking")
    m.add_argument("--timeout", type=float, default=20.0, metavar="S", help="--automatic: per network call")
    m.add_argument("--cloud", default=Cloud.GLOBAL.value, choices=[c.value for c in Cloud])
    m.add_argument("--authority-host", default="", metavar="URL", help="custom cloud: sign-in authority")
    m.add_argument("--graph-url", default="", metavar="URL", help="custom cloud: Microsoft Graph root")
    m.add_argument("--ews-url", default="", metavar="URL", help="custom cloud: EWS endpoint")
    m.add_argument("--ca-bundle", default="", metavar="PATH", help="extra CA certificates to trust (PEM)")
    m.set_defaults(handler=run_add_m365)

    o = add.add_parser("onprem", help="on-premises Exchange Server")
    o.add_argument("--name", default="", help="display name (default: the admin's UPN)")
    where = o.add_mutually_exclusive_group(required=True)
    where.add_argument("--autodiscover", action="store_true", help="find the server from the admin's address")
    where.add_argument("--server", metavar="HOST[:PORT]", help="server FQDN or IP address")
    o.add_argument("--ews-url", default="", metavar="URL", help="default: https://SERVER/EWS/Exchange.asmx")
    o.add_argument("--admin-upn", required=True, help="admin account UPN, e.g. admin@contoso.com")
    o.add_argument("--password-stdin", action="store_true", help="read the admin password from stdin")
    trust = o.add_mutually_exclusive_group()
    trust.add_argument("--ca-bundle", default="", metavar="PATH", help="CA certificates that issued the server's")
    trust.add_argument("--pin-sha256", default="", metavar="HEX", help="trust exactly this server certificate")
    o.add_argument("--dns-server", action="append", default=[], metavar="IP[:PORT]", help="resolver for autodiscover")
    o.add_argument(
        "--powershell-auth",
        default="",
        choices=[a.value for a in PowerShellAuth],
        help="remote PowerShell: kerberos (the default for a server name; Exchange's default), basic (HTTPS; the "
        "default for an IP address, needs -BasicAuthentication $true on the PowerShell directory), ntlm (only "
        "where Windows authentication is on there)",
    )
    o.add_argument(
        "--realm", default="", metavar="REALM", help="Kerberos realm (default: the UPN's domain in capitals)"
    )
    o.add_argument(
        "--kdc", default="", metavar="HOST[:PORT]", help="a domain controller (default: DNS SRV _kerberos._tcp.REALM)"
    )
    o.set_defaults(handler=run_add_onprem)


# ------------------------------------------------------------------ describing


def _details(connection: Connection) -> list[tuple[str, str]]:
    s = connection.settings
    rows = [("Name", connection.name), ("Kind", connection.kind.label), ("Id", connection.id)]
    if isinstance(s, M365Settings):
        rows += [
            ("Cloud", s.cloud.value),
            ("Registration", s.registration.value),
            ("Tenant ID", s.tenant_id),
            ("Client ID", s.client_id),
            ("Application account", s.app_account),
            ("Credential", credential_of(connection)),
        ]
        if isinstance(s.credential, CertificateCredential):
            rows.append(("Certificate SHA-1", s.credential.thumbprint))
        if s.custom_endpoints:
            rows += [
                ("Authority host", s.custom_endpoints.authority_host),
                ("Graph URL", s.custom_endpoints.graph_url),
                ("EWS URL", s.custom_endpoints.ews_url),
            ]
        if s.ca_bundle:
            rows.append(("CA bundle", s.ca_bundle))
    else:
        rows += [
            ("Discovery", s.discovery.value),
            ("Server", s.server or "(found by autodiscover)"),
            ("EWS URL", s.ews_url or "(found by autodiscover)"),
            ("Administrator", s.admin_upn),
            ("Password", "set" if s.password_ref else "NOT SET"),
            ("PowerShell auth", s.powershell_auth.value),
            ("TLS trust", s.tls.mode.value),
        ]
        if s.powershell_auth is PowerShellAuth.KERBEROS:
            rows.append(
                ("Kerberos realm", s.kerberos_realm or f"{s.admin_upn.rpartition('@')[2].upper()} (from the UPN)")
            )
            rows.append(("KDC", s.kerberos_kdc or "(DNS SRV _kerberos._tcp)"))
        if s.tls.ca_bundle:
            rows.append(("CA bundle", s.tls.ca_bundle))
        if s.tls.pin_sha256:
            rows.append(("Pinned SHA-256", s.tls.pin_sha256))
        if s.dns_servers:
            rows.append(("DNS servers", ", ".join(s.dns_servers)))
    rows += [
        ("Created", f"{connection.created:%Y-%m-%d %H:%M:%S %Z}"),
        ("Updated", f"{connection.updated:%Y-%m-%d %H:%M:%S %Z}"),
        ("Last verification", status_of(connection)),
    ]
    return rows


# ------------------------------------------------------------------ commands


def run_list(args: argparse.Namespace) -> int:
    connections = open_home().store.snapshot().connections
    if args.json:
        print_json([public_document(c) for c in connections])
        return 0
    if not connections:
        info("No connections yet. Add one with: workbench connections add m365|onprem --help")
        return 0
    print_table(
        ["NAME", "KIND", "TARGET", "CREDENTIAL", "STATUS"],
        [[c.name, c.kind.value, target_of(c), credential_of(c), status_of(c)] for c in connections],
    )
    return 0


def _find(changes: Changeset, name: str) -> Connection:
    try:
        return changes.get(name)
    except NotFoundError as error:
        fail(str(error))


def run_show(args: argparse.Namespace) -> int:
    try:
        connection = open_home().store.snapshot().connection(args.name)
    except NotFoundError as error:
        fail(str(error))
    if args.json:
        print_json(public_document(connection))
    else:
        width = max(len(label) for label, _ in _details(connection))
        for label, value in _details(connection):
            print(f"{label:<{width}}  {visible(value)}")
    return 0


def _commit_new(changes: Changeset, connection: Connection) -> int:
    try:
        changes.add(connection)
    except NameTakenError as error:
        fail(f"{error}; choose another with --name")
    changes.commit()
    print(f"Added '{connection.name}' ({connection.id})")
    return 0


def _invalid(error: DraftInvalid) -> None:
    fail("\n  ".join(["invalid input:", *(e.message for e in error.errors)]))


def _add_automatic(args: argparse.Namespace) -> int:
    from workbench.model import CustomEndpoints
    from workbench.registration import RegistrationRequest, public_client_id

    from .registration import add_automatic

    if args.client_id or args.client_secret_stdin or args.certificate_thumbprint:
        fail("--automatic registers the app itself: drop --client-id, --client-secret-stdin, --certificate-thumbprint")
    # The same form as a manual connection, with stand-ins for what registration provides.
    probe = M365Draft(
        tenant_id=args.tenant_id or "00000000-0000-0000-0000-000000000000",
        client_id="00000000-0000-0000-0000-000000000000",
        app_account=args.app_account,
        name=args.name,
        cloud=args.cloud,
        authority_host=args.authority_host,
        graph_url=args.graph_url,
        ews_url=args.ews_url,
        ca_bundle=args.ca_bundle,
    )
    try:
        built = probe.build(CertificateCredential(thumbprint="0" * 40), new_stamp())
        client = public_client_id(args.public_client_id or None)
    except DraftInvalid as error:
        _invalid(error)
    except FieldError as error:
        fail(error.message)
    s = built.settings
    assert isinstance(s, M365Settings)
    request = RegistrationRequest(
        app_account=s.app_account,
        name=built.name if args.name else "",
        cloud=s.cloud,
        custom_endpoints=CustomEndpoints(
            authority_host=s.custom_endpoints.authority_host,
            graph_url=s.custom_endpoints.graph_url,
            ews_url=s.custom_endpoints.ews_url,
        )
        if s.custom_endpoints
        else None,
        ca_bundle=s.ca_bundle,
        tenant_id=s.tenant_id if args.tenant_id else None,
        public_client_id=client if args.public_client_id.strip() else None,  # kept with the connection if given
    )
    return add_automatic(args, request)


def run_add_m365(args: argparse.Namespace) -> int:
    if args.automatic:
        return _add_automatic(args)
    missing = [flag for flag, given in (("--tenant-id", args.tenant_id), ("--client-id", args.client_id)) if not given]
    if not (args.client_secret_stdin or args.certificate_thumbprint):
        missing.append("--client-secret-stdin or --certificate-thumbprint")
    if missing:
        fail(f"a manually registered app needs {', '.join(missing)} (or use --automatic)")
    draft = M365Draft(
        tenant_id=args.tenant_id,
        client_id=args.client_id,
        app_account=args.app_account,
        name=args.name,
        cloud=args.cloud,
        authority_host=args.authority_host,
        graph_url=args.graph_url,
        ews_url=args.ews_url,
        ca_bundle=args.ca_bundle,
    )
    try:  # check the form before reading the secret, so every mistake is reported at once
        draft.build(ClientSecretCredential(secret_ref=None), new_stamp())
    except DraftInvalid as error:
        _invalid(error)
    home = open_home()
    changes = home.changeset()
    credential: Credential
    if args.certificate_thumbprint is not None:
        try:
            thumbprint = validate.thumbprint(args.certificate_thumbprint)
        except FieldError as error:
            fail(error.message)
        cert = next((c for c in home.store.snapshot().certificates if c.thumbprint == thumbprint), None)
        problem = usable_for_connection(thumbprint, cert, now())
        if problem is not None or cert is None:
            fail(f"{problem} (workbench certs import FILE.pfx --password-stdin)")
        credential = CertificateCredential(thumbprint=cert.thumbprint, sha256=cert.sha256)
    else:
        secret = read_secret("client secret", True, validate.client_secret)
        credential = ClientSecretCredential(secret_ref=changes.stage_secret(secret))
    return _commit_new(changes, draft.build(credential, new_stamp()))


def run_add_onprem(args: argparse.Namespace) -> int:
    draft = OnPremDraft(
        admin_upn=args.admin_upn,
        name=args.name,
        discovery="autodiscover" if args.autodiscover else "manual",
        server=args.server or "",
        ews_url=args.ews_url,
        powershell_auth=args.powershell_auth,
        kerberos_realm=args.realm,
        kerberos_kdc=args.kdc,
        ca_bundle=args.ca_bundle,
        pin_sha256=args.pin_sha256,
        dns_servers=args.dns_server,
    )
    try:  # check the form before asking for the password, so a typo does not cost a retype
        draft.build(None, new_stamp())
    except DraftInvalid as error:
        _invalid(error)
    changes = open_home().changeset()
    secret = read_secret("admin password", args.password_stdin, validate.password)
    connection = draft.build(changes.stage_secret(secret), new_stamp())
    for message in draft.warnings():
        warn(message)
    return _commit_new(changes, connection)


def run_remove(args: argparse.Namespace) -> int:
    from .certs import report_left
    from .registration import remove_with_app

    home = open_home()
    changes = home.changeset()
    connection = _find(changes, args.name)
    if args.delete_app:
        return remove_with_app(args, connection, changes)
    changes.delete(connection.id)
    result = changes.commit()
    print(f"Removed '{connection.name}'")
    report_left(home, result, args.delete_certificate)
    s = connection.settings
    if isinstance(s, M365Settings) and s.app_registration is not None:
        from workbench.clouds import endpoints_for
        from workbench.registration import removal_instructions

        info("Its Entra app stays in the tenant. To delete it (when no other connection uses it):")
        for line in removal_instructions(endpoints_for(s).graph_url, s.app_registration, s.cloud):
            info(f"  {line}")
    return 0


def run_register(args: argparse.Namespace) -> int:
    from .registration import run_register as register_again

    return register_again(args, _find(open_home().changeset(), args.name))


def run_set_secret(args: argparse.Namespace) -> int:
    from dataclasses import replace

    changes = open_home().changeset()
    connection = _find(changes, args.name)
    s = connection.settings
    if isinstance(s, M365Settings):
        if isinstance(s.credential, CertificateCredential):
            fail(f"'{connection.name}' authenticates with a certificate; it has no client secret")
        secret = read_secret("client secret", args.stdin, validate.client_secret)
        settings: M365Settings | OnPremSettings = replace(
            s, credential=ClientSecretCredential(secret_ref=changes.stage_secret(secret))
        )
    else:
        secret = read_secret("admin password", args.stdin, validate.password)
        settings = replace(s, password_ref=changes.stage_secret(secret))
    changes.edit(replace(connection, settings=settings, updated=now()))
    changes.commit()
    print(f"Updated the secret of '{connection.name}'")
    return 0


def run_trust(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from workbench.model import TlsTrust, TrustMode

    changes = open_home().changeset()
    connection = _find(changes, args.name)
    s = connection.settings
    if not isinstance(s, OnPremSettings):
        fail(f"'{connection.name}' is a Microsoft 365 connection; its trust is the cloud's (or its --ca-bundle)")
    try:
        if args.pin_sha256 is not None:  # an empty value is a mistake to report, not a request for the system
            tls = TlsTrust(mode=TrustMode.PINNED, pin_sha256=validate.sha256_fingerprint(args.pin_sha256))
        elif args.ca_bundle is not None:
            tls = TlsTrust(mode=TrustMode.CA_BUNDLE, ca_bundle=validate.ca_bundle(args.ca_bundle))
        else:
            tls = TlsTrust()
    except FieldError as error:
        fail(error.message)
    changes.edit(replace(connection, settings=replace(s, tls=tls), updated=now()))
    changes.commit()
    print(f"'{connection.name}' now trusts {tls.pin_sha256 or tls.ca_bundle or 'the system store'}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    import json

    connections = open_home().store.snapshot().connections
    from workbench.text import json_safe

    text = json_safe(json.dumps(export_document(connections, now()), indent=2, ensure_ascii=False)) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as error:
            fail(f"Cannot write {args.output}: {error.strerror or error}", FAILURE)
        info(f"Exported {len(connections)} connection(s) to {args.output} (no secrets)")
    return 0


IMPORT_LIMIT = 100_000_000


def run_import(args: argparse.Namespace) -> int:
    try:
        if not args.file.is_file():
            fail(f"Cannot read {args.file}: not a regular file")
        with args.file.open("rb") as handle:
            raw = handle.read(IMPORT_LIMIT + 1)
        if len(raw) > IMPORT_LIMIT:
            fail(f"{args.file} is larger than {IMPORT_LIMIT // 1_000_000} MB; an export of 10,000 connections is 5 MB")
        text = raw.decode("utf-8-sig")  # an export saved by Notepad starts with a BOM
    except (OSError, UnicodeDecodeError) as error:
        fail(f"Cannot read {args.file}: {getattr(error, 'strerror', None) or error}")
    try:
        connections = parse_export(text, str(args.file), new_stamp)
    except ImportProblem as error:
        fail(str(error))
    home = open_home()
    changes = home.changeset()
    known_certs = {c.thumbprint for c in home.store.snapshot().certificates}
    for connection in connections:
        try:
            changes.add(connection)
        except NameTakenError as error:
            fail(f"{error}; nothing was imported")
    changes.commit()
    for connection in connections:
        print(f"Imported '{connection.name}'")
        s = connection.settings
        if isinstance(s, M365Settings) and isinstance(s.credential, CertificateCredential):
            if s.credential.thumbprint not in known_certs:
                warn(f"'{connection.name}' needs certificate {s.credential.thumbprint}: workbench certs import FILE")
        elif connection.secret_refs == ():
            command = f"workbench connections set-secret -- {shlex.quote(connection.name)}"
            warn(f"'{connection.name}' has no secret yet: {command}")
    return 0
