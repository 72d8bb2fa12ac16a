"""The lab's scenarios: each switches on one fault that reproduces what Microsoft really answers.

Scenarios combine (`--scenario bad-secret,graph-throttled`). Most change the lab's *state* (the stored secret, the
registered key, the consent) so that the lab's ordinary validation produces the error, exactly as Entra or
Exchange would; only faults that are policy decisions on Microsoft's side are switches in the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    part: str  # "m365" or "onprem"
    effect: str  # what a client sees
    code: str  # the error code it reproduces


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("healthy", "m365", "everything works", ""),
        Scenario(
            "bad-secret",
            "m365",
            "the app's registered secret differs from the one handed out: token requests fail",
            "AADSTS7000215",
        ),
        Scenario("expired-secret", "m365", "the app's client secret has expired", "AADSTS7000222"),
        Scenario("unknown-client", "m365", "the handed-out client ID is not registered in the tenant", "AADSTS700016"),
        Scenario(
            "unknown-tenant",
            "m365",
            "the handed-out tenant ID does not exist: OpenID discovery and token requests fail",
            "AADSTS90002",
        ),
        Scenario(
            "cert-not-registered",
            "m365",
            "the handed-out certificate is not among the app's key credentials",
            "AADSTS700027",
        ),
        Scenario("expired-cert", "m365", "the app's registered certificate credential has expired", "AADSTS700027"),
        Scenario(
            "no-consent",
            "m365",
            "no admin consent: tokens carry no roles, Graph answers 403 and EWS 401 (x-ms-diagnostics 2000008)",
            "Authorization_RequestDenied",
        ),
        Scenario("conditional-access", "m365", "a Conditional Access policy blocks every token request", "AADSTS53003"),
        Scenario(
            "account-no-mailbox",
            "m365",
            "the dedicated application account exists but has no mailbox",
            "MailboxNotEnabledForRESTAPI",
        ),
        Scenario(
            "ews-disabled",
            "m365",
            "EWS is switched off for the tenant (EwsEnabled $false since the Oct 2026 change): EWS answers 403",
            "EWS_DISABLED",
        ),
        Scenario(
            "graph-throttled",
            "m365",
            "Graph answers 429 with Retry-After to the first requests of each client",
            "TooManyRequests",
        ),
        Scenario(
            "not-admin",
            "m365",
            "the admin who signs in with the device code holds neither Global nor Privileged Role Administrator",
            "Authorization_RequestDenied",
        ),
        Scenario(
            "role-eligible-not-active",
            "m365",
            "the admin is eligible for Global Administrator in Privileged Identity Management but has not activated "
            "it: memberOf holds no directory role",
            "Authorization_RequestDenied",
        ),
        Scenario(
            "app-registration-restricted",
            "m365",
            "'Users can register applications' is No and the admin is a Privileged Role Administrator: creating "
            "the application answers 403",
            "Authorization_RequestDenied",
        ),
        Scenario(
            "sign-in-client-blocked",
            "m365",
            "the tenant disabled the service principal of Microsoft Graph Command Line Tools (the default sign-in "
            "client): device-code sign-ins with it are refused; the organisation's own public client still works",
            "AADSTS7000112",
        ),
        Scenario(
            "propagation-delay",
            "m365",
            "an app registered through Graph is unknown to token requests for a few seconds",
            "AADSTS700016",
        ),
        Scenario(
            "untrusted-cert",
            "onprem",
            "the Exchange server's certificate comes from a CA nobody trusts",
            "TLS_UNTRUSTED",
        ),
        Scenario(
            "name-mismatch",
            "onprem",
            "the Exchange server's certificate names another host (legacy-mail.fabrikam-old.test)",
            "TLS_NAME_MISMATCH",
        ),
        Scenario(
            "bad-password",
            "onprem",
            "the handed-out admin password is wrong: EWS and PowerShell answer 401",
            "AUTH_FAILED",
        ),
        Scenario(
            "negotiate-only",
            "onprem",
            "EWS offers only Negotiate (Kerberos-style), which exchangelib's auth probe cannot use",
            "EWS_NEGOTIATE_ONLY",
        ),
        Scenario(
            "no-impersonation",
            "onprem",
            "the admin lacks the ApplicationImpersonation assignment; New-ManagementRoleAssignment fixes it",
            "ErrorImpersonateUserDenied",
        ),
        Scenario(
            "grant-denied",
            "onprem",
            "impersonation is missing and the admin may not delegate it: New-ManagementRoleAssignment fails",
            "IMPERSONATION_GRANT_DENIED",
        ),
        Scenario(
            "extended-protection-strict",
            "onprem",
            "Extended Protection set to Require on every virtual directory (CU14+ defaults: EWS Allow, "
            "Autodiscover None, PowerShell Require): NTLM without the TLS channel binding is refused everywhere",
            "AUTH_FAILED",
        ),
        Scenario(
            "ps-basic-enabled",
            "onprem",
            "an admin enabled Basic authentication on the PowerShell virtual directory (what a server reached by IP "
            "address needs); by default it takes Kerberos only",
            "",
        ),
        Scenario(
            "ps-windows-auth",
            "onprem",
            "an admin enabled Windows authentication on the PowerShell virtual directory: NTLM is accepted there too",
            "",
        ),
        Scenario(
            "autodiscover-internal-only",
            "onprem",
            "autodiscover publishes InternalEwsUrl but no ExternalEwsUrl",
            "AUTODISCOVER_INTERNAL_ONLY",
        ),
        Scenario(
            "autodiscover-srv-only",
            "onprem",
            "no A records for the domain or autodiscover.<domain>: only the SRV record leads to the server",
            "AUTODISCOVER_SRV_ONLY",
        ),
        Scenario(
            "autodiscover-redirect",
            "onprem",
            "only the plain-HTTP redirect leads to the server: http://autodiscover.<domain>/autodiscover/"
            "autodiscover.xml answers 302 to https://<server>:<port>/autodiscover/autodiscover.xml (port 80 on "
            "loopback: needs root or ip_unprivileged_port_start=80)",
            "",
        ),
        Scenario(
            "autodiscover-srv-foreign",
            "onprem",
            "no A record for the domain or autodiscover.<domain>; the SRV record names a hosting provider in another "
            "domain (mail.fabrikam-hosting.test): followed only when the admin allows that host",
            "AUTODISCOVER_REDIRECT_NOT_ALLOWED",
        ),
        Scenario(
            "autodiscover-redirect-foreign",
            "onprem",
            "as autodiscover-redirect, but the redirect points to a hosting provider in another domain "
            "(mail.fabrikam-hosting.test): followed only when the admin allows that host",
            "AUTODISCOVER_REDIRECT_NOT_ALLOWED",
        ),
        Scenario(
            "autodiscover-broken", "onprem", "every autodiscover request fails with HTTP 500", "AUTODISCOVER_FAILED"
        ),
        Scenario("admin-no-mailbox", "onprem", "the admin account has no mailbox", "ErrorMissingEmailAddress"),
        Scenario(
            "server-down", "onprem", "the Exchange server accepts TCP connections and never answers", "SERVER_TIMEOUT"
        ),
        # Latency, not a failure: the verification passes, only slower (used to exercise streaming and cancel).
        Scenario("ps-slow", "onprem", "remote PowerShell answers every request 250 ms late", ""),
    ]
}


class UnknownScenario(ValueError):
    pass


def parse(text: str | None) -> frozenset[str]:
    """`a,b` -> {"a", "b"}; an unknown name is an error that lists the known ones."""
    names = {part.strip() for part in (text or "").split(",") if part.strip()}
    unknown = sorted(names - SCENARIOS.keys())
    if unknown:
        raise UnknownScenario(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    return frozenset(names - {"healthy"})
