"""Deterministic scenes for the console's snapshots: a data directory at a fixed path with fixed connections,
results and certificates, and scripted verifications (events with fixed durations, a run that stops mid-stream)
so that every screenshot is the same on every machine. Behaviour is tested against the lab elsewhere."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from screens import WorkbenchApp
from storage import Home
from tests.conftest import FROZEN_NOW
from tests.ui.conftest import wizard_watched
from workbench.checks import problems
from workbench.checks.engine import Confirm
from workbench.checks.events import (
    Event,
    Finished,
    Outcome,
    Planned,
    Progress,
    Started,
    Status,
    Step,
    StepStatus,
    Summary,
)
from workbench.checks.onprem import redirect_reasons
from workbench.drafts import M365Draft, OnPremDraft, Stamp
from workbench.model import (
    CertificateCredential,
    CertificateInfo,
    ClientSecretCredential,
    Connection,
    Secret,
    VerificationStatus,
    VerificationSummary,
)
from workbench.model.certificate import CertificateSource
from workbench.net.autodiscover import Redirect
from workbench.registration import (
    Admin,
    AdminSession,
    DeviceCode,
    Registrar,
    RegistrationPlan,
    RegistrationRequest,
    SignInError,
    build_plan,
    registration_checks,
)
from workbench.verification import plan_for

SNAPSHOT_FILES = Path(tempfile.gettempdir()) / "workbench-snapshots"  # fixed paths that show in a picture
HOME_LABEL = str(SNAPSHOT_FILES / "home")  # what the masthead calls every scene's data directory
TENANT = "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
CLIENT = "bbaeee30-b1a1-4853-a341-9f08833c6cb7"


def fresh_home() -> Home:
    """An empty data directory of the scene's own (the masthead shows `HOME_LABEL` instead of its path), so that
    scenes run side by side on several workers: in the test's temporary folder (`WORKBENCH_HOME`'s parent, set
    for every test), else in the system's."""
    test_home = os.environ.get("WORKBENCH_HOME")
    parent = Path(test_home).parent if test_home else None
    return Home(Path(tempfile.mkdtemp(prefix="scene-home-", dir=parent)))


def fixed_copy(source: Path, where: str) -> Path:
    """`source` at a fixed path, `SNAPSHOT_FILES / where` (a picture shows the path), written whole by whichever
    worker comes first: a worker never sees another's half-written copy."""
    target = SNAPSHOT_FILES / where
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != source.read_bytes():
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(source.read_bytes())
        os.replace(temporary, target)
    return target


async def settle(pilot: Pilot[Any], timeout: float = 10.0) -> None:
    """Let the console come to rest before a picture: its messages handled and its threads idle (what
    `pilot.pause()` waits for), every verification table showing all that its scripted run played (a table takes
    the run's changes at its own pace), and the screen drawn the same on two looks in a row."""
    from screens.widgets.verification import VerificationView

    def shown() -> bool:
        for view in pilot.app.screen.query(VerificationView):
            source = view.live.source
            if isinstance(source, ScriptedSource) and (not source.played or view.live.board._dirty):
                return False
        return True

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: list[list[Any]] | None = None
    while True:
        await pilot.pause()
        picture = [list(strip) for strip in pilot.app.screen._compositor.render_strips()]
        if picture == last and shown():
            return
        if loop.time() > deadline:
            raise AssertionError("the console never came to rest")
        last = picture


def wizard_run_shown(screen: Any) -> bool:
    """The wizard's scripted run has played every event (and ended, unless the scene holds it), and the
    Configuration step has looked at it since."""
    live = screen._live
    if live is None or not isinstance(live.source, ScriptedSource) or not live.source.played:
        return False
    return (live.source.holding or not live.running) and wizard_watched(screen)


def summary(
    status: VerificationStatus, minutes_ago: int, passed: int, failed: int = 0, skipped: int = 0
) -> VerificationSummary:
    return VerificationSummary(
        at=FROZEN_NOW - timedelta(minutes=minutes_ago),
        status=status,
        passed=passed,
        warnings=0,
        failed=failed,
        skipped=skipped,
        duration_ms=1200,
    )


