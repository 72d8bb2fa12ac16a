"""The on-premises plan: find the server (autodiscover trace, or DNS of the FQDN), TLS and its certificate, the
authentication the virtual directories offer, EWS as the admin, remote PowerShell, the admin's UPN suffix,
ApplicationImpersonation (granted after confirmation, never twice), EWS impersonation of another mailbox,
mailbox enumeration streamed with counts, and the Exchange version.

    credential -> locate -> tls -> auth -> ews ----------------------------.
                                             -> powershell -> upn                    |
                                                           -> impersonation -> ews.impersonation
                                                           -> mailboxes
                                                           -> version
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from workbench import quoting, validate
from workbench.model import Discovery, OnPremSettings, PowerShellAuth, Secret, TrustMode
from workbench.net import kerberos, resolve
from workbench.net import powershell as ps
from workbench.net import tls as tls_client
from workbench.net.kerberos import KerberosError, KerberosProblem
from workbench.net.routes import Route, session, set_route
from workbench.redaction import redact

from . import problems
from .common import network_failure, plural
from .engine import Check, Context, Plan
from .events import ConfirmationRequest, Outcome, Step, StepStatus
from .target import SecretUnavailable, Target

IMPERSONATION = "ApplicationImpersonation"
GRANT_NAME = "Exchange Workbench-Impersonation-{alias}"
CERT_WARNING_DAYS = 30
MAX_AUTODISCOVER_QUESTIONS = 8  # hosts outside the domain one trace may ask about (a redirect, then SRV records)


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    address: str | None  # where to connect, when resolved through the connection's DNS servers

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}" if self.port != 443 else self.host


def _target(ctx: Context) -> tuple[Target, OnPremSettings]:
    target: Target = ctx.resources["target"]
    settings = target.connection.settings
    assert isinstance(settings, OnPremSettings)
    return target, settings


def _values(ctx: Context, **more: Any) -> dict[str, Any]:
    target, settings = _target(ctx)
    alias = settings.admin_upn.split("@")[0]
    endpoint: Endpoint | None = ctx.facts.get("endpoint")
    return {
        "name": target.name,
        "account": settings.admin_upn,
        "alias": alias,
        "domain": settings.admin_upn.rpartition("@")[2],
        "host": endpoint.host if endpoint else settings.server,
        "port": endpoint.port if endpoint else "",
        "server": ctx.facts.get("server_name") or "<server>",
        "dns": settings.dns_servers[0].rsplit(":", 1)[0] if settings.dns_servers else "<dns server>",
        **more,
    }


def _trust(settings: OnPremSettings) -> tuple[str | None, str | None]:
    if settings.tls.mode is TrustMode.PINNED:
        return None, settings.tls.pin_sha256
    if settings.tls.mode is TrustMode.CA_BUNDLE:
        return settings.tls.ca_bundle, None
    return None, None


def _route(settings: OnPremSettings, endpoint: Endpoint) -> None:
    ca_bundle, pin = _trust(settings)
    if endpoint.address or ca_bundle or pin:
        set_route(endpoint.host, endpoint.port, Route(endpoint.address, ca_bundle, pin))


# ---------------------------------------------------------------- checks


async def credential(ctx: Context) -> Outcome:
    target, settings = _target(ctx)
    if settings.tls.ca_bundle:
        try:
            validate.ca_bundle(settings.tls.ca_bundle)
        except validate.FieldError as error:
            return Outcome.failed(
                error.message, problems.CA_BUNDLE_UNUSABLE.fill(path=settings.tls.ca_bundle, **_values(ctx))
            )
    try:
        secret = await ctx.blocking(target.secret, settings.password_ref) if settings.password_ref else None
    except SecretUnavailable as error:
        return Outcome.failed(str(error), problems.VAULT_UNAVAILABLE.fill(**_values(ctx)))
    if secret is None or not secret:
        return Outcome.failed(
            "no password is stored for the administrator", problems.SECRET_MISSING.fill(**_values(ctx))
        )
    return Outcome.passed(f"password for {settings.admin_upn} from the vault", private={"password": secret})


async def locate(ctx: Context) -> Outcome:
    target, settings = _target(ctx)
    if settings.discovery is Discovery.AUTODISCOVER:
        return await _autodiscover(ctx, target, settings)
    assert settings.server is not None
    try:
        address = validate.server_address(settings.server)
    except validate.FieldError as error:
        return Outcome.failed(
            f"the saved server is invalid: {error.message}", problems.CONNECTION_INVALID.fill(field="server")
        )
    port = address.port or 443
    ews_url = settings.ews_url or validate.ews_url_for(address)
    if address.is_ip:
        endpoint = Endpoint(address.host, port, None)
        _route(settings, endpoint)
        return Outcome.warning(
            f"{address.host} is an IP address: remote PowerShell needs Basic; EWS at {ews_url}",
            problems.IP_ADDRESS_SERVER.fill(**_values(ctx, host=address.host)),
            endpoint=endpoint,
            ews_url=ews_url,
        )
    try:
        resolved = await ctx.blocking(resolve.address_of, address.host, settings.dns_servers, target.timeout)
    except resolve.NotFound as error:
        return Outcome.failed(str(error), problems.DNS_NOT_FOUND.fill(**_values(ctx, host=address.host)))
    endpoint = Endpoint(address.host, port, resolved if settings.dns_servers else None)
    _route(settings, endpoint)
    return Outcome.passed(f"{address.host} -> {resolved}; EWS at {ews_url}", endpoint=endpoint, ews_url=ews_url)


def _redirect_request(settings: OnPremSettings, redirect: Any) -> ConfirmationRequest:
    domain = settings.admin_upn.rpartition("@")[2].lower()
    how, risk = redirect_reasons(domain, redirect)
    return ConfirmationRequest(
        action=problems.Action.ALLOW_AUTODISCOVER_REDIRECT,
        question=f"Follow autodiscover to {redirect.host}, with {settings.admin_upn}'s credentials?",
        command=f"POST {redirect.url} (GetUserSettings, signed in as {settings.admin_upn})",
        account=settings.admin_upn,
        server=redirect.host,
        details=(
            ("Why", how),
            ("Outside", f"{redirect.host} is not {domain} nor one of its subdomains"),
            ("Risk", risk),
        ),
    )


def redirect_reasons(domain: str, redirect: Any) -> tuple[str, str]:
    """How autodiscover came to the host, and why that proves nothing: the HTTP redirect, or the SRV record."""
    if redirect.via == "srv":
        return (
            f"DNS SRV _autodiscover._tcp.{domain} names {redirect.location}",
            "DNS answers are not authenticated: whoever answers this machine's DNS queries could have sent it",
        )
    return (
        f"http://autodiscover.{domain} redirected to {redirect.location}",
        "the redirect came over plain HTTP, unauthenticated: anyone on the path could have sent it",
    )


async def _autodiscover(ctx: Context, target: Target, settings: OnPremSettings) -> Outcome:
    from workbench.net.autodiscover import Autodiscoverer, AutodiscoverFailed, Found, RedirectNeedsPermission

    ca_bundle, pin = _trust(settings)
    report = ctx.thread_progress()

    def step(index: int, line: str, status: str) -> None:
        report(line, None, None, Step(index, line, StepStatus(status)))

    finder = Autodiscoverer(
        settings.admin_upn,
        ctx.fact("password"),
        dns_servers=settings.dns_servers,
        ca_bundle=ca_bundle,
        pin_sha256=pin,
        timeout=target.timeout,
        report=step,
    )
    try:
        step_on: Callable[[], Found] = finder.discover
        for _ in range(MAX_AUTODISCOVER_QUESTIONS):
            try:
                found = await ctx.blocking(step_on)
                break
            except RedirectNeedsPermission as needs:
                # Microsoft's protocol: warn the admin, follow only if they accept ([MS-OXDISCO] 3.1.5.4). The HTTP
                # redirect and then an SRV record may each lead outside the domain: each is asked about.
                answer = finder.follow if await ctx.confirm(_redirect_request(settings, needs.target)) else None
                step_on = partial(answer or finder.without_redirect, needs.target)
        else:
            raise AutodiscoverFailed(finder.steps, "too many hosts outside the domain to ask about")
    except AutodiscoverFailed as failure:
        if finder.credentials_rejected:  # the service was found; the password is what failed
            return Outcome.failed(
                f"autodiscover refused {settings.admin_upn}'s credentials ({plural(len(failure.steps), 'step')})",
                problems.AUTH_FAILED.fill(**_values(ctx)),
                "\n".join(failure.steps),
            )
        if finder.declined is not None:
            declined = finder.declined
            return Outcome.failed(
                f"autodiscover led to {declined.host}, outside "
                f"{settings.admin_upn.rpartition('@')[2]}, and nothing else found the server "
                f"({plural(len(failure.steps), 'step')})",
                _redirect_problem(ctx, declined),
                "\n".join(failure.steps),
            )
        return Outcome.failed(
            f"{failure.reason} ({plural(len(failure.steps), 'step')})",
            problems.AUTODISCOVER_FAILED.fill(**_values(ctx)),
            "\n".join(failure.steps),
        )
    from urllib.parse import urlsplit

    parts = urlsplit(found.ews_url)
    host, port = parts.hostname or "", parts.port or 443
    try:
        address = await ctx.blocking(resolve.address_of, host, settings.dns_servers, target.timeout)
    except resolve.NotFound as error:
        return Outcome.failed(str(error), problems.DNS_NOT_FOUND.fill(**_values(ctx, host=host)))
    endpoint = Endpoint(host, port, address if settings.dns_servers else None)
    _route(settings, endpoint)
    facts: dict[str, Any] = {"endpoint": endpoint, "ews_url": found.ews_url, "autodiscover_trace": tuple(finder.steps)}
    if finder.declined is not None:  # found another way; the redirect the admin did not allow is still worth a word
        return Outcome.warning(
            f"autodiscover found {found.ews_url}; {finder.declined.host}, outside the domain, was not followed",
            _redirect_problem(ctx, finder.declined),
            **facts,
        )
    if found.internal_only:
        return Outcome.warning(
            f"autodiscover found {found.ews_url} (internal URL only) after {plural(len(finder.steps), 'step')}",
            problems.AUTODISCOVER_INTERNAL_ONLY.fill(**_values(ctx, ews_url=found.ews_url, host=host)),
            **facts,
        )
    return Outcome.passed(f"autodiscover found {found.ews_url} after {plural(len(finder.steps), 'step')}", **facts)


def _redirect_problem(ctx: Context, redirect: Any) -> problems.Problem:
    _, settings = _target(ctx)
    how, risk = redirect_reasons(settings.admin_upn.rpartition("@")[2].lower(), redirect)
    return problems.AUTODISCOVER_REDIRECT_NOT_ALLOWED.fill(
        **_values(ctx, target_host=redirect.host, location=redirect.location, soap_url=redirect.url, how=how, risk=risk)
    )


async def tls(ctx: Context) -> Outcome:
    target, settings = _target(ctx)
    endpoint: Endpoint = ctx.fact("endpoint")
    ca_bundle, pin = _trust(settings)
    try:
        verdict = await ctx.blocking(
            lambda: tls_client.inspect(
                endpoint.host,
                endpoint.port,
                address=endpoint.address,
                ca_bundle=ca_bundle,
                pin_sha256=pin,
                timeout=target.timeout,
            )
        )
    except Exception as error:
        mapped = network_failure(error, target, endpoint.host, endpoint.port)
        if mapped is None:
            raise
        return mapped
    cert = verdict.certificate
    assert cert is not None
    summary = f"{verdict.version}; issued to {cert.subject} by {cert.issuer}; valid until {cert.not_after:%Y-%m-%d}"
    values = _values(
        ctx, fingerprint=cert.sha256, names=", ".join(cert.names) or "(none)", not_after=f"{cert.not_after:%Y-%m-%d}"
    )
    facts: dict[str, Any] = {"certificate": cert}
    if not verdict.trusted:
        problem = {
            "name-mismatch": problems.TLS_NAME_MISMATCH,
            "expired": problems.TLS_EXPIRED,
            "pin-mismatch": problems.TLS_PIN_MISMATCH,
        }.get(verdict.reason or "", problems.TLS_UNTRUSTED)
        why = verdict.detail
        if problem is problems.TLS_UNTRUSTED and ca_bundle:  # which file did not hold the issuer
            why = f"not trusted by the CA bundle {ca_bundle} ({verdict.detail})"
        return Outcome.failed(
            f"{why}: {summary}; SHA-256 {cert.sha256}", problem.fill(**values), verdict.detail, **facts
        )
    days = (cert.not_after - target.now()).days
    if days < CERT_WARNING_DAYS:
        return Outcome.warning(
            f"certificate expires in {plural(days, 'day')}: {summary}", problems.TLS_EXPIRED.fill(**values), **facts
        )
    trust = "pinned fingerprint" if pin else ("the connection's CA bundle" if ca_bundle else "the system's trust store")
    return Outcome.passed(f"trusted through {trust}; {summary}", **facts)


def _offered(url: str, timeout: float) -> tuple[int, list[str]]:
    """The HTTP status of an unauthenticated request, and the schemes a 401 offers."""
    answer = session().post(url, data=b"", timeout=timeout)
    schemes = [value.split()[0] for value in answer.raw.headers.getlist("WWW-Authenticate") if value.split()]
    return answer.status_code, schemes if answer.status_code == 401 else []


async def auth(ctx: Context) -> Outcome:
    target, settings = _target(ctx)
    endpoint: Endpoint = ctx.fact("endpoint")
    ews_url: str = ctx.fact("ews_url")
    ps_url = f"https://{endpoint.netloc}/PowerShell"
    try:
        ews_status, ews_schemes = await ctx.blocking(_offered, ews_url, target.timeout)
        ps_status, ps_schemes = await ctx.blocking(_offered, ps_url, target.timeout)
    except Exception as error:
        mapped = network_failure(error, target, endpoint.host, endpoint.port)
        if mapped is None:
            raise
        return mapped
    for what, url, status in (("EWS", ews_url, ews_status), ("/PowerShell", ps_url, ps_status)):
        if status != 401:  # a server error or a proxy's page is not "no usable authentication"
            return Outcome.failed(
                f"{what} answered HTTP {status} instead of asking for credentials",
                problems.HTTP_UNEXPECTED.fill(**_values(ctx, url=url, status=status)),
            )
    detail = f"EWS offers {', '.join(ews_schemes) or 'nothing'}; PowerShell offers {', '.join(ps_schemes) or 'nothing'}"
    lowered = {s.lower() for s in ews_schemes}
    ews_auth = "NTLM" if "ntlm" in lowered else ("basic" if "basic" in lowered else None)
    if ews_auth is None:
        return Outcome.failed(detail, problems.EWS_NEGOTIATE_ONLY.fill(**_values(ctx)))
    chosen = PowerShellAuth.BASIC if validate.is_ip_address(endpoint.host) else settings.powershell_auth
    wanted, problem = {
        PowerShellAuth.BASIC: ("Basic", problems.PS_BASIC_AUTH_DISABLED),
        PowerShellAuth.NTLM: ("NTLM", problems.PS_NTLM_REFUSED),
        PowerShellAuth.KERBEROS: ("Negotiate", problems.AUTH_FAILED),
    }[chosen]
    if wanted not in ps_schemes:
        return Outcome.failed(f"{detail}, not {wanted}", problem.fill(**_values(ctx)))
    return Outcome.passed(detail, ews_auth=ews_auth, ps_schemes=ps_schemes)


async def ews(ctx: Context) -> Outcome:
    from exchangelib import errors

    from workbench.net import ews as ews_client

    target, settings = _target(ctx)
    password: Secret = ctx.fact("password")
    ews_url: str = ctx.fact("ews_url")

    def reach() -> tuple[str, Any]:
        account = ews_client.onprem_account(ews_url, settings.admin_upn, password, ctx.fact("ews_auth"), target.timeout)
        try:
            root = account.root
            return root.name, account.version
        finally:
            ews_client.release(account)  # nothing later uses it; a re-run makes its own

    try:
        name, version = await ctx.blocking(reach)
    except errors.UnauthorizedError as error:
        return Outcome.failed(
            "EWS rejected the administrator's credentials",
            problems.AUTH_FAILED.fill(**_values(ctx)),
            redact(str(error), password.reveal()),
        )
    except errors.ErrorMissingEmailAddress as error:
        return Outcome.failed(
            "the administrator has no mailbox",
            problems.ErrorMissingEmailAddress.fill(**_values(ctx)),
            redact(str(error)),
        )
    except errors.ErrorNonExistentMailbox as error:
        return Outcome.failed(
            "the administrator has no mailbox",
            problems.ErrorMissingEmailAddress.fill(**_values(ctx)),
            redact(str(error)),
        )
    except Exception as error:
        endpoint: Endpoint = ctx.fact("endpoint")
        mapped = network_failure(error, target, endpoint.host, endpoint.port)
        if mapped is None:
            raise
        return mapped
    return Outcome.passed(
        f"GetFolder '{name}' in {settings.admin_upn} as the administrator; {version.fullname} ({version.build})",
        ews_version=str(version.build),
    )


_KERBEROS_PROBLEMS = {
    KerberosProblem.NOT_INSTALLED: problems.KERBEROS_NOT_INSTALLED,
    KerberosProblem.KDC_NOT_FOUND: problems.KERBEROS_KDC_NOT_FOUND,
    KerberosProblem.KDC_UNREACHABLE: problems.KERBEROS_KDC_UNREACHABLE,
    KerberosProblem.PREAUTH_FAILED: problems.KERBEROS_PREAUTH_FAILED,
    KerberosProblem.UNKNOWN_PRINCIPAL: problems.KERBEROS_UNKNOWN_PRINCIPAL,
    KerberosProblem.PASSWORD_EXPIRED: problems.KERBEROS_PASSWORD_EXPIRED,
    KerberosProblem.ACCOUNT_DISABLED: problems.KERBEROS_ACCOUNT_DISABLED,
    KerberosProblem.CLOCK_SKEW: problems.KERBEROS_CLOCK_SKEW,
    KerberosProblem.NO_SPN: problems.KERBEROS_NO_SPN,
    KerberosProblem.OTHER: problems.KERBEROS_FAILED,
}


def _kerberos_values(ctx: Context, realm: kerberos.Realm | None) -> dict[str, Any]:
    _, settings = _target(ctx)
    endpoint: Endpoint = ctx.fact("endpoint")
    try:
        name = realm.realm if realm else kerberos.realm_for(settings.admin_upn, settings.kerberos_realm)
    except validate.FieldError:
        name = settings.kerberos_realm or "<realm>"
    local = settings.admin_upn.rpartition("@")[0]
    kdc_host, kdc_port = realm.kdcs[0] if realm and realm.kdcs else (settings.kerberos_kdc or "<kdc>", 88)
    return _values(
        ctx,
        realm=name,
        realm_lower=name.lower(),
        principal=realm.principal if realm else f"{local}@{name}",
        spn=realm.spn if realm else f"HTTP/{endpoint.host}@{name}",
        spn_bare=f"HTTP/{endpoint.host}",
        kdc_host=kdc_host,
        kdc_port=kdc_port,
    )


async def _kerberos_ticket(ctx: Context, host: str) -> kerberos.Ticket | Outcome:
    """A service ticket for HTTP/<host> from the admin's password, or the failed outcome that says why not."""
    target, settings = _target(ctx)
    password: Secret = ctx.fact("password")
    realm: kerberos.Realm | None = None
    reason = kerberos.missing()
    if reason is not None:  # say so before anything is asked of DNS or a KDC
        problem = problems.KERBEROS_NOT_INSTALLED.fill(**_kerberos_values(ctx, None))
        return Outcome.failed(f"no Kerberos ticket: {reason}", problem)
    try:
        realm = await ctx.blocking(
            lambda: kerberos.locate(
                settings.admin_upn,
                host,
                realm=settings.kerberos_realm,
                kdc=settings.kerberos_kdc,
                dns_servers=settings.dns_servers,
                timeout=target.timeout,
            )
        )
        found = realm
        ticket = await ctx.blocking(lambda: kerberos.obtain(found, password, target.timeout))
    except (KerberosError, validate.FieldError) as error:
        kind = error.problem if isinstance(error, KerberosError) else KerberosProblem.OTHER
        problem = _KERBEROS_PROBLEMS[kind].fill(**_kerberos_values(ctx, realm))
        return Outcome.failed(f"no Kerberos ticket: {problem.title}", problem, redact(str(error), password.reveal()))
    return ctx.own(ticket, ticket.close)


