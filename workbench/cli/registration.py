"""Automatic registration from the command line: `connections add m365 --automatic`, `connections register NAME`
and `connections remove NAME --delete-app`.

The code and URL go to stderr (an admin may pipe stdout); the plan and every check stream to stdout. Nothing is
written to the tenant before the plan was accepted (`--yes`, or `y` at the prompt). The connection is saved as
soon as its app exists, even when a later check fails, so that `connections register NAME` can finish it and
`connections remove NAME --delete-app` can undo it. Exit codes: 0 verified, 1 a step or check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from storage import Changeset, Home, NameTakenError, NotFoundError
from workbench.drafts import default_m365_name
from workbench.model import CertificateCredential, CertificateInfo, Connection, M365Settings, Registration, name_key
from workbench.net.graph import GraphError
from workbench.registration import Registrar, RegistrationRequest, SignInError, removal_instructions
from workbench.registration.apply import RegistrationRun
from workbench.registration.flow import certificates_on_app
from workbench.text import visible

from .context import new_stamp, open_home
from .io import FAILURE, fail, info


def installation_certificates(
    changes: Changeset, home: Home, unique_name: str, skip: str | None
) -> tuple[CertificateInfo, ...]:
    """The certificates of this installation's other connections on the same app (they stay on it)."""

    def certificate(thumbprint: str) -> CertificateInfo | None:
        try:
            return home.certificates.get(thumbprint)
        except NotFoundError:
            return None

    return certificates_on_app(changes.connections(), unique_name, certificate, skip)