def m365(name: str, *, certificate: str | None = None) -> Connection:
    credential: Any = (
        CertificateCredential(thumbprint=certificate) if certificate else ClientSecretCredential(secret_ref=None)
    )
    return M365Draft(tenant_id=TENANT, client_id=CLIENT, app_account="backup@contoso.com", name=name).build(
        credential, Stamp(f"id-{name}", FROZEN_NOW)
    )


def onprem(name: str, server: str | None = None) -> Connection:
    fields: dict[str, Any] = {"admin_upn": "administrator@fabrikam.com", "name": name}
    if server:
        fields |= {"discovery": "manual", "server": server}
    return OnPremDraft(**fields).build(None, Stamp(f"id-{name}", FROZEN_NOW))


def certificate(subject: str, thumbprint: str, days_left: int) -> CertificateInfo:
    return CertificateInfo(
        thumbprint=thumbprint,
        sha256="AB" * 32,
        subject=subject,
        issuer=subject,
        serial="01",
        not_before=FROZEN_NOW - timedelta(days=300),
        not_after=FROZEN_NOW + timedelta(days=days_left, hours=1),
        key_size=2048,
        source=CertificateSource.PFX,
        added=FROZEN_NOW - timedelta(days=300),
        cert_pem="-----BEGIN CERTIFICATE-----\nMIIB (display only)\n-----END CERTIFICATE-----\n",
    )


def mixed_home() -> Home:
    """Five connections with every kind of last result, two certificates close to expiry."""
    import dataclasses

    home = fresh_home()
    cert_a, cert_b = "7CCC" + "1" * 36, "9D0E" + "2" * 36
    connections = [
        dataclasses.replace(
            m365("Contoso (certificate)", certificate=cert_a),
            last_verification=summary(VerificationStatus.PASSED, 2, 10),
        ),
        dataclasses.replace(
            m365("Contoso (mistyped secret)"), last_verification=summary(VerificationStatus.FAILED, 2, 2, 2, 5)
        ),
        dataclasses.replace(
            onprem("Fabrikam (autodiscover)"), last_verification=summary(VerificationStatus.PASSED, 65, 11)
        ),
        dataclasses.replace(
            m365("Northwind archive", certificate=cert_b),
            last_verification=summary(VerificationStatus.WARNING, 60 * 26, 9),
        ),
        onprem("Lab on-prem by IP", "127.0.0.1"),
    ]
    with home.store.transaction() as txn:
        txn.put_connections(connections)
        txn.put_certificate(certificate("CN=Contoso backup", cert_a, 12))
        txn.put_certificate(certificate("CN=Northwind archive", cert_b, 40))
    return home