async def powershell(ctx: Context) -> Outcome:
    from pypsrp.exceptions import AuthenticationError, WSManFaultError

    target, settings = _target(ctx)
    endpoint: Endpoint = ctx.fact("endpoint")
    password: Secret = ctx.fact("password")
    auth = PowerShellAuth.BASIC if validate.is_ip_address(endpoint.host) else settings.powershell_auth
    ticket: kerberos.Ticket | None = None
    if auth is PowerShellAuth.KERBEROS:
        obtained = await _kerberos_ticket(ctx, endpoint.host)
        if isinstance(obtained, Outcome):
            return obtained
        ticket = obtained

    def connect() -> tuple[Any, ps.CmdletResult]:
        pool = ps.open_pool(endpoint.host, endpoint.port, auth, settings.admin_upn, password, target.timeout, ticket)
        return pool, ps.run(pool, "Get-ExchangeServer")

    try:
        pool, servers = await ctx.blocking(connect)
    except KerberosError as error:  # the server's side of the exchange (mutual authentication) failed
        problem = problems.KERBEROS_FAILED.fill(**_kerberos_values(ctx, ticket.realm if ticket else None))
        return Outcome.failed(f"Kerberos with {endpoint.host}: {error.message}", problem, redact(error.message))
    except AuthenticationError as error:
        offered = ctx.facts.get("ps_schemes", [])
        if auth is PowerShellAuth.BASIC and "Basic" not in offered:
            problem = problems.PS_BASIC_AUTH_DISABLED.fill(**_values(ctx))
        elif auth is PowerShellAuth.NTLM and "NTLM" not in offered:
            problem = problems.PS_NTLM_REFUSED.fill(**_values(ctx))
        elif auth is PowerShellAuth.KERBEROS:
            problem = problems.PS_KERBEROS_REFUSED.fill(**_kerberos_values(ctx, ticket.realm if ticket else None))
        else:
            problem = problems.AUTH_FAILED.fill(**_values(ctx))
        return Outcome.failed(
            f"/PowerShell rejected {settings.admin_upn} ({auth.label})",
            problem,
            redact(str(error), password.reveal()),
        )
    except WSManFaultError as error:
        problem = (
            problems.PS_WRONG_ENDPOINT
            if error.code == 2150858811
            else problems.replace_code(problems.INTERNAL, f"WSMAN_{error.code}")
        )
        return Outcome.failed(
            f"WSMan fault {error.code}: {error.reason}", problem.fill(**_values(ctx)), redact(str(error))
        )
    except Exception as error:
        mapped = network_failure(error, target, endpoint.host, endpoint.port)
        if mapped is None:
            raise
        return mapped
    server = servers.props()[0] if servers.output else {}
    how = f"Kerberos as {ticket.realm.principal}" if ticket else auth.label
    return Outcome.passed(
        f"connected ({how}) to {server.get('Name', '?')}, {server.get('AdminDisplayVersion', '?')}",
        private={"ps_pool": ctx.own(pool, pool.close), "ps_lock": threading.Lock(), "ps_ticket": ticket},
        ps_auth=auth,
        server_name=server.get("Name"),
        server_version=server.get("AdminDisplayVersion"),
    )


