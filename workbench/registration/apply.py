"""Applying a registration plan, as checks of the verification engine, so that each step streams like any check
and a failure has its own problem:

    register.certificate -> register.application -> register.service_principal -> register.permissions
        -> register.propagation -> (the Exchange Online plan, on the app just registered)
        -> register.retire (certificate rotation only: the old key goes once the new one verified)

Everything a registration holds (the admin's token, the plan, what exists so far) is in one `Registration`
object, a resource of its run: nothing is shared with another run. `Registration.ledger` always says what now
exists in the tenant, so a failure part-way can say exactly how to finish or remove it.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from workbench import certificates
from workbench.checks import online, problems
from workbench.checks.common import network_failure
from workbench.checks.engine import Check, Context, Plan
from workbench.checks.events import Outcome
from workbench.checks.target import Target
from workbench.clouds import GRAPH_APP_ID, GRAPH_POWERSHELL_ENVIRONMENTS, CloudEndpoints, endpoints_of
from workbench.model import (
    AppRegistration,
    CertificateCredential,
    CertificateInfo,
    Cloud,
    CustomEndpoints,
    M365Settings,
    Registration,
    VerificationSummary,
)
from workbench.net import identity
from workbench.net.graph import Graph, GraphError
from workbench.redaction import redact

from .cleanup import removal_command
from .plan import RegistrationPlan, resource_roles
from .signin import AdminSession

T = TypeVar("T")

PROPAGATION_WAIT = 180.0  # seconds: how long a new app may take to become usable before the check gives up
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)  # then 15 s between attempts


@dataclass
class Ledger:
    """What registration has made exist in the tenant so far (updated as each step succeeds)."""

    object_id: str | None = None
    app_id: str | None = None
    app_created: bool = False
    key_added: str | None = None
    service_principal_id: str | None = None
    service_principal_created: bool = False
    granted: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.object_id is None


@dataclass
class RegistrationRun:
    """One registration: the signed-in admin, the confirmed plan, and where the connection is going."""

    session: AdminSession
    plan: RegistrationPlan
    app_account: str
    cloud: Cloud = Cloud.GLOBAL
    custom_endpoints: CustomEndpoints | None = None
    ca_bundle: str | None = None
    keep: tuple[CertificateInfo, ...] = ()  # other connections' certificates that stay on the app
    current: CertificateInfo | None = None  # this connection's certificate (re-registration, rotation)
    stage_certificate: Callable[[certificates.LoadedCertificate], object] = lambda loaded: None
    propagation_wait: float = PROPAGATION_WAIT
    retire_old: bool = False  # rotation: remove the old certificate from the app once the new one verified
    sign_in_client_id: str | None = None  # kept with the connection, for the next sign-in
    stop: threading.Event = field(default_factory=threading.Event)  # set when the run is cancelled: waits end
    ledger: Ledger = field(default_factory=Ledger)
    certificate: CertificateInfo | None = None  # the certificate the connection uses after this run
    settings: M365Settings | None = None  # the connection's settings once the app is registered
    summary: VerificationSummary | None = None  # how the run ended, recorded on the connection

    def registered_settings(self) -> M365Settings | None:
        """The connection's settings as soon as the app exists with our certificate (even when a later step
        failed: saved, the connection lets a re-run finish the registration or a removal delete the app)."""
        if self.settings is not None:
            return self.settings
        if self.ledger.app_id and self.ledger.object_id and self.certificate is not None:
            return _settings(self)
        return None

    @property
    def endpoints(self) -> CloudEndpoints:
        return endpoints_of(self.cloud, self.custom_endpoints)

    @property
    def rotating(self) -> bool:
        return self.plan.new_certificate and self.current is not None

    def values(self) -> dict[str, Any]:
        """Placeholders for the problems' fixes."""
        return {
            "unique_name": self.plan.unique_name,
            "display_name": self.plan.display_name,
            "object_id": self.ledger.object_id,
            "app_id": self.ledger.app_id,
            "tenant_id": self.plan.tenant_id,
            "admin": self.session.admin.upn,
            "graph_url": self.endpoints.graph_url,
            "graph_environment": GRAPH_POWERSHELL_ENVIRONMENTS[self.cloud],
            "account": self.app_account,
        }

    def report(self) -> list[str]:
        """What exists in the tenant now, and how to finish or remove it (for a run that stopped part-way)."""
        ledger = self.ledger
        if ledger.object_id is None:
            return ["Nothing was created in the tenant."]
        lines = [
            f"Application '{self.plan.display_name}' ({self.plan.unique_name}): app ID {ledger.app_id}, "
            f"object ID {ledger.object_id} ({'created' if ledger.app_created else 'updated'} by this run)"
        ]
        if ledger.key_added:
            lines.append(f"Certificate {ledger.key_added} added to the app")
        if ledger.service_principal_id:
            made = "created" if ledger.service_principal_created else "already there"
            lines.append(f"Service principal {ledger.service_principal_id} ({made})")
        lines.append(f"Permissions granted: {', '.join(ledger.granted) if ledger.granted else 'none'}")
        lines.append("To finish: run the registration again; it updates this app and adds only what is missing.")
        command = removal_command(self.endpoints.graph_url, ledger.object_id, self.cloud)
        lines.append(
            f"To remove it, in PowerShell as an admin: {command} — or {problems.ENTRA} > App registrations > "
            f"{self.plan.display_name} > Delete."
        )
        return lines


