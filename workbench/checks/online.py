"""The Exchange Online plan (manual registration): credential, tenant discovery, tokens for Graph and EWS,
permissions in those tokens, tenant name, the dedicated application account and its mailbox, EWS with
impersonation, and the certificate's expiry.

    m365.credential -> m365.discovery -> m365.token.graph -> m365.tenant
                                                          -> m365.account -> m365.mailbox
                                      -> m365.token.ews   -> m365.ews
                                      (both tokens)       -> m365.permissions
    m365.credential -> m365.expiry (certificates)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from workbench import validate
from workbench.clouds import CloudEndpoints, endpoints_for
from workbench.model import CertificateCredential, M365Settings, Secret
from workbench.net import identity
from workbench.net.graph import Graph, GraphError
from workbench.net.routes import Route, set_route
from workbench.redaction import redact

from . import problems
from .common import network_failure, plural
from .engine import Check, Context, Plan
from .events import CheckFailed, Outcome
from .target import SecretUnavailable, Target

GRAPH_REQUIRED = ("User.Read.All", "Mail.ReadWrite")
GRAPH_OPTIONAL = (("Organization.Read.All", "Directory.Read.All"),)  # any one of each group
EXCHANGE_REQUIRED = ("full_access_as_app",)
EWS_END = "Exchange Online retires EWS on 1 April 2027"
EXPIRY_WARNING_DAYS = 30


def _target(ctx: Context) -> tuple[Target, M365Settings, CloudEndpoints]:
    target: Target = ctx.resources["target"]
    # After automatic registration in the same run, the app it registered (client id, certificate) is checked.
    settings = ctx.get("registered_settings") or target.connection.settings
    assert isinstance(settings, M365Settings)
    return target, settings, endpoints_for(settings)


def _values(target: Target, settings: M365Settings, **more: Any) -> dict[str, Any]:
    return {
        "name": target.name,
        "app_id": settings.client_id,
        "tenant_id": settings.tenant_id,
        "account": settings.app_account,
        **more,
    }


# ---------------------------------------------------------------- checks


async def credential(ctx: Context) -> Outcome:
    target, settings, _ = _target(ctx)
    values = _values(target, settings)
    if settings.ca_bundle:
        try:
            validate.ca_bundle(settings.ca_bundle)
        except validate.FieldError as error:
            return Outcome.failed(error.message, problems.CA_BUNDLE_UNUSABLE.fill(path=settings.ca_bundle, **values))
    cred = settings.credential
    if isinstance(cred, CertificateCredential):
        try:
            found = await ctx.blocking(target.certificate, cred.thumbprint)
        except SecretUnavailable as error:
            return Outcome.failed(str(error), problems.VAULT_UNAVAILABLE.fill(**values))
        if found is None:
            return Outcome.failed(
                f"certificate {cred.thumbprint} is not in the personal store",
                problems.CERT_NOT_IN_STORE.fill(thumbprint=cred.thumbprint, **values),
            )
        info, key = found
        return Outcome.passed(
            f"certificate {info.subject}, SHA-1 {info.thumbprint}, RSA {info.key_size}",
            private={"credential": identity.CertificateCredential(key, info.cert_pem)},
            certificate=info,
        )
    try:
        secret = await ctx.blocking(target.secret, cred.secret_ref) if cred.secret_ref else None
    except SecretUnavailable as error:
        return Outcome.failed(str(error), problems.VAULT_UNAVAILABLE.fill(**values))
    if secret is None or not secret:
        return Outcome.failed("no client secret is stored", problems.SECRET_MISSING.fill(**values))
    return Outcome.passed(f"client secret ({len(secret)} characters) from the vault", private={"credential": secret})


def token_problem(error: identity.TokenError, target: Target, settings: M365Settings) -> Outcome:
    code = error.aadsts or 0
    known = {
        7000215: problems.AADSTS7000215,
        7000222: problems.AADSTS7000222,
        700016: problems.AADSTS700016,
        700027: problems.AADSTS700027,
        53003: problems.AADSTS53003,
        500011: problems.AADSTS500011,
        90002: problems.AADSTS90002,
    }
    problem = known.get(code) or problems.replace_code(problems.AADSTS_OTHER, f"AADSTS{code}" if code else error.error)
    thumbprint = settings.credential.thumbprint if isinstance(settings.credential, CertificateCredential) else ""
    detail = error.first_line.split(": ", 1)[-1] if ":" in error.first_line else error.first_line
    return Outcome.failed(
        f"AADSTS{code}: {detail}" if code else detail,
        problem.fill(thumbprint=thumbprint, **_values(target, settings)),
        redact(error.description),
    )


async def discovery(ctx: Context) -> Outcome:
    target, settings, endpoints = _target(ctx)
    cred: Secret | identity.CertificateCredential = ctx.fact("credential")

    def build() -> Any:
        return identity.confidential_client(
            authority_host=endpoints.authority_host,
            tenant_id=settings.tenant_id,
            client_id=settings.client_id,
            credential=cred,
            ca_bundle=settings.ca_bundle,
            timeout=target.timeout,
        )

    try:
        app = await ctx.blocking(build)
    except ValueError as error:
        if "authority configuration" not in str(error):
            raise
        return Outcome.failed(
            f"tenant {settings.tenant_id} was not found at {endpoints.authority_host}",
            problems.AADSTS90002.fill(**_values(target, settings)),
            redact(str(error)),
        )
    except Exception as error:
        host = endpoints.authority_host.split("://", 1)[-1]
        mapped = network_failure(error, target, host.split(":")[0], int(host.split(":")[1]) if ":" in host else 443)
        if mapped is None:
            raise
        return mapped
    return Outcome.passed(
        f"tenant {settings.tenant_id} found at {endpoints.authority_host}",
        private={"msal_app": ctx.own(app, app.http_client.close)},
    )


def _token_check(kind: str) -> Any:
    async def run(ctx: Context) -> Outcome:
        target, settings, endpoints = _target(ctx)
        scope = endpoints.graph_scope if kind == "graph" else endpoints.ews_scope
        app = ctx.fact("msal_app")
        try:
            token = await ctx.blocking(identity.app_token, app, scope)
        except identity.TokenError as error:
            return token_problem(error, target, settings)
        roles = tuple(sorted(token.claims().get("roles", [])))
        detail = f"token for {scope.removesuffix('/.default')}, valid {token.expires_in // 60} min"
        private: dict[str, Any] = {f"{kind}_token": token}
        if kind == "graph":
            graph = Graph(endpoints.graph_url, token.value, ca_bundle=settings.ca_bundle, timeout=target.timeout)
            private["graph"] = ctx.own(graph, graph.close)
        return Outcome.passed(detail, private=private, **{f"{kind}_roles": roles})

    return run


async def permissions(ctx: Context) -> Outcome:
    target, settings, _ = _target(ctx)
    graph: tuple[str, ...] = ctx.fact("graph_roles")
    exchange: tuple[str, ...] = ctx.fact("ews_roles")
    values = _values(target, settings)
    if not graph and not exchange:
        return Outcome.failed("the tokens carry no application permissions", problems.NO_ADMIN_CONSENT.fill(**values))
    missing = [f"Graph {r}" for r in GRAPH_REQUIRED if r not in graph]
    missing += [f"Exchange {r}" for r in EXCHANGE_REQUIRED if r not in exchange]
    granted = f"Graph: {', '.join(graph) or 'none'}; Exchange: {', '.join(exchange) or 'none'}"
    if missing:
        text = ", ".join(missing)
        return Outcome.failed(
            f"missing {text} ({granted})", problems.MISSING_APP_PERMISSIONS.fill(missing=text, **values)
        )
    optional = [" or ".join(group) for group in GRAPH_OPTIONAL if not set(group) & set(graph)]
    if optional:
        text = ", ".join(optional)
        return Outcome.warning(
            f"{granted}; without {text} the tenant's name cannot be read",
            problems.OPTIONAL_PERMISSIONS.fill(missing=text, **values),
        )
    return Outcome.passed(granted)


def _graph(ctx: Context) -> tuple[Graph, list[float]]:
    """The run's Graph client (one connection pool for all Graph checks) and this check's throttling waits."""
    waits: list[float] = []
    report = ctx.thread_progress()

    def throttled(seconds: float) -> None:
        waits.append(seconds)
        report(f"throttled by Graph, retrying in {seconds:g} s", None, None)

    graph: Graph = ctx.fact("graph")
    return graph.throttled(throttled), waits


def _graph_failure(error: Exception, ctx: Context, **fill: Any) -> Outcome:
    target, settings, endpoints = _target(ctx)
    values = _values(target, settings, **fill)
    if isinstance(error, GraphError):
        catalogue = {
            "Authorization_RequestDenied": problems.Authorization_RequestDenied,
            "ErrorAccessDenied": problems.ErrorAccessDenied,
            "Request_ResourceNotFound": problems.Request_ResourceNotFound,
            "ErrorInvalidUser": problems.Request_ResourceNotFound,
            "MailboxNotEnabledForRESTAPI": problems.MailboxNotEnabledForRESTAPI,
            "TooManyRequests": problems.TooManyRequests,
            "InvalidAuthenticationToken": problems.InvalidAuthenticationToken,
        }
        problem = catalogue.get(error.code) or problems.replace_code(problems.AADSTS_OTHER, error.code)
        if error.retry_after is not None:
            values["retry_after"] = f"{error.retry_after:g}"
        return Outcome.failed(
            f"Graph answered {error.status} {error.code}: {error.message}", problem.fill(**values), redact(str(error))
        )
    host = endpoints.graph_url.split("://", 1)[-1]
    mapped = network_failure(error, target, host.split(":")[0], int(host.split(":")[1]) if ":" in host else 443)
    if mapped is None:
        raise error
    return mapped


def _throttle_note(outcome: Outcome, waits: list[float], ctx: Context) -> Outcome:
    if not waits or not outcome.status.ok:
        return outcome
    target, settings, _ = _target(ctx)
    return Outcome.warning(
        f"{outcome.detail} (after Graph throttled {plural(len(waits), 'request')}, {sum(waits):g} s waited)",
        problems.TooManyRequests.fill(**_values(target, settings)),
        **outcome.facts,
    )


async def tenant(ctx: Context) -> Outcome:
    graph, waits = _graph(ctx)
    try:
        body = await ctx.blocking(lambda: graph.get("/organization", **{"$select": "id,displayName,verifiedDomains"}))
    except GraphError as error:
        if error.code == "Authorization_RequestDenied":
            target, settings, _ = _target(ctx)
            return Outcome.warning(
                "the tenant's name cannot be read (no Organization.Read.All)",
                problems.OPTIONAL_PERMISSIONS.fill(missing="Organization.Read.All", **_values(target, settings)),
            )
        return _graph_failure(error, ctx)
    except Exception as error:  # noqa: BLE001
        return _graph_failure(error, ctx)
    org = (body.get("value") or [{}])[0]
    domains = org.get("verifiedDomains") or []
    default = next((d["name"] for d in domains if d.get("isDefault")), None)
    initial = next((d["name"] for d in domains if d.get("isInitial")), None)
    outcome = Outcome.passed(
        f"{org.get('displayName')}: default domain {default}, initial {initial}",
        tenant_name=org.get("displayName"),
        tenant_domain=default,
    )
    return _throttle_note(outcome, waits, ctx)


async def account(ctx: Context) -> Outcome:
    _, settings, _ = _target(ctx)
    graph, waits = _graph(ctx)
    path = f"/users/{settings.app_account}"
    try:
        user = await ctx.blocking(lambda: graph.get(path, **{"$select": "id,displayName,userPrincipalName,mail"}))
    except Exception as error:  # noqa: BLE001
        return _graph_failure(error, ctx)
    outcome = Outcome.passed(f"{user.get('displayName')} ({user.get('userPrincipalName')})", account_id=user.get("id"))
    return _throttle_note(outcome, waits, ctx)


async def mailbox(ctx: Context) -> Outcome:
    _, settings, _ = _target(ctx)
    graph, waits = _graph(ctx)
    try:
        body = await ctx.blocking(lambda: graph.get(f"/users/{settings.app_account}/mailFolders", **{"$top": "1"}))
    except Exception as error:  # noqa: BLE001
        return _graph_failure(error, ctx)
    folder = (body.get("value") or [{}])[0].get("displayName", "?")
    return _throttle_note(Outcome.passed(f"mail folders readable through Graph (first: {folder})"), waits, ctx)


async def ews(ctx: Context) -> Outcome:
    target, settings, endpoints = _target(ctx)
    from workbench.net import ews as ews_client

    token = ctx.fact("ews_token")
    app = ctx.fact("msal_app")
    if settings.ca_bundle:
        parts = urlsplit(endpoints.ews_url)
        set_route(parts.hostname or "", parts.port or 443, Route(ca_bundle=settings.ca_bundle))

    def reach() -> Any:
        account = ews_client.online_account(
            endpoints.ews_url,
            token,
            lambda: identity.app_token(app, endpoints.ews_scope),
            settings.app_account,
            target.timeout,
        )
        try:
            root = account.root
            return root.name, account.version
        finally:
            ews_client.release(account)  # nothing later uses it; a re-run makes its own

    values = _values(target, settings)
    try:
        name, version = await ctx.blocking(reach)
    except Exception as error:  # noqa: BLE001
        return _ews_failure(error, ctx, values)
    build = getattr(version, "build", None)
    return Outcome.passed(
        f"GetFolder '{name}' in {settings.app_account} through impersonation (build {build}); {EWS_END}",
        ews_build=str(build),
    )


def _ews_failure(error: Exception, ctx: Context, values: dict[str, Any]) -> Outcome:
    from exchangelib import errors

    target, _, endpoints = _target(ctx)
    text = redact(str(error))
    if isinstance(error, errors.MalformedResponseError) and "Code: 403" in str(error):
        graph_ok = ctx.facts.get("account_id") is not None
        detail = "EWS answered 403 while Graph works" if graph_ok else "EWS answered 403"
        return Outcome.failed(
            f"{detail}: EWS is disabled by tenant policy; {EWS_END}", problems.EWS_DISABLED.fill(**values), text
        )
    if isinstance(error, errors.UnauthorizedError):
        return Outcome.failed(
            "EWS answered 401: the token carries no EWS permission", problems.EWS_NO_PERMISSION.fill(**values), text
        )
    mapping = {
        errors.ErrorNonExistentMailbox: problems.ErrorNonExistentMailbox,
        errors.ErrorAccessDenied: problems.ErrorAccessDenied,
        errors.ErrorImpersonateUserDenied: problems.ErrorImpersonateUserDenied,
    }
    for kind, problem in mapping.items():
        if isinstance(error, kind):
            return Outcome.failed(f"EWS: {error}", problem.fill(**values), text)
    host = endpoints.ews_url.split("://", 1)[-1].split("/", 1)[0]
    mapped = network_failure(error, target, host.split(":")[0], int(host.split(":")[1]) if ":" in host else 443)
    if mapped is not None:
        return mapped
    if isinstance(error, errors.EWSError):
        return Outcome.failed(
            f"EWS: {type(error).__name__}: {error}",
            problems.replace_code(problems.AADSTS_OTHER, type(error).__name__).fill(**values),
            text,
        )
    raise CheckFailed(Outcome.failed(f"EWS: {type(error).__name__}", problems.INTERNAL, text))


async def expiry(ctx: Context) -> Outcome:
    target, settings, _ = _target(ctx)
    info = ctx.fact("certificate")
    days = info.days_left(target.now())
    values = _values(target, settings, not_after=f"{info.not_after:%Y-%m-%d}", days=days)
    if days < 0:
        return Outcome.failed(f"expired on {info.not_after:%Y-%m-%d}", problems.CERT_EXPIRED.fill(**values))
    if days < EXPIRY_WARNING_DAYS:
        return Outcome.warning(
            f"expires in {plural(days, 'day')} ({info.not_after:%Y-%m-%d})", problems.CERT_EXPIRING.fill(**values)
        )
    return Outcome.passed(f"valid until {info.not_after:%Y-%m-%d} ({plural(days, 'day')})")


def plan(settings: M365Settings) -> Plan:
    checks = [
        Check("m365.credential", "Credential available", credential, timeout=10),
        Check("m365.discovery", "Tenant discovery", discovery, ("m365.credential",)),
        Check("m365.token.graph", "Token for Microsoft Graph", _token_check("graph"), ("m365.discovery",)),
        Check("m365.token.ews", "Token for Exchange Online", _token_check("ews"), ("m365.discovery",)),
        Check("m365.permissions", "Application permissions", permissions, ("m365.token.graph", "m365.token.ews"), 5),
        Check("m365.tenant", "Tenant name and domains", tenant, ("m365.token.graph",)),
        Check("m365.account", "Dedicated application account", account, ("m365.token.graph",)),
        Check("m365.mailbox", "Mailbox access through Graph", mailbox, ("m365.account",)),
        Check("m365.ews", "EWS access with impersonation", ews, ("m365.token.ews",), 60),
    ]
    if isinstance(settings.credential, CertificateCredential):
        checks.append(Check("m365.expiry", "Certificate expiry", expiry, ("m365.credential",), 5))
    return Plan(tuple(checks))