async def _cmdlet(ctx: Context, cmdlet: str, **parameters: Any) -> ps.CmdletResult:
    pool, lock = ctx.fact("ps_pool"), ctx.fact("ps_lock")

    def call() -> ps.CmdletResult:
        with lock:  # one pipeline at a time on one runspace pool
            return ps.run(pool, cmdlet, **parameters)

    return await ctx.blocking(call)


async def upn(ctx: Context) -> Outcome:
    _, settings = _target(ctx)
    result = await _cmdlet(ctx, "Get-AcceptedDomain")
    domains = [str(p.get("DomainName", "")).lower() for p in result.props()]
    suffix = settings.admin_upn.rpartition("@")[2].lower()
    if suffix not in domains:
        return Outcome.failed(
            f"{suffix} is not among {', '.join(domains)}",
            problems.UPN_SUFFIX_NOT_ACCEPTED.fill(**_values(ctx, domain=suffix)),
        )
    return Outcome.passed(f"{suffix} is an accepted domain ({plural(len(domains), 'domain')})")


async def impersonation(ctx: Context) -> Outcome:
    _, settings = _target(ctx)
    values = _values(ctx)
    found = await _cmdlet(
        ctx, "Get-ManagementRoleAssignment", Role=IMPERSONATION, RoleAssignee=settings.admin_upn, Delegating=False
    )
    direct = [p.get("Name") for p in found.props()]
    if direct:
        return Outcome.passed(
            f"{settings.admin_upn} holds {IMPERSONATION} ({', '.join(map(str, direct))})", impersonation_ready=True
        )
    if ctx.facts.get("impersonation_granted"):
        return Outcome.failed(
            "the grant made earlier in this run is not visible yet", problems.ErrorImpersonateUserDenied.fill(**values)
        )
    name = GRANT_NAME.format(alias=values["alias"])[:64]
    request = ConfirmationRequest(
        action=problems.Action.GRANT_IMPERSONATION,
        question=f"Grant {IMPERSONATION} to {settings.admin_upn}?",
        command=f"New-ManagementRoleAssignment -Name {quoting.powershell_literal(name)} -Role {IMPERSONATION} "
        f"-User {quoting.powershell_literal(settings.admin_upn)}",
        account=settings.admin_upn,
        server=str(values["server"]),
        details=(
            ("Why", f"{settings.admin_upn} has no direct {IMPERSONATION} assignment; EWS impersonation needs one"),
            ("Runs as", settings.admin_upn),
            ("Through", f"remote PowerShell at https://{values['host']}:{values['port'] or 443}/PowerShell"),
        ),
    )
    if not await ctx.confirm(request):
        return Outcome.failed(
            f"{settings.admin_upn} has no direct {IMPERSONATION} assignment",
            problems.ErrorImpersonateUserDenied.fill(**values),
        )
    ctx.progress(f"granting {IMPERSONATION} to {settings.admin_upn}")
    grant = asyncio.ensure_future(
        _cmdlet(ctx, "New-ManagementRoleAssignment", Name=name, Role=IMPERSONATION, User=settings.admin_upn)
    )
    try:
        granted = await asyncio.shield(grant)
    except asyncio.CancelledError:
        # The cmdlet is on its way to the server and cannot be called back: wait for its answer (bounded by the
        # connection's timeout) and report what really happened, rather than "cancelled" over a change made.
        granted = await grant
    if granted.errors or not granted.output:
        reason = granted.errors[0] if granted.errors else "no assignment was returned"
        return Outcome.failed(
            f"granting failed: {reason}",
            problems.IMPERSONATION_GRANT_DENIED.fill(**values),
            redact("\n".join(granted.errors)),
        )
    return Outcome.passed(
        f"granted {IMPERSONATION} to {settings.admin_upn} ({name})",
        impersonation_ready=True,
        impersonation_granted=True,
    )