async def _stoppable(ctx: Context, reg: RegistrationRun, call: Callable[[], T]) -> T:
    """`call` in the run's thread pool; when the run is cancelled, its waits end at once (a thread cannot be
    killed: its loop looks at `reg.stop` between attempts)."""
    try:
        return await ctx.blocking(call)
    except asyncio.CancelledError:
        reg.stop.set()
        raise


def _registration(ctx: Context) -> RegistrationRun:
    run: RegistrationRun = ctx.resources["registration"]
    return run


def _graph(ctx: Context) -> Graph:
    graph = _registration(ctx).session.graph()
    return ctx.own(graph, graph.close)


def _failure(error: Exception, ctx: Context, doing: str) -> Outcome:
    reg = _registration(ctx)
    values = reg.values()
    if isinstance(error, GraphError):
        problem = problems.REGISTRATION_DENIED if error.status == 403 else problems.REGISTRATION_FAILED
        if problem is problems.REGISTRATION_FAILED:
            problem = problems.replace_code(problem, error.code)
        return Outcome.failed(
            f"{doing}: Graph answered {error.status} {error.code}: {error.message}",
            problem.fill(**values),
            redact(str(error)),
        )
    target: Target = ctx.resources["target"]
    host = reg.endpoints.graph_url.split("://", 1)[-1]
    mapped = network_failure(error, target, host.split(":")[0], int(host.split(":")[1]) if ":" in host else 443)
    if mapped is None:
        raise error
    return mapped


# ---------------------------------------------------------------- checks


async def new_certificate(ctx: Context) -> Outcome:
    reg = _registration(ctx)
    target: Target = ctx.resources["target"]
    plan = reg.plan
    made = await ctx.blocking(certificates.generate, plan.certificate_subject, plan.certificate_days, target.now())
    # Marked as this app's own: it leaves the personal store with the last connection that uses it.
    loaded = replace(made, info=replace(made.info, made_for_app=plan.unique_name))
    reg.stage_certificate(loaded)
    reg.certificate = loaded.info
    info = loaded.info
    return Outcome.passed(
        f"{info.subject}, RSA {info.key_size}, SHA-1 {info.thumbprint}, valid until {info.not_after:%Y-%m-%d}",
        private={"new_certificate": loaded},
        thumbprint=info.thumbprint,
    )