class ScriptedSource:
    """A verification that plays fixed events; with `hold`, it then stays running (a mid-stream picture)."""

    def __init__(self, connection: Connection, script: Iterable[Event], *, hold: bool = False) -> None:
        self.connection = connection
        self.script = list(script)
        self.hold = hold
        self.holding = hold and not any(isinstance(e, Summary) for e in self.script)  # stays running at the end
        self.played = False  # every event of the latest run (a re-run plays the script again) was handed over
        self._stop = asyncio.Event()

    async def _play(self, script: list[Event]) -> AsyncIterator[Event]:
        for event in script:
            await asyncio.sleep(0)
            yield event
        self.played = True
        if self.holding:
            await self._stop.wait()

    def _run(self) -> AsyncIterator[Event]:
        self.played = False
        return self._play(self.script)

    def events(self) -> AsyncIterator[Event]:
        return self._run()

    def rerun(self, check_id: str, confirm: Confirm | None = None) -> AsyncIterator[Event]:
        return self._run()

    def rerun_all(self, confirm: Confirm | None = None) -> AsyncIterator[Event]:
        return self._run()

    def cancel(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()


def done(check: str, title: str, outcome: Outcome, ms: int) -> list[Event]:
    return [Started(check=check, title=title), Finished(check=check, title=title, outcome=outcome, duration_ms=ms)]


def mistyped_secret_script(connection: Connection) -> list[Event]:
    """The Microsoft 365 plan with a mistyped secret: two tokens refused, what needs them skipped."""
    plan = plan_for(connection)
    problem = problems.AADSTS7000215.fill(app_id=CLIENT, client_id=CLIENT, tenant_id=TENANT)
    refused = (
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client "
        "secret value, not the client secret ID"
    )
    events: list[Event] = [Planned(checks=plan.info())]
    events += done(
        "m365.credential", "Credential available", Outcome.passed("client secret (40 characters) from the vault"), 1
    )
    events += done(
        "m365.discovery", "Tenant discovery", Outcome.passed(f"tenant {TENANT} found in the global cloud"), 212
    )
    for check, title, ms in (
        ("m365.token.graph", "Token for Microsoft Graph", 164),
        ("m365.token.ews", "Token for Exchange Online", 171),
    ):
        events += done(
            check, title, Outcome.failed(refused, problem, "invalid_client: AADSTS7000215 (trace id redacted)"), ms
        )
    titles = {info.id: info.title for info in plan.info()}
    for info in plan.info()[4:]:
        names = ", ".join(f"{titles[n]} (failed)" for n in info.needs)
        events.append(
            Finished(
                check=info.id, title=info.title, outcome=Outcome(Status.SKIPPED, f"waits on {names}"), duration_ms=0
            )
        )
    events.append(
        Summary(
            status=Status.FAILED,
            counts={
                Status.PASSED: 2,
                Status.WARNING: 0,
                Status.FAILED: 2,
                Status.SKIPPED: len(plan.info()) - 4,
                Status.CANCELLED: 0,
            },
            duration_ms=390,
        )
    )
    return events


def enumerating_script(connection: Connection) -> list[Event]:
    """The on-premises plan half-way: autodiscover attempts as sub-steps, the enumeration counting."""
    plan = plan_for(connection)
    events: list[Event] = [Planned(checks=plan.info())]
    events += done(
        "onprem.credential",
        "Administrator's password",
        Outcome.passed("password for administrator@fabrikam.com from the vault"),
        1,
    )
    events.append(Started(check="onprem.locate", title="Locate the server"))
    steps = [
        Step(1, "POST https://fabrikam.com/autodiscover/autodiscover.svc", StepStatus.FAILED, "connection refused"),
        Step(
            2,
            "POST https://autodiscover.fabrikam.com/autodiscover/autodiscover.svc",
            StepStatus.OK,
            "ExternalEwsUrl https://mail.fabrikam.com/EWS/Exchange.asmx",
        ),
    ]
    events += [Progress(check="onprem.locate", title="Locate the server", message=s.label, step=s) for s in steps]
    events.append(
        Finished(
            check="onprem.locate",
            title="Locate the server",
            outcome=Outcome.passed("EWS at https://mail.fabrikam.com/EWS/Exchange.asmx"),
            duration_ms=48,
        )
    )
    events += done(
        "onprem.tls", "TLS and certificate", Outcome.passed("trusted through the system's trust store; TLSv1.3"), 35
    )
    events += done("onprem.auth", "Authentication methods", Outcome.passed("EWS offers NTLM, Negotiate"), 12)
    events += done(
        "onprem.ews", "EWS as the administrator", Outcome.passed("GetFolder Inbox as administrator@fabrikam.com"), 140
    )
    events += done(
        "onprem.powershell",
        "Remote PowerShell",
        Outcome.passed("Microsoft.Exchange at https://mail.fabrikam.com/PowerShell"),
        610,
    )
    events.append(Started(check="onprem.mailboxes", title="Mailbox enumeration"))
    events.append(
        Progress(
            check="onprem.mailboxes", title="Mailbox enumeration", message="12,400 mailboxes", done=12400, total=20000
        )
    )
    events.append(Started(check="onprem.impersonation", title="ApplicationImpersonation"))
    return events


def redirect_refused_script(connection: Connection) -> list[Event]:
    """The on-premises plan stopped at autodiscover: the HTTP redirect points to a hosting provider's host, outside
    the admin's domain, and the run did not follow it."""
    plan = plan_for(connection)
    host = "mail.fabrikam-hosting.com"
    location = f"https://{host}/autodiscover/autodiscover.xml"
    probe = "http://autodiscover.fabrikam.com/autodiscover/autodiscover.xml"
    redirect = Redirect(host, location, f"https://{host}/autodiscover/autodiscover.svc")
    how, risk = redirect_reasons("fabrikam.com", redirect)
    problem = problems.AUTODISCOVER_REDIRECT_NOT_ALLOWED.fill(
        domain="fabrikam.com",
        account="administrator@fabrikam.com",
        target_host=host,
        location=location,
        soap_url=redirect.url,
        how=how,
        risk=risk,
    )
    events: list[Event] = [Planned(checks=plan.info())]
    events += done(
        "onprem.credential",
        "Administrator's password",
        Outcome.passed("password for administrator@fabrikam.com from the vault"),
        1,
    )
    events.append(Started(check="onprem.locate", title="Locate the server"))
    steps = [
        Step(1, "DNS A fabrikam.com: no such name (NXDOMAIN)", StepStatus.FAILED),
        Step(2, "DNS A autodiscover.fabrikam.com -> 203.0.113.80", StepStatus.OK),
        Step(
            3,
            "POST https://autodiscover.fabrikam.com/autodiscover/autodiscover.svc: connection refused",
            StepStatus.FAILED,
        ),
        Step(4, f"GET {probe}: 302 to {location}", StepStatus.OK),
        Step(5, f"redirect to {host}: {host} is outside fabrikam.com; followed only if you allow it", StepStatus.INFO),
        Step(6, f"redirect to {host} not followed: not allowed for this verification", StepStatus.FAILED),
        Step(7, "DNS SRV _autodiscover._tcp.fabrikam.com: no record", StepStatus.FAILED),
    ]
    events += [Progress(check="onprem.locate", title="Locate the server", message=s.label, step=s) for s in steps]
    events.append(
        Finished(
            check="onprem.locate",
            title="Locate the server",
            outcome=Outcome.failed(
                f"autodiscover led to {host}, outside fabrikam.com, and nothing else found the server (7 steps)",
                problem,
            ),
            duration_ms=96,
        )
    )
    for info in plan.info()[2:]:
        events.append(
            Finished(
                check=info.id,
                title=info.title,
                outcome=Outcome(Status.SKIPPED, "waits on Locate the server (failed)"),
                duration_ms=0,
            )
        )
    counts = {Status.PASSED: 1, Status.WARNING: 0, Status.FAILED: 1, Status.SKIPPED: len(plan.info()) - 2}
    events.append(Summary(status=Status.FAILED, counts={**counts, Status.CANCELLED: 0}, duration_ms=98))
    return events


def hostile_certificate_script(connection: Connection) -> list[Event]:
    """The on-premises plan stopped at TLS: a self-signed certificate whose common name tries to print lines of
    its own in the trust dialog (a fake issuer, a fake "Self-signed: no") and to push the real ones out of view."""
    from workbench.net.tls import CertificateReport

    plan = plan_for(connection)
    fingerprint = "3F9A" + "C0DE" * 15
    forged = "exch01.fabrikam.com\nIssuer: CN=DigiCert Global Root G2\nSelf-signed: no\n\n\n\n\n\n\n\n\n\x1b[2J"
    report = CertificateReport(
        sha256=fingerprint,
        subject=f"CN={forged}",
        issuer=f"CN={forged}",
        # An ordinary Exchange certificate names a dozen hosts: the dialog must still show its buttons at 80x24.
        names=("exch01.fabrikam.com\tmail.contoso.com", *(f"mail{n}.fabrikam.com" for n in range(12)), "127.0.0.1"),
        not_before=FROZEN_NOW - timedelta(days=30),
        not_after=FROZEN_NOW + timedelta(days=335),
        self_signed=True,
    )
    problem = problems.TLS_UNTRUSTED.fill(fingerprint=fingerprint, host="127.0.0.1", names="", not_after="")
    events: list[Event] = [Planned(checks=plan.info())]
    events += done("onprem.credential", "Administrator's password", Outcome.passed("password from the vault"), 1)
    events += done("onprem.locate", "Locate the server", Outcome.passed("127.0.0.1:443 (as entered)"), 2)
    detail = f"certificate verify failed: self-signed certificate; SHA-256 {fingerprint}"
    events += done("onprem.tls", "TLS certificate", Outcome.failed(detail, problem, detail, certificate=report), 14)
    for info in plan.info()[3:]:
        outcome = Outcome(Status.SKIPPED, "waits on TLS certificate")
        events.append(Finished(check=info.id, title=info.title, outcome=outcome, duration_ms=0))
    counts = {Status.PASSED: 2, Status.WARNING: 0, Status.FAILED: 1, Status.SKIPPED: len(plan.info()) - 3}
    events.append(Summary(status=Status.FAILED, counts={**counts, Status.CANCELLED: 0}, duration_ms=17))
    return events


def app(home: Home, *, scripts: dict[str, Any] | None = None, hold: bool = False, **kwargs: Any) -> WorkbenchApp:
    def source(connection: Connection, confirm: Confirm) -> ScriptedSource:
        default = enumerating_script if connection.kind.value == "onprem" else mistyped_secret_script
        script = (scripts or {}).get(connection.name, default)
        return ScriptedSource(connection, script(connection), hold=hold)

    made = WorkbenchApp(
        home,
        now=lambda: FROZEN_NOW,
        tz=UTC,
        clock=lambda: 1000.0,
        source_factory=source,
        local_user="admin",
        home_label=HOME_LABEL,
        **kwargs,
    )
    made.animation_level = "none"
    return made


# ---------------------------------------------------------------------- automatic registration, scripted

ADMIN = "admin@contoso.com"
USER_CODE = "F7KQ2M9XD"


class ScriptedRegistrar(Registrar):
    """The Sign in and Plan steps' pictures: a fixed code, admin and tenant (the real flow runs against the lab
    in test_wizard_registration). `outcome`: "hold" (the admin has not signed in yet), "admin", "not-admin"."""

    outcome = "admin"

    def start_sign_in(self) -> DeviceCode:
        return DeviceCode(
            user_code=USER_CODE,
            verification_uri="https://microsoft.com/devicelogin",
            expires_at=FROZEN_NOW + timedelta(minutes=15),
            message="",
            lifetime=900,
            authority_host="login.microsoftonline.com",  # the global cloud's authority, which gave the address
        )

    def wait_for_admin(self, cancelled: Callable[[], bool] = lambda: False) -> Admin:
        if self.outcome == "hold":
            for _ in range(600):  # at most a minute: a picture is taken long before
                if cancelled():
                    break
                time.sleep(0.1)
            raise SignInError("cancelled", "The sign-in was cancelled")
        if self.outcome == "not-admin":
            raise SignInError(
                "not-admin",
                f"{ADMIN} holds Exchange Administrator, User Administrator. Registering the app and granting its "
                "permissions needs Global Administrator or Privileged Role Administrator: sign in with such an "
                "account. Nothing was created",
            )
        admin = Admin(ADMIN, "Contoso Admin", TENANT, ("Global Administrator",))
        self._session = AdminSession(admin, Secret("scripted"), "https://graph.microsoft.com", None, 5.0)
        return admin

    def prepare(self) -> RegistrationPlan:
        self._plan = build_plan(
            existing=None,
            tenant_id=TENANT,
            admin_upn=ADMIN,
            unique_name=self.unique_name,
            keep_thumbprints=(),
            new_certificate=True,
        )
        return self._plan


def registrar(outcome: str) -> Callable[[RegistrationRequest, str], Registrar]:
    def make(request: RegistrationRequest, installation_id: str) -> Registrar:
        made = ScriptedRegistrar(request, installation_id="0f3b2c1d4e5a46b7889900aabbccddee")
        made.outcome = outcome
        return made

    return make


def applying_script(connection: Connection, *, finished: bool) -> list[Event]:
    """Registration applied step by step, then (when `finished`) the Exchange Online checks on the new app."""
    reg = ScriptedRegistrar(RegistrationRequest(app_account="backup@contoso.com"), installation_id="0" * 32)
    reg.wait_for_admin()
    reg.prepare()
    plan = registration_checks(reg.run(lambda loaded: None))
    events: list[Event] = [Planned(checks=plan.info())]
    events += done(
        "register.certificate",
        "New certificate for the app",
        Outcome.passed(
            "CN=Exchange Workbench, RSA 2048, SHA-1 3F2A9C41D7E08B5566A1C0FFEE12AB34CD56EF78, valid until 2027-11-27"
        ),
        96,
    )
    events += done(
        "register.application",
        "Application in Entra ID",
        Outcome.passed(f"created 'Exchange Workbench' (app ID {CLIENT}) with 1 key(s) and 4 permissions"),
        412,
    )
    events += done(
        "register.service_principal",
        "Service principal",
        Outcome.passed("created: 7d0c5e8a-2b1f-4c3d-9e8f-0a1b2c3d4e5f"),
        188,
    )
    events += done(
        "register.permissions",
        "Admin consent for the permissions",
        Outcome.passed(
            "granted Microsoft Graph User.Read.All, Microsoft Graph Organization.Read.All, Microsoft Graph "
            "Mail.ReadWrite, Office 365 Exchange Online full_access_as_app"
        ),
        530,
    )
    events.append(Started(check="register.propagation", title="New app signs in"))
    events.append(
        Progress(
            check="register.propagation",
            title="New app signs in",
            message="attempt 2: AADSTS700016: the app has not replicated yet; next in 2 s",
        )
    )
    if not finished:
        return events
    events.append(
        Finished(
            check="register.propagation",
            title="New app signs in",
            outcome=Outcome.passed("the app signs in with its certificate (attempt 3, 6.4 s)"),
            duration_ms=6400,
        )
    )
    details = {
        "m365.credential": (
            "certificate CN=Exchange Workbench, SHA-1 3F2A9C41D7E08B5566A1C0FFEE12AB34CD56EF78, RSA 2048"
        ),
        "m365.discovery": f"tenant {TENANT} found at https://login.microsoftonline.com",
        "m365.token.graph": "token for https://graph.microsoft.com, valid 59 min",
        "m365.token.ews": "token for https://outlook.office365.com, valid 59 min",
        "m365.permissions": "Graph: Mail.ReadWrite, Organization.Read.All, User.Read.All; Exchange: full_access_as_app",
        "m365.tenant": "Contoso: default domain contoso.com, initial contoso.onmicrosoft.com",
        "m365.account": "Backup Service (backup@contoso.com)",
        "m365.mailbox": "mail folders readable through Graph (first: Inbox)",
        "m365.ews": "GetFolder 'Root' in backup@contoso.com through impersonation (build 15.20.8769.21)",
        "m365.expiry": "valid until 2027-11-27 (365 days)",
    }
    for info in plan.info():
        if not info.id.startswith("register."):
            events += done(info.id, info.title, Outcome.passed(details[info.id]), 40)
    events.append(
        Summary(
            status=Status.PASSED,
            counts={
                Status.PASSED: len(plan.info()),
                Status.WARNING: 0,
                Status.FAILED: 0,
                Status.SKIPPED: 0,
                Status.CANCELLED: 0,
            },
            duration_ms=9120,
        )
    )
    return events