async def ews_impersonation(ctx: Context) -> Outcome:
    from exchangelib import errors

    from workbench.net import ews as ews_client

    target, settings = _target(ctx)
    listing = await _cmdlet(ctx, "Get-Mailbox", ResultSize=5)
    others = [
        str(p.get("PrimarySmtpAddress"))
        for p in listing.props()
        if str(p.get("PrimarySmtpAddress", "")).lower() != settings.admin_upn.lower()
    ]
    if not others:
        return Outcome.warning("no other mailbox to impersonate", None)
    mailbox = others[0]
    password: Secret = ctx.fact("password")
    delays = [0.5, 1.0, 2.0, 4.0] if ctx.facts.get("impersonation_granted") else []

    def reach() -> str:
        account = ews_client.onprem_account(
            ctx.fact("ews_url"), settings.admin_upn, password, ctx.fact("ews_auth"), target.timeout, mailbox
        )
        try:
            return str(account.inbox.name)
        finally:
            ews_client.release(account)  # a refused attempt must not leave its cached failure behind

    for attempt in range(len(delays) + 1):
        try:
            name = await ctx.blocking(reach)
        except errors.ErrorImpersonateUserDenied as error:
            if attempt < len(delays):
                ctx.progress(f"impersonation not effective yet, retrying in {delays[attempt]:g} s")
                await asyncio.sleep(delays[attempt])
                continue
            return Outcome.failed(
                f"EWS refused to impersonate {mailbox}",
                problems.ErrorImpersonateUserDenied.fill(**_values(ctx)),
                redact(str(error)),
            )
        return Outcome.passed(f"opened '{name}' of {mailbox} through impersonation")
    raise AssertionError("unreachable")