def _sign_in(registrar: Registrar) -> None:
    code = registrar.start_sign_in()
    minutes = max(1, code.seconds_left() // 60)
    info(f"To sign in, open {code.verification_uri} in any browser and enter the code {code.user_code}")
    info(f"(the code expires in {minutes} min; Ctrl+C cancels)")
    try:
        admin = registrar.wait_for_admin()
    except KeyboardInterrupt:
        fail("Cancelled: nothing was created", code=FAILURE)
    info(f"Signed in as {admin.upn} ({', '.join(admin.roles)}), tenant {admin.tenant_id}")


def _confirm(yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        fail("Accept the plan with --yes (there is no terminal to ask on); nothing was created")
    answer = input("Apply this plan? [y/N] ").strip().lower()
    if answer not in {"y", "yes"}:
        fail("Not applied: nothing was created", code=FAILURE)


def _stream(registrar: Registrar, run: RegistrationRun, home: Home, changes: Changeset) -> bool:
    """Apply the plan and verify the app, printing each check; True when nothing failed."""
    from workbench.checks.events import Summary
    from workbench.verification import Verification, summary_record

    from .verify import _emit_human

    verification = Verification(registrar.target(home, changes), registration=run)
    name = registrar.request.name or registrar.request.app_account

    async def main() -> bool:
        explained: set[str] = set()
        failed = True
        async for event in verification.events():
            _emit_human(name, event, False, explained)
            if isinstance(event, Summary):
                failed = event.failed
                run.summary = summary_record(event)
        return not failed

    try:
        return asyncio.run(main())
    finally:
        verification.close()


def register_and_save(registrar: Registrar, home: Home, changes: Changeset, yes: bool) -> int:
    try:
        _sign_in(registrar)
        plan = registrar.prepare()
    except SignInError as error:
        fail(error.message, code=FAILURE)
    width = max(len(label) for label, _ in plan.lines())
    print("Plan (nothing has been written yet):")
    for label, value in plan.lines():
        print(f"  {label:<{width}}  {visible(value)}")
    _confirm(yes)
    run = registrar.run(lambda loaded: changes.stage_certificate(loaded.info, loaded.key_pem))
    ok = _stream(registrar, run, home, changes)
    if run.registered_settings() is None:
        print("\n".join(run.report()), file=sys.stderr)
        return FAILURE
    connection = registrar.connection(run, new_stamp())
    if run.summary is not None:
        from dataclasses import replace

        connection = replace(connection, last_verification=run.summary)
    existing = registrar.request.existing
    try:
        changes.edit(connection) if existing is not None else changes.add(connection)
    except NameTakenError as error:
        fail(f"{error}; choose another with --name (the app is registered; run the command again to reuse it)")
    changes.commit()
    verb = "Updated" if existing is not None else "Added"
    print(f"{verb} '{connection.name}' ({connection.id}), registered as app {connection.settings.client_id}")  # type: ignore[union-attr]
    if not ok:
        print("\n".join(run.report()), file=sys.stderr)
        info(f"Finish with: workbench connections register -- {connection.name}")
    return 0 if ok else FAILURE


def add_automatic(args: argparse.Namespace, request: RegistrationRequest) -> int:
    home = open_home()
    changes = home.changeset()
    name = request.name or default_m365_name(request.app_account)
    if any(name_key(c.name) == name_key(name) for c in changes.connections()):
        fail(f"A connection named '{visible(name)}' exists already; choose another with --name (nothing was created)")
    registrar = Registrar(request, installation_id=home.installation_id(), timeout=args.timeout)
    registrar.keep = installation_certificates(changes, home, registrar.unique_name, None)
    try:
        return register_and_save(registrar, home, changes, args.yes)
    finally:
        registrar.close()


def _automatic(connection: Connection) -> M365Settings:
    s = connection.settings
    if not isinstance(s, M365Settings) or s.registration is not Registration.AUTOMATIC or not s.app_registration:
        fail(f"'{connection.name}' was not registered automatically; its app is managed in Entra ID by hand")
    return s


def run_register(args: argparse.Namespace, connection: Connection) -> int:
    s = _automatic(connection)
    home = open_home()
    changes = home.changeset()
    current = None
    if isinstance(s.credential, CertificateCredential):
        try:
            current = home.certificates.get(s.credential.thumbprint)
        except NotFoundError:  # lost: registration makes a new one
            current = None
    request = RegistrationRequest(
        app_account=s.app_account,
        name=connection.name,
        cloud=s.cloud,
        custom_endpoints=s.custom_endpoints,
        ca_bundle=s.ca_bundle,
        tenant_id=s.tenant_id,
        existing=connection,
        rotate_certificate=args.rotate_certificate,
    )
    registrar = Registrar(request, installation_id=home.installation_id(), current=current, timeout=args.timeout)
    registrar.keep = installation_certificates(changes, home, registrar.unique_name, connection.id)
    try:
        return register_and_save(registrar, home, changes, args.yes)
    finally:
        registrar.close()


def remove_with_app(connection: Connection, changes: Changeset, timeout: float) -> int:
    s = _automatic(connection)
    assert s.app_registration is not None
    others = [
        c.name
        for c in changes.connections()
        if c.id != connection.id
        and isinstance(c.settings, M365Settings)
        and c.settings.app_registration is not None
        and c.settings.app_registration.unique_name == s.app_registration.unique_name
    ]
    if others:
        fail(
            f"The app of '{connection.name}' is also used by {', '.join(repr(n) for n in others)}: nothing was "
            "removed. Remove those first, or remove this connection without --delete-app"
        )
    home = open_home()
    request = RegistrationRequest(
        app_account=s.app_account,
        cloud=s.cloud,
        custom_endpoints=s.custom_endpoints,
        ca_bundle=s.ca_bundle,
        tenant_id=s.tenant_id,
        existing=connection,
    )
    registrar = Registrar(request, installation_id=home.installation_id(), timeout=timeout)
    try:
        _sign_in(registrar)
        from workbench.registration import delete_application

        deleted = delete_application(registrar.session, s.app_registration.unique_name)
    except (SignInError, GraphError) as error:
        message = error.message if isinstance(error, SignInError) else f"Graph refused the deletion: {error}"
        print("\n".join(removal_instructions(registrar.graph_url, s.app_registration)), file=sys.stderr)
        fail(f"{visible(message)}. Nothing was removed; to delete the app later, see above", code=FAILURE)
    finally:
        registrar.close()
    changes.delete(connection.id)
    changes.commit()
    what = f"and its app {deleted.app_id}" if deleted else "(its app was already gone from the tenant)"
    print(f"Removed '{connection.name}' {what}")
    return 0