def _key_credential(info: CertificateInfo) -> dict[str, Any]:
    cert = x509.load_pem_x509_certificate(info.cert_pem.encode("ascii"))
    return {
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii"),
        "displayName": info.subject,
        "startDateTime": info.not_before.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "endDateTime": info.not_after.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def _keys(reg: RegistrationRun, *, retire: bool = False) -> list[dict[str, Any]]:
    """The app's whole key collection (a PATCH replaces it): the other connections' certificates, this
    connection's current one (until a rotation retires it) and the new one."""
    wanted: dict[str, CertificateInfo] = {c.thumbprint: c for c in reg.keep}
    if reg.current is not None and not (retire and reg.rotating):
        wanted[reg.current.thumbprint] = reg.current
    if reg.certificate is not None:
        wanted[reg.certificate.thumbprint] = reg.certificate
    return [_key_credential(info) for info in wanted.values()]


async def application(ctx: Context) -> Outcome:
    reg = _registration(ctx)
    graph = _graph(ctx)
    plan = reg.plan
    if reg.certificate is None:
        reg.certificate = reg.current
    if reg.certificate is None:
        raise AssertionError("a registration without a new certificate keeps the connection's own")

    def upsert() -> tuple[int, dict[str, Any], dict[str, tuple[str, dict[str, str]]]]:
        resources: dict[str, tuple[str, dict[str, str]]] = {}
        for permission in plan.permissions:
            if permission.resource_app_id not in resources:
                resources[permission.resource_app_id] = resource_roles(graph, permission.resource_app_id)
        access: dict[str, list[dict[str, str]]] = {}
        for permission in plan.permissions:
            role_id = resources[permission.resource_app_id][1].get(permission.value)
            if role_id is None:
                raise LookupError(f"{permission.resource} publishes no application permission {permission.value}")
            access.setdefault(permission.resource_app_id, []).append({"id": role_id, "type": "Role"})
        body = {
            "displayName": plan.display_name,
            "signInAudience": "AzureADMyOrg",
            "requiredResourceAccess": [
                {"resourceAppId": app_id, "resourceAccess": roles} for app_id, roles in access.items()
            ],
            "keyCredentials": _keys(reg),
        }
        status, created = graph.send(
            "PATCH",
            f"/applications(uniqueName='{plan.unique_name}')",
            body=body,
            headers={"Prefer": "create-if-missing"},
        )
        if status != 201:  # 204: updated; read back its ids
            created = graph.get(f"/applications(uniqueName='{plan.unique_name}')", **{"$select": "id,appId"})
        return status, created, resources

    try:
        status, app, resources = await ctx.blocking(upsert)
    except LookupError as error:
        return Outcome.failed(str(error), problems.REGISTRATION_FAILED.fill(**reg.values()))
    except GraphError as error:
        if error.status == 403 and reg.plan.existing is None:
            # Creating an app: the tenant may let only some roles register apps (a PRA passes the role check).
            return Outcome.failed(
                f"creating the app: Graph answered 403 {error.code}: {error.message}. {' '.join(reg.report())}",
                problems.APP_CREATION_DENIED.fill(**reg.values()),
                redact(str(error)),
            )
        return _failure(error, ctx, "creating or updating the app")
    except Exception as error:  # noqa: BLE001
        return _failure(error, ctx, "creating or updating the app")
    ledger = reg.ledger
    ledger.object_id, ledger.app_id = str(app.get("id") or ""), str(app.get("appId") or "")
    ledger.app_created = ledger.app_created or status == 201
    if plan.new_certificate:
        ledger.key_added = reg.certificate.thumbprint
    verb = "created" if status == 201 else "updated"
    return Outcome.passed(
        f"{verb} '{plan.display_name}' (app ID {ledger.app_id}) with {len(_keys(reg))} key(s) and "
        f"{len(plan.permissions)} permissions",
        private={"resources": resources},
        app_id=ledger.app_id,
        object_id=ledger.object_id,
    )


async def service_principal(ctx: Context) -> Outcome:
    reg = _registration(ctx)
    graph = _graph(ctx)
    app_id = reg.ledger.app_id
    deadline = time.monotonic() + min(reg.propagation_wait, 60.0)

    def ensure() -> tuple[str, bool]:
        attempt = 0
        while True:
            try:
                sp = graph.get(f"/servicePrincipals(appId='{app_id}')", **{"$select": "id,appId"})
                return str(sp.get("id") or ""), False
            except GraphError as error:
                if error.status != 404:
                    raise
            try:
                _, sp = graph.send("POST", "/servicePrincipals", body={"appId": app_id})
                return str(sp.get("id") or ""), True
            except GraphError as error:
                # A brand-new app may not have replicated to where the service principal is made: wait and retry.
                if error.status not in (400, 404) or time.monotonic() >= deadline:
                    raise
            if reg.stop.wait(BACKOFF[min(attempt, len(BACKOFF) - 1)]):
                raise InterruptedError("the run was cancelled")
            attempt += 1

    try:
        sp_id, created = await _stoppable(ctx, reg, ensure)
    except Exception as error:  # noqa: BLE001
        return _failure(error, ctx, "creating the service principal")
    reg.ledger.service_principal_id = sp_id
    reg.ledger.service_principal_created = reg.ledger.service_principal_created or created
    return Outcome.passed(f"{'created' if created else 'already there'}: {sp_id}", service_principal_id=sp_id)


async def permissions(ctx: Context) -> Outcome:
    reg = _registration(ctx)
    graph = _graph(ctx)
    resources: dict[str, tuple[str, dict[str, str]]] = ctx.fact("resources")
    sp_id = reg.ledger.service_principal_id
    report = ctx.thread_progress()

    def grant() -> tuple[list[str], list[str]]:
        assigned = graph.get_all(f"/servicePrincipals/{sp_id}/appRoleAssignments")
        held = {(str(a.get("resourceId")), str(a.get("appRoleId"))) for a in assigned if isinstance(a, dict)}
        added: list[str] = []
        present: list[str] = []
        total = len(reg.plan.permissions)
        for done, permission in enumerate(reg.plan.permissions, 1):
            resource_sp, roles = resources[permission.resource_app_id]
            role_id = roles[permission.value]
            if (resource_sp, role_id) in held:
                present.append(permission.label)
            else:
                graph.send(
                    "POST",
                    f"/servicePrincipals/{resource_sp}/appRoleAssignedTo",
                    body={"principalId": sp_id, "resourceId": resource_sp, "appRoleId": role_id},
                )
                added.append(permission.label)
                reg.ledger.granted.append(permission.label)
            report(f"{permission.label}", done, total)
        return added, present

    try:
        added, present = await ctx.blocking(grant)
    except Exception as error:  # noqa: BLE001
        return _failure(error, ctx, "granting the permissions")
    parts = [f"granted {', '.join(added)}"] if added else []
    if present:
        parts.append(f"{len(present)} already granted")
    return Outcome.passed("; ".join(parts), granted=tuple(added))


def _settings(reg: RegistrationRun) -> M365Settings:
    assert reg.certificate is not None and reg.ledger.app_id and reg.ledger.object_id
    return M365Settings(
        tenant_id=reg.plan.tenant_id,
        client_id=reg.ledger.app_id,
        app_account=reg.app_account,
        credential=CertificateCredential(thumbprint=reg.certificate.thumbprint, sha256=reg.certificate.sha256),
        cloud=reg.cloud,
        custom_endpoints=reg.custom_endpoints,
        ca_bundle=reg.ca_bundle,
        registration=Registration.AUTOMATIC,
        app_registration=AppRegistration(
            app_object_id=reg.ledger.object_id,
            unique_name=reg.plan.unique_name,
            sign_in_client_id=reg.sign_in_client_id,
        ),
    )


async def propagation(ctx: Context) -> Outcome:
    """Sign in as the new app until Entra knows it and its token carries the granted permissions."""
    reg = _registration(ctx)
    target: Target = ctx.resources["target"]
    settings = _settings(reg)
    reg.settings = settings
    endpoints = reg.endpoints
    found = target.certificate(settings.credential.thumbprint)  # type: ignore[union-attr]
    if found is None:
        return Outcome.failed(
            "the app's certificate is not in the certificate store",
            problems.CERT_NOT_IN_STORE.fill(thumbprint=settings.credential.thumbprint, **reg.values()),  # type: ignore[union-attr]
        )
    info, key = found
    credential = identity.CertificateCredential(key, info.cert_pem)
    wanted = {p.value for p in reg.plan.permissions if p.resource_app_id == GRAPH_APP_ID}
    report = ctx.thread_progress()
    deadline = time.monotonic() + reg.propagation_wait

    def attempt() -> tuple[int, float]:
        tries = 0
        started = time.monotonic()
        while True:
            tries += 1
            # A fresh MSAL app each time: MSAL answers a repeated request that got HTTP 400 from its cache.
            app = identity.confidential_client(
                authority_host=endpoints.authority_host,
                tenant_id=settings.tenant_id,
                client_id=settings.client_id,
                credential=credential,
                ca_bundle=settings.ca_bundle,
                timeout=target.timeout,
            )
            try:
                token = identity.app_token(app, endpoints.graph_scope)
                roles = set(token.claims().get("roles", []))
                if wanted <= roles:
                    return tries, time.monotonic() - started
                reason = "the token does not carry the new permissions yet"
            except identity.TokenError as error:
                if error.aadsts not in (700016, 7000229, 7000215, 700027):
                    raise
                reason = f"AADSTS{error.aadsts}: the app has not replicated yet"
            finally:
                app.http_client.close()
            pause = BACKOFF[min(tries - 1, len(BACKOFF) - 1)]
            if time.monotonic() + pause > deadline:
                raise TimeoutError(f"after {tries} attempts in {time.monotonic() - started:.0f} s: {reason}")
            report(f"attempt {tries}: {reason}; next in {pause:g} s", None, None)
            if reg.stop.wait(pause):
                raise InterruptedError("the run was cancelled")

    try:
        tries, waited = await _stoppable(ctx, reg, attempt)
    except identity.TokenError as error:
        return online.token_problem(error, target, settings)
    except TimeoutError as error:
        return Outcome.failed(
            f"the app is not usable yet, {error}", problems.REGISTRATION_NOT_PROPAGATED.fill(**reg.values())
        )
    except Exception as error:  # noqa: BLE001
        return _failure(error, ctx, "signing in as the new app")
    return Outcome.passed(
        f"the app signs in with its certificate (attempt {tries}, {waited:.1f} s)",
        private={"registered_settings": settings},
    )


async def retire(ctx: Context) -> Outcome:
    """Certificate rotation, last step: the new certificate verified, so the old one leaves the app."""
    reg = _registration(ctx)
    graph = _graph(ctx)
    old = reg.current
    assert old is not None

    def patch() -> None:
        graph.send("PATCH", f"/applications/{reg.ledger.object_id}", body={"keyCredentials": _keys(reg, retire=True)})

    try:
        await ctx.blocking(patch)
    except Exception as error:  # noqa: BLE001
        return _failure(error, ctx, "removing the old certificate from the app")
    return Outcome.passed(f"old certificate {old.thumbprint} removed from the app", retired=old.thumbprint)


def plan(reg: RegistrationRun) -> Plan:
    """The registration steps, then the Exchange Online checks on the registered app."""
    register: list[Check] = []
    if reg.plan.new_certificate:
        register.append(Check("register.certificate", "New certificate for the app", new_certificate, timeout=30))
    first = register[-1].id if register else None
    register += [
        Check("register.application", "Application in Entra ID", application, (first,) if first else ()),
        Check("register.service_principal", "Service principal", service_principal, ("register.application",), 90),
        Check(
            "register.permissions", "Admin consent for the permissions", permissions, ("register.service_principal",)
        ),
        Check(
            "register.propagation",
            "New app signs in",
            propagation,
            ("register.permissions",),
            reg.propagation_wait + 30,
        ),
    ]
    settings = reg.settings or M365Settings(
        tenant_id=reg.plan.tenant_id,
        client_id="",
        app_account=reg.app_account,
        credential=CertificateCredential(thumbprint=""),
        registration=Registration.AUTOMATIC,
    )
    exchange = list(online.plan(settings).checks)
    exchange = [
        dataclasses.replace(c, needs=(*c.needs, "register.propagation")) if not c.needs else c for c in exchange
    ]
    checks = [*register, *exchange]
    if reg.rotating and reg.retire_old:
        checks.append(Check("register.retire", "Old certificate removed", retire, tuple(c.id for c in exchange), 30))
    return Plan(tuple(checks))