async def mailboxes(ctx: Context) -> Outcome:
    """Enumerate every mailbox on a runspace pool of its own, so that the short cmdlets of the other checks
    (impersonation, UPN suffix, EWS impersonation) never queue behind a long enumeration."""
    target, settings = _target(ctx)
    endpoint: Endpoint = ctx.fact("endpoint")
    password: Secret = ctx.fact("password")
    auth: PowerShellAuth = ctx.fact("ps_auth")
    report = ctx.thread_progress()
    counted = [0]
    cancelled = threading.Event()

    def on_batch(batch: list[Any]) -> None:
        counted[0] += len(batch)
        report(f"{counted[0]:,} mailboxes", counted[0], None)

    def enumerate_all() -> tuple[ps.CmdletResult, ps.CmdletResult]:
        pool = ps.open_pool(
            endpoint.host, endpoint.port, auth, settings.admin_upn, password, target.timeout, ctx.fact("ps_ticket")
        )
        try:
            users = ps.stream(pool, "Get-Mailbox", {"ResultSize": "Unlimited"}, on_batch, cancelled.is_set)
            if cancelled.is_set():
                return users, ps.CmdletResult()
            public = ps.run(pool, "Get-Mailbox", PublicFolder=True, ResultSize="Unlimited")
            return users, public
        finally:
            pool.close()

    try:
        users, public = await ctx.blocking(enumerate_all)
    except asyncio.CancelledError:
        cancelled.set()
        raise
    if users.errors:
        return Outcome.warning(
            f"{plural(counted[0], 'mailbox')}; {len(users.errors)} errors: {users.errors[0]}",
            None,
            mailbox_count=counted[0],
        )
    return Outcome.passed(
        f"{plural(counted[0], 'mailbox')}, {plural(len(public.output), 'public folder mailbox')}",
        mailbox_count=counted[0],
        public_folder_mailboxes=len(public.output),
    )


