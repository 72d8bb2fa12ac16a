"""Automatic registration from the command line: `connections add m365 --automatic`, `connections register NAME`
and `connections remove NAME --delete-app`.

The code and URL go to stderr (an admin may pipe stdout); the plan and every check stream to stdout. Nothing is
written to the tenant before the plan was accepted (`--yes`, or `y` at the prompt). The connection is saved as
soon as its app exists, even when a later check fails or the run is interrupted, so that `connections register
NAME` can finish it and `connections remove NAME --delete-app` can undo it. Exit codes: 0 verified, 1 a step or
check failed (or the sign-in did not give an admin), 2 bad input (then nothing was written anywhere).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace

from storage import Changeset, Home, NameTakenError, NotFoundError
from workbench.drafts import default_m365_name
from workbench.model import CertificateCredential, CertificateInfo, Connection, M365Settings, Registration, name_key
from workbench.registration import Registrar, RegistrationRequest, SignInError, removal_instructions
from workbench.registration.apply import RegistrationRun
from workbench.registration.flow import uses_app
from workbench.text import visible
from workbench.validate import FieldError

from .context import new_stamp, open_home
from .io import FAILURE, fail, info, warn


def _registrar(
    request: RegistrationRequest, home: Home, changes: Changeset, timeout: float, current: CertificateInfo | None
) -> Registrar:
    def certificate(thumbprint: str) -> CertificateInfo | None:
        try:
            return home.certificates.get(thumbprint)
        except NotFoundError:
            return None

    registered = request.registered
    installation = home.installation_id() if registered is None else _installation_or_blank(home)
    return Registrar(
        request,
        installation_id=installation,
        connections=tuple(changes.connections()),
        certificate=certificate,
        current=current,
        timeout=timeout,
    )


def _installation_or_blank(home: Home) -> str:
    """The installation id, or "" when its file is damaged (a known app can still be deleted)."""
    from storage import StorageError

    try:
        return home.installation_id()
    except StorageError as error:
        info(f"warning: {error}")
        return ""


def _sign_in(registrar: Registrar, interrupted: str) -> None:
    try:
        code = registrar.start_sign_in()
    except FieldError as error:
        fail(error.message)
    minutes = max(1, code.seconds_left() // 60)
    given = f" (from {code.authority_host})" if code.authority_host else ""
    info(f"To sign in, open {code.verification_uri}{given} in any browser and enter the code {code.user_code}")
    if code.doubt:
        warn(code.doubt)
    info(f"(the code expires in {minutes} min; Ctrl+C cancels)")
    try:
        admin = registrar.wait_for_admin()
    except KeyboardInterrupt:
        fail(f"Cancelled: {interrupted}", code=FAILURE)
    info(f"Signed in as {admin.upn} ({', '.join(admin.roles)}), tenant {admin.tenant_id}")


def _need_an_answer(yes: bool) -> None:
    """Before the sign-in: without --yes the plan is confirmed on a terminal, so one must be there."""
    if not yes and not sys.stdin.isatty():
        fail("Accept the plan with --yes (there is no terminal to ask on); nothing was done")


def _confirm(yes: bool) -> None:
    if yes:
        return
    try:
        answer = input("Apply this plan? [y/N] ").strip().lower()
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer not in {"y", "yes"}:
        fail("Not applied: nothing was created", code=FAILURE)


def _stream(registrar: Registrar, run: RegistrationRun, home: Home, changes: Changeset) -> bool:
    """Apply the plan and verify the app, printing each check; True when nothing failed. Ctrl+C stops it (what
    was created by then is reported and kept)."""
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
    except KeyboardInterrupt:
        run.stop.set()
        info("Interrupted.")
        return False
    finally:
        verification.close()


def register_and_save(registrar: Registrar, home: Home, changes: Changeset, yes: bool) -> int:
    try:
        _sign_in(registrar, "nothing was created")
        plan = registrar.prepare()
    except SignInError as error:
        fail(error.message, code=2 if error.kind == "foreign" else FAILURE)
    width = max(len(label) for label, _ in plan.lines())
    print("Plan (nothing has been written yet):")
    for label, value in plan.lines():
        print(f"  {label:<{width}}  {visible(value)}")
    _confirm(yes)
    run = registrar.run(lambda loaded: changes.stage_certificate(loaded.info, loaded.key_pem), retire_old=True)
    ok = _stream(registrar, run, home, changes)
    if run.registered_settings() is None:
        print("\n".join(run.report()), file=sys.stderr)
        return FAILURE
    connection = registrar.connection(run, new_stamp())
    if run.summary is not None:
        connection = replace(connection, last_verification=run.summary)
    existing = registrar.request.existing
    keep = changes.edit if existing is not None else changes.add
    try:
        keep(connection)
    except NameTakenError as error:  # another session took the name meanwhile: the app must not be orphaned
        connection = replace(connection, name=f"{connection.name} ({connection.id[:8]})")
        info(f"warning: {error}; saved as '{connection.name}'")
        keep(connection)
    changes.commit()
    verb = "Updated" if existing is not None else "Added"
    settings = connection.settings
    assert isinstance(settings, M365Settings)
    print(f"{verb} '{connection.name}' ({connection.id}), registered as app {settings.client_id}")
    if not ok:
        print("\n".join(run.report()), file=sys.stderr)
        info(f"Finish with: workbench connections register -- {connection.name}")
    return 0 if ok else FAILURE


def add_automatic(args: argparse.Namespace, request: RegistrationRequest) -> int:
    _need_an_answer(args.yes)
    home = open_home()
    changes = home.changeset()
    name = request.name or default_m365_name(request.app_account)
    if any(name_key(c.name) == name_key(name) for c in changes.connections()):
        fail(f"A connection named '{visible(name)}' exists already; choose another with --name (nothing was created)")
    registrar = _registrar(request, home, changes, args.timeout, None)
    try:
        return register_and_save(registrar, home, changes, args.yes)
    finally:
        registrar.close()


def _automatic(connection: Connection) -> M365Settings:
    s = connection.settings
    if not isinstance(s, M365Settings) or s.registration is not Registration.AUTOMATIC or not s.app_registration:
        fail(f"'{connection.name}' was not registered automatically; its app is managed in Entra ID by hand")
    return s


def _request(connection: Connection, s: M365Settings, public_client_id: str, **more: object) -> RegistrationRequest:
    return RegistrationRequest(
        app_account=s.app_account,
        name=connection.name,
        cloud=s.cloud,
        custom_endpoints=s.custom_endpoints,
        ca_bundle=s.ca_bundle,
        tenant_id=s.tenant_id,
        public_client_id=public_client_id or None,
        existing=connection,
        **more,  # type: ignore[arg-type]
    )


def run_register(args: argparse.Namespace, connection: Connection) -> int:
    s = _automatic(connection)
    _need_an_answer(args.yes)
    home = open_home()
    changes = home.changeset()
    current = None
    if isinstance(s.credential, CertificateCredential):
        try:
            current = home.certificates.get(s.credential.thumbprint)
        except NotFoundError:  # lost: registration makes a new one
            current = None
    request = _request(connection, s, args.public_client_id, rotate_certificate=args.rotate_certificate)
    registrar = _registrar(request, home, changes, args.timeout, current)
    if registrar.foreign:
        try:
            registrar.refuse_foreign()
        except SignInError as error:
            fail(error.message)
    try:
        return register_and_save(registrar, home, changes, args.yes)
    finally:
        registrar.close()


def remove_with_app(args: argparse.Namespace, connection: Connection, changes: Changeset) -> int:
    s = _automatic(connection)
    registration = s.app_registration
    assert registration is not None
    others = [
        c.name
        for c in changes.connections()
        if c.id != connection.id and uses_app(c, registration.unique_name, s.tenant_id)
    ]
    if others:
        fail(
            f"The app of '{connection.name}' is also used by {', '.join(repr(n) for n in others)}: nothing was "
            "removed. Remove those first, or remove this connection without --delete-app"
        )
    home = open_home()
    registrar = _registrar(_request(connection, s, args.public_client_id), home, changes, args.timeout, None)
    if registrar.installation_id and registrar.foreign:
        fail(
            f"The app of '{connection.name}' ({registration.unique_name}) was registered by another workbench "
            "installation, which may still use it: nothing was removed. Delete it from there, or remove this "
            "connection without --delete-app"
        )
    from workbench.registration import delete_application

    try:
        _sign_in(registrar, "nothing was removed")
        deleted = delete_application(registrar.session, registration.unique_name)
    except FieldError as error:
        fail(error.message)
    except Exception as error:  # noqa: BLE001  (a refused sign-in, Graph, the network: said, nothing removed)
        message = error.message if isinstance(error, SignInError) else f"The app was not deleted: {error}"
        instructions = removal_instructions(registrar.graph_url, registration, registrar.request.cloud)
        print("\n".join(instructions), file=sys.stderr)
        fail(f"{visible(message)}. Nothing was removed; to delete the app later, see above", code=FAILURE)
    finally:
        registrar.close()
    changes.delete(connection.id)
    result = changes.commit()
    what = f"and its app {deleted.app_id}" if deleted else "(its app was already gone from the tenant)"
    print(f"Removed '{connection.name}' {what}")
    from .certs import report_left

    report_left(home, result, args.delete_certificate)
    return 0