async def version(ctx: Context) -> Outcome:
    text = str(ctx.facts.get("server_version") or "")
    match = re.search(r"(\d+)\.(\d+) \(Build (\d+)\.(\d+)\)", text)
    if match is None:
        return Outcome.warning(f"version not reported ({text or 'empty'})", None)
    major, minor = int(match.group(1)), int(match.group(2))
    name = {
        (15, 2): "Exchange Server 2019 / Subscription Edition",
        (15, 1): "Exchange Server 2016",
        (15, 0): "Exchange Server 2013",
    }.get((major, minor), f"Exchange {major}.{minor}")
    if (major, minor) < (15, 1):
        return Outcome.failed(f"{name} ({text}) is out of support", problems.EXCHANGE_UNSUPPORTED.fill(version=name))
    return Outcome.passed(f"{name}, {text}")


@dataclass(frozen=True, slots=True)
class Admin:
    """A member of Organization Management, as the Browse picker lists it."""

    name: str
    display_name: str
    address: str  # the primary SMTP address; empty for an admin without a mailbox
    has_mailbox: bool


ADMIN_GROUP = "Organization Management"


async def directory(ctx: Context) -> Outcome:
    """Who may administer the organisation, and which domains it accepts: what Browse offers the admin."""
    _, settings = _target(ctx)
    members = await _cmdlet(ctx, "Get-RoleGroupMember", Identity=ADMIN_GROUP)
    if members.errors:
        return Outcome.failed(
            f"Get-RoleGroupMember '{ADMIN_GROUP}' failed: {members.errors[0]}",
            problems.DIRECTORY_DENIED.fill(**_values(ctx)),
            redact("\n".join(members.errors)),
        )
    domains = await _cmdlet(ctx, "Get-AcceptedDomain")
    admins = tuple(
        sorted(
            (
                Admin(
                    name=str(p.get("Name") or ""),
                    display_name=str(p.get("DisplayName") or p.get("Name") or ""),
                    address=str(p.get("PrimarySmtpAddress") or ""),
                    has_mailbox=str(p.get("RecipientType") or "").endswith("Mailbox"),
                )
                for p in members.props()
            ),
            key=lambda a: a.display_name.casefold(),
        )
    )
    accepted = tuple(str(p.get("DomainName") or "").lower() for p in domains.props() if p.get("DomainName"))
    with_mailbox = sum(a.has_mailbox for a in admins)
    return Outcome.passed(
        f"{plural(len(admins), 'administrator')} ({with_mailbox} with a mailbox), "
        f"{plural(len(accepted), 'accepted domain')}; signed in as {settings.admin_upn}",
        admins=admins,
        accepted_domains=accepted,
    )


def _connect_checks() -> tuple[Check, ...]:
    return (
        Check("onprem.credential", "Administrator's password", credential, timeout=10),
        Check("onprem.locate", "Locate the server", locate, ("onprem.credential",), 90),
        Check("onprem.tls", "TLS and certificate", tls, ("onprem.locate",)),
        Check("onprem.auth", "Authentication methods", auth, ("onprem.tls",)),
    )


def browse_plan() -> Plan:
    """Just enough to reach remote PowerShell, then list the administrators and accepted domains."""
    return Plan(
        (
            *_connect_checks(),
            Check("onprem.powershell", "Remote PowerShell", powershell, ("onprem.auth",), 60),
            Check("onprem.directory", "Administrators and domains", directory, ("onprem.powershell",), 60),
        )
    )


def plan() -> Plan:
    return Plan(
        (
            *_connect_checks(),
            Check("onprem.ews", "EWS as the administrator", ews, ("onprem.auth",), 60),
            Check("onprem.powershell", "Remote PowerShell", powershell, ("onprem.auth",), 60),
            Check("onprem.upn", "UPN suffix accepted", upn, ("onprem.powershell",)),
            Check("onprem.impersonation", "ApplicationImpersonation", impersonation, ("onprem.powershell",), 60),
            Check(
                "onprem.ews.impersonation",
                "EWS impersonation",
                ews_impersonation,
                ("onprem.impersonation", "onprem.ews"),
                60,
            ),
            Check("onprem.mailboxes", "Mailbox enumeration", mailboxes, ("onprem.powershell",), 900),
            Check("onprem.version", "Exchange version", version, ("onprem.powershell",), 5),
        )
    )
