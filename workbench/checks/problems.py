"""The troubleshooting catalogue: every failure the checks report, with its likely causes and the fixes.

`code` is Microsoft's own where one exists (AADSTS…, Graph and EWS response codes), otherwise ours in UPPER_SNAKE.
Each fix says what kind of fix it is — a PowerShell command, a portal path, a Graph call, a shell command, an
operation of the workbench itself, or plain advice — and carries its exact command. Workbench operations carry no
command here: `fix_commands` words them as the `workbench` command line (the CLI prints it, the console shows it and
also binds a key). Texts, commands and action parameters may hold `{placeholders}` (app id, account, server…) that
`Problem.fill` completes for the connection at hand. An `action` is what the workbench can do itself, after the
admin confirms, with the parameters it needs (the fingerprint to pin, the seconds to wait, the cmdlet that grants).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from workbench import quoting
from workbench.text import visible


class Action(StrEnum):
    """What the workbench itself can do about a problem."""

    GRANT_IMPERSONATION = "grant-impersonation"
    TRUST_CERTIFICATE = "trust-certificate"  # pin the server certificate's SHA-256 for this connection
    TRUST_CA_BUNDLE = "trust-ca-bundle"  # trust a CA bundle file for this connection
    RETRY_LATER = "retry-after"
    SET_SECRET = "set-secret"  # noqa: S105  (an action name, not a secret)
    IMPORT_CERTIFICATE = "import-certificate"
    GENERATE_CERTIFICATE = "generate-certificate"
    RAISE_TIMEOUT = "raise-timeout"
    ALLOW_AUTODISCOVER_REDIRECT = "allow-autodiscover-redirect"  # follow a redirect outside the admin's domain


class FixKind(StrEnum):
    POWERSHELL = "powershell"  # Exchange Management Shell / Exchange Online PowerShell / Windows PowerShell
    PORTAL = "portal"  # a path through an admin centre
    GRAPH = "graph"  # a Microsoft Graph request, or a URL to open
    SHELL = "shell"  # a POSIX shell command on this machine (openssl…)
    DNS = "dns"  # records to publish
    WORKBENCH = "workbench"  # an operation of the workbench (`action`), worded by each front end
    ADVICE = "advice"  # no command


@dataclass(frozen=True, slots=True)
class Fix:
    text: str
    command: str | None = None  # exactly what to run, paste or open; None for advice and workbench operations
    kind: FixKind = FixKind.ADVICE
    action: Action | None = None  # for WORKBENCH fixes

    def __post_init__(self) -> None:
        if (self.kind is FixKind.ADVICE) != (self.command is None) and self.kind is not FixKind.WORKBENCH:
            raise ValueError(f"fix {self.text!r}: advice has no command, every other kind has one")
        if (self.kind is FixKind.WORKBENCH) != (self.action is not None):
            raise ValueError(f"fix {self.text!r}: a workbench fix names its action, and only it does")


def powershell(text: str, command: str) -> Fix:
    return Fix(text, command, FixKind.POWERSHELL)


def portal(text: str, path: str) -> Fix:
    return Fix(text, path, FixKind.PORTAL)


def graph(text: str, call: str) -> Fix:
    return Fix(text, call, FixKind.GRAPH)


def shell(text: str, command: str) -> Fix:
    return Fix(text, command, FixKind.SHELL)


def dns(text: str, records: str) -> Fix:
    return Fix(text, records, FixKind.DNS)


def workbench(text: str, action: Action) -> Fix:
    return Fix(text, None, FixKind.WORKBENCH, action)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """The action a problem offers, with its parameters (filled like the fixes)."""

    kind: Action
    params: Mapping[str, str] = field(default_factory=dict)


def offer(kind: Action, **params: str) -> ActionSpec:
    return ActionSpec(kind, dict(params))


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    title: str
    causes: tuple[str, ...]
    fixes: tuple[Fix, ...]
    action: ActionSpec | None = None

    def fill(self, **values: object) -> Problem:
        """Complete `{placeholders}`; unknown ones stay as they are, so a fix never reads "None"."""

        def value_of(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            return match.group(0) if value is None or value == "" else str(value)

        def render(text: str) -> str:  # prose: a value from outside stays on its line and shows what it holds
            return _PLACEHOLDER.sub(lambda m: visible(value_of(m)), text)

        def command(fix: Fix) -> str | None:
            if fix.command is None:
                return None
            if fix.kind is FixKind.POWERSHELL:
                return quoting.fill_powershell(fix.command, values)
            if fix.kind is FixKind.SHELL:
                return _PLACEHOLDER.sub(
                    lambda m: quoting.posix(str(values[m.group(1)])) if values.get(m.group(1)) else m.group(0),
                    fix.command,
                )
            return render(fix.command)

        return replace(
            self,
            title=render(self.title),
            causes=tuple(render(c) for c in self.causes),
            fixes=tuple(replace(f, text=render(f.text), command=command(f)) for f in self.fixes),
            action=(
                ActionSpec(
                    self.action.kind,
                    {
                        k: text
                        for k, v in self.action.params.items()
                        if not _PLACEHOLDER.search(
                            text := quoting.fill_powershell(v, values) if k == "command" else render(v)
                        )
                    },
                )
                if self.action
                else None
            ),
        )

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "title": self.title,
            "causes": list(self.causes),
            "fixes": [
                {
                    "kind": f.kind.value,
                    "text": f.text,
                    "command": f.command,
                    "action": f.action.value if f.action else None,
                }
                for f in self.fixes
            ],
            "action": {"kind": self.action.kind.value, **self.action.params} if self.action else None,
        }


ENTRA = "Microsoft Entra admin center"
GRANT_COMMAND = (
    "New-ManagementRoleAssignment -Name 'Exchange Workbench-Impersonation-{alias}' -Role ApplicationImpersonation "
    "-User '{account}'"
)
APP_PAGE = f"{ENTRA} > Identity > Applications > App registrations > All applications > {{app_id}}"

# ------------------------------------------------------------------ network and TLS

TIMEOUT = Problem(
    "TIMEOUT",
    "The server did not answer in time",
    (
        "The server or a firewall accepts the connection but never answers (hung IIS application pool, dropped "
        "packets, a proxy holding the request)",
        "The server is overloaded",
    ),
    (
        powershell("Check that the server answers at all", "Test-NetConnection {host} -Port {port}"),
        powershell(
            "On the Exchange server, restart the application pools", "Restart-WebAppPool MSExchangeServicesAppPool"
        ),
        workbench("Raise the timeout if the server is merely slow", Action.RAISE_TIMEOUT),
    ),
)
NETWORK_UNREACHABLE = Problem(
    "NETWORK_UNREACHABLE",
    "Cannot connect to {host}",
    (
        "Wrong host name or port",
        "The server is down or a firewall refuses the connection",
        "A proxy is required and not configured (HTTPS_PROXY)",
    ),
    (
        Fix("Check the address and port in the connection"),
        powershell("Test the route", "Test-NetConnection {host} -Port {port}"),
        Fix("Behind a proxy, set HTTPS_PROXY (and NO_PROXY for internal hosts) before starting the workbench"),
    ),
)
DNS_NOT_FOUND = Problem(
    "DNS_NOT_FOUND",
    "{host} does not resolve",
    (
        "The name is misspelt",
        "Split DNS: the internal DNS lacks the external name (or the reverse)",
        "The DNS servers configured for this connection do not serve the domain",
    ),
    (
        powershell("Look the name up with the same resolver", "Resolve-DnsName {host} -Type A -Server {dns}"),
        Fix("Add an A record for the name, or enter the server by IP address"),
    ),
)
TLS_UNTRUSTED = Problem(
    "TLS_UNTRUSTED",
    "The server's certificate is not trusted",
    (
        "The certificate is self-signed (Exchange's default certificate) or issued by an internal CA this machine "
        "does not trust",
        "An intermediate certificate is missing on the server",
    ),
    (
        workbench("Trust the issuing CA (a PEM bundle) for this connection", Action.TRUST_CA_BUNDLE),
        workbench(
            "Or, after comparing it with the certificate in the Exchange admin center, pin this certificate's SHA-256 "
            "fingerprint {fingerprint} for this connection only",
            Action.TRUST_CERTIFICATE,
        ),
        powershell(
            "Or install a certificate from a public CA on the server",
            "Enable-ExchangeCertificate -Thumbprint <thumbprint> -Services IIS",
        ),
    ),
    offer(Action.TRUST_CERTIFICATE, fingerprint="{fingerprint}", host="{host}"),
)
TLS_NAME_MISMATCH = Problem(
    "TLS_NAME_MISMATCH",
    "The certificate does not name {host}",
    (
        "The certificate's names (SAN) do not include the name or IP address used to connect",
        "Connecting by IP address or by an internal name the certificate was not issued for",
    ),
    (
        Fix("Connect with a name the certificate lists: {names}"),
        powershell(
            "Or reissue the certificate with this name",
            "New-ExchangeCertificate -DomainName {host} -PrivateKeyExportable $true",
        ),
        workbench(
            "Or pin this certificate's SHA-256 fingerprint {fingerprint} for this connection", Action.TRUST_CERTIFICATE
        ),
    ),
    offer(Action.TRUST_CERTIFICATE, fingerprint="{fingerprint}", host="{host}"),
)
TLS_EXPIRED = Problem(
    "TLS_EXPIRED",
    "The server's certificate expired on {not_after}",
    ("The IIS certificate on the Exchange server was not renewed",),
    (
        powershell(
            "Renew the certificate and bind it to IIS",
            "Get-ExchangeCertificate | Where-Object { $_.NotAfter -lt (Get-Date) }; "
            "Enable-ExchangeCertificate -Thumbprint <new> -Services IIS",
        ),
    ),
)
TLS_PIN_MISMATCH = Problem(
    "TLS_PIN_MISMATCH",
    "The server presented a different certificate than the one pinned",
    ("The certificate on the server was renewed or replaced", "Something between you and the server intercepts TLS"),
    (
        powershell(
            "Compare the fingerprint with the certificate now on the server",
            "Get-ExchangeCertificate | Format-List Thumbprint,Subject,NotAfter",
        ),
        workbench("If the change is expected, pin the new fingerprint {fingerprint}", Action.TRUST_CERTIFICATE),
    ),
    offer(Action.TRUST_CERTIFICATE, fingerprint="{fingerprint}", host="{host}"),
)

# ------------------------------------------------------------------ credentials in the workbench

CA_BUNDLE_UNUSABLE = Problem(
    "CA_BUNDLE_UNUSABLE",
    "The connection's CA bundle cannot be used",
    ("The file {path} was moved, deleted or replaced since the connection was saved",),
    (
        Fix("Put the CA certificates (PEM) back at {path}, or point the connection at their new place"),
        shell("Check the file", "openssl x509 -in {path} -noout -subject -enddate"),
    ),
)

SECRET_MISSING = Problem(
    "SECRET_MISSING",
    "No secret is stored for this connection",
    (
        "The connection was imported from an export, which carries no secrets",
        "The vault was reset or copied from another machine",
    ),
    (workbench("Enter the secret again", Action.SET_SECRET),),
    offer(Action.SET_SECRET),
)
VAULT_UNAVAILABLE = Problem(
    "VAULT_UNAVAILABLE",
    "The workbench's vault cannot be read",
    (
        "vault.key was replaced or deleted, or the vault was copied from another machine",
        "The vault passphrase is wrong, or the OS keyring is locked",
    ),
    (
        Fix("Restore vault.key (or vault.json) from a backup, or unlock the keyring and try again"),
        Fix("To start over, see the README's 'Starting over': every secret is then entered again"),
    ),
)
CONNECTION_INVALID = Problem(
    "CONNECTION_INVALID",
    "The saved connection has an invalid {field}",
    ("The store was edited by hand, or written by a different version of the workbench",),
    (Fix("Edit the connection and enter the value again"),),
)
CERT_NOT_IN_STORE = Problem(
    "CERT_NOT_IN_STORE",
    "Certificate {thumbprint} is not in the personal certificate store",
    ("The certificate was never imported on this machine", "It was removed from the store"),
    (workbench("Import the certificate with its private key", Action.IMPORT_CERTIFICATE),),
)
CERT_EXPIRED = Problem(
    "CERT_EXPIRED",
    "The app certificate expired on {not_after}",
    ("Certificates for app registrations are typically issued for one year",),
    (
        workbench("Create a new certificate (RSA 2048, one year)", Action.GENERATE_CERTIFICATE),
        portal("Upload the new certificate's public part", f"{APP_PAGE} > Certificates & secrets > Upload certificate"),
        Fix("Point the connection at the new thumbprint, verify, then delete the old key in Entra"),
    ),
)
CERT_EXPIRING = replace(
    CERT_EXPIRED, code="CERT_EXPIRING", title="The app certificate expires in {days} days ({not_after})"
)

# ------------------------------------------------------------------ Entra ID sign-in (AADSTS codes)

AADSTS90002 = Problem(
    "AADSTS90002",
    "Tenant {tenant_id} was not found",
    (
        "The Tenant ID is mistyped or belongs to another directory",
        "The connection's cloud is wrong (a GCC High or 21Vianet tenant does not exist in the global cloud)",
    ),
    (
        portal("Copy the Directory (tenant) ID", f"{ENTRA} > Identity > Overview"),
        Fix("Choose the national cloud the tenant lives in"),
    ),
)
AADSTS700016 = Problem(
    "AADSTS700016",
    "Application {app_id} was not found in the tenant",
    (
        "The Client ID is mistyped or comes from another tenant",
        "The app registration was deleted (it stays restorable for 30 days)",
        "The app was created moments ago and has not replicated yet",
    ),
    (
        portal("Copy the Application (client) ID", f"{APP_PAGE} > Overview"),
        portal("Restore a deleted app", f"{ENTRA} > App registrations > Deleted applications"),
        Fix("Right after registration, wait a minute and re-run the check"),
    ),
    offer(Action.RETRY_LATER, seconds="{retry_after}"),
)
AADSTS7000215 = Problem(
    "AADSTS7000215",
    "Entra ID rejected the client secret",
    (
        "The secret's ID was pasted instead of its Value",
        "The secret was mistyped or truncated when pasted",
        "The secret was deleted in Entra",
    ),
    (
        portal(
            "Create a new secret and copy its Value right away",
            f"{APP_PAGE} > Certificates & secrets > New client secret",
        ),
        workbench("Store it for this connection", Action.SET_SECRET),
    ),
    offer(Action.SET_SECRET),
)
AADSTS7000222 = Problem(
    "AADSTS7000222",
    "The app's client secret has expired",
    ("Client secrets live at most two years (24 months) in Entra",),
    (
        portal("Create a new secret", f"{APP_PAGE} > Certificates & secrets > New client secret"),
        workbench("Store it for this connection", Action.SET_SECRET),
        Fix("Or switch the connection to a certificate, which you can rotate with overlap"),
    ),
    offer(Action.SET_SECRET),
)
AADSTS700027 = Problem(
    "AADSTS700027",
    "Entra ID rejected the certificate assertion",
    (
        "The certificate was not uploaded to this app registration, or a different one was",
        "The private key does not belong to the uploaded certificate",
        "The registered certificate credential has expired",
    ),
    (
        portal(
            "Compare thumbprint {thumbprint} with the certificates Entra holds",
            f"{APP_PAGE} > Certificates & secrets > Certificates",
        ),
        portal(
            "Upload this certificate's public part (a .cer/.pem without the key)",
            f"{APP_PAGE} > Certificates & secrets > Upload certificate",
        ),
    ),
)
AADSTS53003 = Problem(
    "AADSTS53003",
    "A Conditional Access policy blocked the sign-in",
    (
        "A policy for workload identities blocks this service principal (location, risk)",
        "A policy blocks the device-code flow or this client app",
    ),
    (
        portal(
            "Find the policy",
            f"{ENTRA} > Identity > Monitoring & health > Sign-in logs > Service principal sign-ins > the failure > "
            "Conditional Access",
        ),
        Fix("Exclude the app, or add this machine's network as a named location"),
    ),
)
AADSTS500011 = Problem(
    "AADSTS500011",
    "The resource (Graph or Exchange Online) is not present in the tenant",
    ("The connection points at the wrong national cloud", "Exchange Online is not licensed in this tenant"),
    (Fix("Check the connection's cloud and endpoints"),),
)
AADSTS_OTHER = Problem(
    "AADSTS",
    "Entra ID refused the sign-in",
    ("See the error text: Entra's AADSTS codes are listed at https://login.microsoftonline.com/error",),
    (
        portal(
            "Look the attempt up in the sign-in logs",
            f"{ENTRA} > Identity > Monitoring & health > Sign-in logs > Service principal sign-ins",
        ),
    ),
)

# The admin's device-code sign-in for automatic registration: which public client signs them in.
_OWN_SIGN_IN_CLIENT = (
    portal(
        "Register the organisation's own public client: a single-tenant app with 'Allow public client flows' = Yes",
        f"{ENTRA} > Identity > Applications > App registrations > New registration; then Authentication > "
        "Advanced settings > Allow public client flows > Yes",
    ),
    portal(
        "Give it the delegated Microsoft Graph permissions Application.ReadWrite.All, "
        "AppRoleAssignment.ReadWrite.All, RoleManagement.Read.Directory and User.Read, and grant admin consent",
        f"{ENTRA} > App registrations > (the app) > API permissions > Add a permission > Microsoft Graph > "
        "Delegated permissions; then Grant admin consent",
    ),
    Fix(
        "Sign in with it: give its application (client) ID as the connection's sign-in client, or in the "
        "environment variable {env}"
    ),
)
SIGN_IN_CLIENT_BLOCKED = Problem(
    "AADSTS7000112",
    "The tenant has disabled the sign-in client {client_id}",
    (
        "An admin disabled the service principal of Microsoft Graph Command Line Tools (the workbench's default "
        "sign-in client) in this tenant: Entra answers 'Application ... is disabled'",
        "The organisation allows admin tools to sign in only through its own registered clients",
    ),
    (
        *_OWN_SIGN_IN_CLIENT,
        portal(
            "Or enable the client again, if the organisation allows it",
            f"{ENTRA} > Identity > Applications > Enterprise applications > {{client_id}} > Properties > "
            "Enabled for users to sign in > Yes",
        ),
    ),
)
SIGN_IN_CLIENT_UNKNOWN = Problem(
    "AADSTS700016",
    "The sign-in client {client_id} does not exist in this tenant",
    (
        "The sign-in client ID is mistyped, or names an app registered in another tenant",
        "The organisation's sign-in app was deleted",
    ),
    (
        Fix(
            "Leave the sign-in client empty (and unset {env}): Microsoft Graph Command Line Tools, present in "
            "every tenant, signs the admin in"
        ),
        *_OWN_SIGN_IN_CLIENT,
    ),
)

# ------------------------------------------------------------------ Graph and app permissions

NO_ADMIN_CONSENT = Problem(
    "NO_ADMIN_CONSENT",
    "The app's tokens carry no permissions: admin consent was not granted",
    (
        "The API permissions were added to the app but nobody granted admin consent",
        "Consent was granted moments ago and has not propagated",
    ),
    (
        portal("Grant admin consent", f"{APP_PAGE} > API permissions > Grant admin consent for <tenant>"),
        graph(
            "Or send a Global Administrator the consent link",
            "https://login.microsoftonline.com/{tenant_id}/adminconsent?client_id={app_id}",
        ),
    ),
    offer(Action.RETRY_LATER, seconds="{retry_after}"),
)
MISSING_APP_PERMISSIONS = Problem(
    "MISSING_APP_PERMISSIONS",
    "The app lacks required application permissions: {missing}",
    ("The permissions were never added to the app registration", "They were added but not consented"),
    (
        portal("Add {missing} as Application permissions", f"{APP_PAGE} > API permissions > Add a permission"),
        Fix("Then grant admin consent for the tenant"),
    ),
)
OPTIONAL_PERMISSIONS = replace(
    MISSING_APP_PERMISSIONS,
    code="OPTIONAL_PERMISSIONS_MISSING",
    title="Optional permissions are missing: {missing}",
)
Authorization_RequestDenied = Problem(
    "Authorization_RequestDenied",
    "Graph refused the request: insufficient privileges",
    ("The app has no consented application permission for this call (User.Read.All, Organization.Read.All)",),
    (portal("Add the permission, then grant admin consent", f"{APP_PAGE} > API permissions"),),
)
ErrorAccessDenied = Problem(
    "ErrorAccessDenied",
    "Access to {account}'s mailbox was denied",
    (
        "An Application Access Policy or RBAC for Applications scope excludes this mailbox",
        "Mail.Read / Mail.ReadWrite (Graph) or full_access_as_app (EWS) is not consented",
        "EWS is disabled for this mailbox (Set-CASMailbox -EwsEnabled $false)",
    ),
    (
        powershell(
            "Test the app's access to the mailbox", "Test-ApplicationAccessPolicy -Identity {account} -AppId {app_id}"
        ),
        powershell(
            "With RBAC for Applications", "Test-ServicePrincipalAuthorization -Identity {app_id} -Resource {account}"
        ),
        powershell("Check the mailbox's EWS switch", "Get-CASMailbox {account} | Format-List EwsEnabled"),
    ),
)
Request_ResourceNotFound = Problem(
    "Request_ResourceNotFound",
    "The dedicated application account {account} does not exist in the tenant",
    ("The address is mistyped", "The user exists under another UPN or was deleted"),
    (
        portal("Find the account", f"{ENTRA} > Identity > Users > All users"),
        Fix("Use an existing, licensed user's UPN as the application account"),
    ),
)
MailboxNotEnabledForRESTAPI = Problem(
    "MailboxNotEnabledForRESTAPI",
    "The application account {account} has no Exchange Online mailbox",
    ("The user has no Exchange Online licence", "The mailbox is on-premises (hybrid) or soft-deleted"),
    (
        powershell(
            "Assign an Exchange Online licence, or choose another account with a mailbox",
            "Get-EXOMailbox -Identity {account}",
        ),
    ),
)
TooManyRequests = Problem(
    "TooManyRequests",
    "Microsoft throttled the requests",
    ("Too many requests from this app or tenant in a short time",),
    (
        Fix("Wait for the Retry-After interval and re-run the check"),
        Fix("Spread heavy jobs over time, or over several app registrations"),
    ),
    offer(Action.RETRY_LATER, seconds="{retry_after}"),
)
InvalidAuthenticationToken = Problem(
    "InvalidAuthenticationToken",
    "The service rejected the access token",
    ("The token was issued for another resource or national cloud", "The token expired"),
    (Fix("Check the connection's cloud; re-run the check to get a fresh token"),),
)

# ------------------------------------------------------------------ EWS

EWS_DISABLED = Problem(
    "EWS_DISABLED",
    "EWS is switched off for this tenant (HTTP 403)",
    (
        "Since 1 October 2026 Exchange Online disables EWS tenant by tenant unless the organisation enabled it and "
        "allow-listed the app",
        "This app's ID is not in EwsAllowedAppIDs",
        "Exchange Online ends EWS for good on 1 April 2027; plan the move to Microsoft Graph",
    ),
    (
        powershell("Enable EWS for the organisation", "Set-OrganizationConfig -EwsEnabled $true"),
        powershell("Allow this app", 'Set-OrganizationConfig -EwsAllowedAppIDs @{Add="{app_id}"}'),
        powershell(
            "Changes can take up to 24 hours to apply; check them",
            "Get-OrganizationConfig | Format-List EwsEnabled,EwsAllowedAppIDs",
        ),
    ),
)
EWS_NO_PERMISSION = Problem(
    "EWS_NO_PERMISSION",
    "EWS refused the token: it carries no full_access_as_app permission",
    ("The Office 365 Exchange Online permission full_access_as_app was not added or not consented",),
    (
        portal(
            "Add full_access_as_app, then grant admin consent",
            f"{APP_PAGE} > API permissions > Add a permission > APIs my organization uses > Office 365 Exchange Online "
            "> Application permissions > full_access_as_app",
        ),
    ),
)
ErrorNonExistentMailbox = Problem(
    "ErrorNonExistentMailbox",
    "{account} has no mailbox",
    ("The address has no mailbox (no licence, a contact, or mistyped)",),
    (powershell("Check the recipient", "Get-Recipient {account} | Format-List RecipientTypeDetails"),),
)
ErrorImpersonateUserDenied = Problem(
    "ErrorImpersonateUserDenied",
    "{account} may not impersonate mailboxes (ApplicationImpersonation is not assigned)",
    (
        "The account has no direct ApplicationImpersonation role assignment (Organization Management only holds the "
        "delegating one)",
        "A new assignment has not reached the server's RBAC cache yet",
    ),
    (
        powershell("Assign the role (the workbench can do it for you)", GRANT_COMMAND),
        powershell(
            "Check direct assignments",
            "Get-ManagementRoleAssignment -Role ApplicationImpersonation -RoleAssignee {account} -Delegating $false",
        ),
    ),
    offer(Action.GRANT_IMPERSONATION, account="{account}", server="{server}", command=GRANT_COMMAND),
)
IMPERSONATION_GRANT_DENIED = Problem(
    "IMPERSONATION_GRANT_DENIED",
    "Granting ApplicationImpersonation failed: {account} may not delegate the role",
    ("The admin is not in Organization Management and holds no delegating assignment for ApplicationImpersonation",),
    (
        powershell(
            "Have an Organization Management member run",
            'New-ManagementRoleAssignment -Name "Exchange Workbench-Impersonation-{alias}" '
            "-Role ApplicationImpersonation -User {account}",
        ),
        powershell(
            "Or add the admin to Organization Management",
            'Add-RoleGroupMember "Organization Management" -Member {account}',
        ),
    ),
)
ErrorMissingEmailAddress = Problem(
    "ErrorMissingEmailAddress",
    "The administrator {account} has no mailbox",
    ("The admin account is not mailbox-enabled; the workbench needs a mailbox-enabled admin",),
    (
        powershell("Mailbox-enable the account", "Enable-Mailbox -Identity {account}"),
        Fix("Or use another Organization Management member with a mailbox"),
    ),
)
AUTH_FAILED = Problem(
    "AUTH_FAILED",
    "The server rejected {account}'s credentials (HTTP 401)",
    (
        "Wrong or expired password",
        "The account is locked or disabled",
        "The UPN form is not accepted; some servers want DOMAIN\\user",
    ),
    (
        workbench("Enter the password again", Action.SET_SECRET),
        powershell("Check the account", "Get-ADUser {alias} -Properties LockedOut,Enabled,PasswordExpired"),
    ),
    offer(Action.SET_SECRET),
)
HTTP_UNEXPECTED = Problem(
    "HTTP_UNEXPECTED",
    "{url} answered HTTP {status} instead of asking for credentials",
    (
        "The application pool behind the virtual directory is stopped or failing (HTTP 500, 503)",
        "A reverse proxy or load balancer answers instead of Exchange",
        "The virtual directory was removed or moved (HTTP 404)",
    ),
    (
        powershell("Check the server's health", "Test-ServiceHealth {server}"),
        powershell("Restart the application pools", "Restart-WebAppPool MSExchangeServicesAppPool"),
    ),
)
EWS_NEGOTIATE_ONLY = Problem(
    "EWS_NEGOTIATE_ONLY",
    "EWS offers only Negotiate (Kerberos) authentication",
    ("Windows authentication on the EWS virtual directory is limited to Kerberos",),
    (
        powershell(
            "Allow NTLM on the EWS virtual directory",
            'Set-WebServicesVirtualDirectory -Identity "{server}\\EWS (Default Web Site)" -WindowsAuthentication $true',
        ),
        powershell("Then recycle IIS", "iisreset /noforce"),
    ),
)

# ------------------------------------------------------------------ remote PowerShell

PS_BASIC_AUTH_DISABLED = Problem(
    "PS_BASIC_AUTH_DISABLED",
    "The PowerShell virtual directory does not accept Basic authentication",
    (
        "Exchange's /PowerShell directory is Kerberos-only by default; connecting by IP address (or from outside the "
        "domain) needs Basic over HTTPS",
    ),
    (
        powershell(
            "Enable Basic authentication on the PowerShell virtual directory",
            'Set-PowerShellVirtualDirectory -Identity "{server}\\PowerShell (Default Web Site)" '
            "-BasicAuthentication $true",
        ),
        powershell("Then recycle the application pool", "Restart-WebAppPool MSExchangePowerShellAppPool"),
        Fix("Or connect by the server's FQDN from a domain-joined machine (Kerberos)"),
    ),
)
PS_WRONG_ENDPOINT = Problem(
    "PS_WRONG_ENDPOINT",
    "The server has no Microsoft.Exchange PowerShell endpoint at /PowerShell",
    ("The server is not an Exchange Mailbox server", "The PowerShell virtual directory is missing or broken"),
    (
        powershell(
            "Check the virtual directory", "Get-PowerShellVirtualDirectory | Format-List InternalUrl,ExternalUrl"
        ),
        powershell(
            "Recreate it if needed",
            'Remove-PowerShellVirtualDirectory "{server}\\PowerShell (Default Web Site)"; '
            "New-PowerShellVirtualDirectory -Name PowerShell -Server {server}",
        ),
    ),
)
# What the `kerberos` extra installs (python-gssapi, pykrb5), with MIT Kerberos's library and headers; pip is the
# workbench's own environment's.
INSTALL_KERBEROS_DEBIAN = "sudo apt-get install krb5-user libkrb5-dev && pip install 'pyspnego[kerberos]'"
INSTALL_KERBEROS_RHEL = "sudo dnf install krb5-workstation krb5-devel && pip install 'pyspnego[kerberos]'"
_EDIT = "(in the console: Manage, enter on the connection, Server connection; from the CLI: remove it and add it again)"
PS_NTLM_REFUSED = Problem(
    "PS_NTLM_REFUSED",
    "The PowerShell virtual directory does not accept NTLM",
    (
        "Exchange's /PowerShell directory takes Kerberos only by default: every IIS authentication method is off "
        "and Exchange's own module accepts Kerberos tickets",
        "NTLM works there only where an administrator turned Windows authentication on",
    ),
    (
        Fix("Use Kerberos authentication (the default for a server given by name)"),
        powershell(
            "Or turn Windows authentication on for the directory (it also allows NTLM)",
            'Set-PowerShellVirtualDirectory -Identity "{server}\\PowerShell (Default Web Site)" '
            "-WindowsAuthentication $true",
        ),
    ),
)
PS_KERBEROS_REFUSED = Problem(
    "PS_KERBEROS_REFUSED",
    "The server refused a valid Kerberos ticket for {spn}",
    (
        "The service principal name belongs to another account than the server's (a load-balanced name needs an "
        "alternate service account)",
        "A TLS-offloading proxy or load balancer sits in front of Exchange: Extended Protection refuses the channel "
        "binding",
        "The server's own Kerberos keys are out of date (the computer account's password changed)",
    ),
    (
        shell("See which account holds the SPN (on a domain-joined Windows machine)", "setspn -Q {spn_bare}"),
        powershell(
            "Check Extended Protection on the directory",
            'Get-PowerShellVirtualDirectory -Identity "{server}\\PowerShell (Default Web Site)" | '
            "Format-List ExtendedProtectionTokenChecking",
        ),
    ),
)
KERBEROS_NOT_INSTALLED = Problem(
    "KERBEROS_NOT_INSTALLED",
    "Kerberos support is not installed on this machine",
    (
        "Remote PowerShell uses Kerberos, which needs MIT Kerberos and the workbench's `kerberos` extra "
        "(python-gssapi and pykrb5)",
    ),
    (
        shell("Debian or Ubuntu (pip: the workbench's own environment)", INSTALL_KERBEROS_DEBIAN),
        shell("RHEL, Rocky or Fedora", INSTALL_KERBEROS_RHEL),
        Fix(
            "Or use Basic authentication over HTTPS, after enabling it on the PowerShell virtual directory "
            "(Set-PowerShellVirtualDirectory -BasicAuthentication $true)"
        ),
    ),
)
KERBEROS_KDC_NOT_FOUND = Problem(
    "KERBEROS_KDC_NOT_FOUND",
    "No domain controller (KDC) was found for {realm}",
    (
        "The DNS servers used have no _kerberos._tcp.{realm_lower} SRV record (they are not Active Directory's DNS)",
        "The realm is not the admin's UPN domain (an alternative UPN suffix): set the realm explicitly",
    ),
    (
        dns("Ask Active Directory's DNS for the record", "_kerberos._tcp.{realm_lower}. IN SRV"),
        Fix("Give the connection a domain controller's DNS server, or name the KDC (a domain controller) directly"),
    ),
)
KERBEROS_KDC_UNREACHABLE = Problem(
    "KERBEROS_KDC_UNREACHABLE",
    "The domain controller (KDC) for {realm} did not answer",
    (
        "TCP port {kdc_port} to the domain controller is blocked by a firewall",
        "The KDC named for the connection is not a domain controller of {realm}",
    ),
    (
        shell("Test the port from this machine", "nc -vz {kdc_host} {kdc_port}"),
        Fix(f"Name a reachable domain controller as the connection's KDC {_EDIT}"),
    ),
)
KERBEROS_PREAUTH_FAILED = Problem(
    "KERBEROS_PREAUTH_FAILED",
    "The domain controller refused {principal}'s password (pre-authentication failed)",
    ("The password is wrong or was changed", "The account is locked out after too many attempts"),
    (
        workbench("Enter the password again", Action.SET_SECRET),
        powershell("Check the account", "Get-ADUser {alias} -Properties LockedOut,Enabled,PasswordExpired"),
    ),
    offer(Action.SET_SECRET),
)
KERBEROS_UNKNOWN_PRINCIPAL = Problem(
    "KERBEROS_UNKNOWN_PRINCIPAL",
    "{realm} has no account {principal}",
    (
        "The admin's UPN suffix is an alternative suffix and its realm is another one: set the realm explicitly",
        "The account does not exist in that domain",
    ),
    (
        powershell("Find the account and its domain", "Get-ADUser -Filter \"UserPrincipalName -eq '{account}'\""),
        Fix(f"Set the connection's Kerberos realm to the account's Active Directory domain, in capitals {_EDIT}"),
    ),
)
KERBEROS_PASSWORD_EXPIRED = Problem(
    "KERBEROS_PASSWORD_EXPIRED",
    "{principal}'s password has expired",
    ("Active Directory requires a new password before any sign-in",),
    (
        Fix("Change the password (Ctrl+Alt+Del on a domain-joined machine, or ask the service desk)"),
        workbench("Then enter the new password", Action.SET_SECRET),
    ),
    offer(Action.SET_SECRET),
)
KERBEROS_ACCOUNT_DISABLED = Problem(
    "KERBEROS_ACCOUNT_DISABLED",
    "{principal} is disabled or locked out",
    ("The account was disabled", "Too many wrong passwords locked it out"),
    (
        powershell("Check the account", "Get-ADUser {alias} -Properties LockedOut,Enabled"),
        powershell("Unlock it", "Unlock-ADAccount {alias}"),
    ),
)
KERBEROS_CLOCK_SKEW = Problem(
    "KERBEROS_CLOCK_SKEW",
    "This machine's clock differs from the domain controller's by more than Kerberos allows",
    ("Kerberos refuses clocks more than 5 minutes apart", "This machine does not synchronise its time"),
    (
        shell("Compare and synchronise the clock (systemd)", "timedatectl status"),
        Fix("Point this machine's time service at a domain controller or the same NTP source"),
    ),
)
KERBEROS_NO_SPN = Problem(
    "KERBEROS_NO_SPN",
    "Kerberos has no service principal {spn}",
    (
        "The server was given by IP address or by an alias: Kerberos names the server's own FQDN (HTTP/<fqdn>)",
        "A load-balanced name needs an alternate service account that holds its SPN",
    ),
    (
        Fix(f"Give the server's own FQDN (its computer name in the domain) {_EDIT}"),
        Fix(f"Or use Basic authentication over HTTPS, enabled on the PowerShell virtual directory {_EDIT}"),
    ),
)
KERBEROS_FAILED = Problem(
    "KERBEROS_FAILED",
    "Kerberos could not get a ticket for {spn}",
    ("See the raw error: it is the Kerberos library's own text",),
    (Fix("Check the realm, the KDC and the admin's account; compare with kinit on a machine of the domain"),),
)
DIRECTORY_DENIED = Problem(
    "DIRECTORY_DENIED",
    "{account} cannot list the organisation's administrators",
    (
        "The account is not a member of Organization Management (or another role group with View-Only "
        "Organization Management)",
    ),
    (
        powershell(
            "Check the account's role groups", "Get-RoleGroup | Get-RoleGroupMember | Where-Object Name -eq '{alias}'"
        ),
        powershell("Or add it", "Add-RoleGroupMember 'Organization Management' -Member '{account}'"),
    ),
)
UPN_SUFFIX_NOT_ACCEPTED = Problem(
    "UPN_SUFFIX_NOT_ACCEPTED",
    "{domain} is not an accepted domain of the organisation",
    ("The admin's UPN suffix differs from the organisation's email domains",),
    (
        powershell(
            "Add the UPN suffix as an accepted domain, or use an admin whose UPN matches an email domain",
            "Get-AcceptedDomain",
        ),
    ),
)
EXCHANGE_UNSUPPORTED = Problem(
    "EXCHANGE_UNSUPPORTED",
    "Exchange {version} is not supported",
    ("Exchange Server 2013 and older are out of support",),
    (Fix("Upgrade to Exchange Server 2019 or Exchange Server Subscription Edition"),),
)

# ------------------------------------------------------------------ locating the server

IP_ADDRESS_SERVER = Problem(
    "IP_ADDRESS_SERVER",
    "The server is addressed by IP ({host})",
    (
        "Kerberos needs a server name; by IP, remote PowerShell must use Basic authentication",
        "Certificates rarely name an IP address",
    ),
    (
        powershell(
            "Enable Basic authentication on the PowerShell virtual directory",
            'Set-PowerShellVirtualDirectory -Identity "<server>\\PowerShell (Default Web Site)" '
            "-BasicAuthentication $true",
        ),
        Fix("Or use the server's FQDN"),
    ),
)
AUTODISCOVER_FAILED = Problem(
    "AUTODISCOVER_FAILED",
    "Autodiscover found no Exchange server for {domain}",
    (
        "No autodiscover DNS record (autodiscover.{domain} or _autodiscover._tcp.{domain})",
        "The autodiscover virtual directory answers errors",
        "The admin's mailbox domain is not served by this organisation",
    ),
    (
        dns(
            "Publish a DNS record",
            "autodiscover.{domain} A <server IP>  or  _autodiscover._tcp.{domain} SRV 0 0 443 <server>",
        ),
        powershell("Test it", "Test-OutlookWebServices -Identity {account}"),
        Fix("Or enter the server's FQDN manually in the connection"),
    ),
)
AUTODISCOVER_REDIRECT_NOT_ALLOWED = Problem(
    "AUTODISCOVER_REDIRECT_NOT_ALLOWED",
    "Autodiscover was sent to {target_host}, outside {domain}: not followed",
    (
        "{how}: a hosting provider, or another organisation's server, serves autodiscover for {domain}",
        "Nothing proves that answer ({risk}): the workbench sends {account}'s credentials to {target_host} only if "
        "you allow that host",
    ),
    (
        workbench(
            "If {target_host} is your provider's or your own server, allow it", Action.ALLOW_AUTODISCOVER_REDIRECT
        ),
        Fix("Or enter the server's FQDN in the connection (no autodiscover)"),
        dns(
            "Or publish autodiscover in {domain} itself",
            "autodiscover.{domain} A <server IP>  or  _autodiscover._tcp.{domain} SRV 0 0 443 <server>",
        ),
    ),
    offer(
        Action.ALLOW_AUTODISCOVER_REDIRECT,
        host="{target_host}",
        location="{location}",
        url="{soap_url}",
        how="{how}",
        risk="{risk}",
    ),
)
AUTODISCOVER_INTERNAL_ONLY = Problem(
    "AUTODISCOVER_INTERNAL_ONLY",
    "Autodiscover publishes only an internal EWS URL",
    ("The EWS virtual directory has no ExternalUrl; the workbench used InternalUrl {ews_url}",),
    (
        powershell(
            "Set the external URL if clients outside the network need it",
            'Set-WebServicesVirtualDirectory -Identity "{server}\\EWS (Default Web Site)" -ExternalUrl {ews_url}',
        ),
    ),
)

# ------------------------------------------------------------------ automatic registration

APP_BY_NAME = f"{ENTRA} > Identity > Applications > App registrations > All applications > {{display_name}}"
_FINISH = Fix("Run the registration again: it updates the same app ({unique_name}) and adds only what is missing")
_REMOVE = powershell(
    "Or remove what was created (the app, with its service principal and permissions)",
    "Connect-MgGraph -Environment {graph_environment} -Scopes Application.ReadWrite.All; "
    "Invoke-MgGraphRequest -Method DELETE -Uri '{graph_url}/v1.0/applications/{object_id}'",
)
REGISTRATION_DENIED = Problem(
    "Authorization_RequestDenied",
    "Graph refused to register the app: insufficient privileges",
    (
        "The signed-in admin lost Global Administrator or Privileged Role Administrator during the run",
        "Nobody consented to the sign-in client's delegated permissions (Application.ReadWrite.All, "
        "AppRoleAssignment.ReadWrite.All)",
        "The tenant allows only Application Administrators to register apps",
    ),
    (
        portal("Check the admin's roles", f"{ENTRA} > Identity > Users > {{admin}} > Assigned roles"),
        Fix("Sign in again with a Global Administrator"),
        _FINISH,
    ),
)
APP_CREATION_DENIED = Problem(
    "Authorization_RequestDenied",
    "Graph refused to create the app: {admin} may not register applications in this tenant",
    (
        "The tenant's user setting 'Users can register applications' is No: only Global Administrator, "
        "Application Administrator, Cloud Application Administrator and Application Developer may then create "
        "an app",
        "{admin} holds Privileged Role Administrator, which may grant the app's permissions but not create it",
    ),
    (
        portal(
            "Have {admin} also hold Application Administrator, Cloud Application Administrator or Application "
            "Developer (or sign in as a Global Administrator), then run the registration again",
            f"{ENTRA} > Identity > Roles & admins > Roles & admins > Application Developer > Add assignments",
        ),
        portal(
            "Or set 'Users can register applications' back to Yes",
            f"{ENTRA} > Identity > Users > User settings > Users can register applications > Yes",
        ),
        Fix("Or register the app manually and choose manual registration: Client ID, Tenant ID and a certificate"),
    ),
)
REGISTRATION_FAILED = Problem(
    "REGISTRATION_FAILED",
    "Graph did not accept a registration step",
    ("Graph answered with an error this step does not expect",),
    (_FINISH, _REMOVE, portal("Or inspect the app", APP_BY_NAME)),
)
REGISTRATION_NOT_PROPAGATED = Problem(
    "AADSTS700016",
    "The new app is not usable yet: Entra ID has not replicated it",
    (
        "An app, its service principal and its consent replicate within seconds to minutes, "
        "sometimes longer in large tenants",
    ),
    (
        Fix("Wait a few minutes, then re-run this check: registration is complete, only the sign-in is pending"),
        portal("The app exists under", APP_BY_NAME),
    ),
    offer(Action.RETRY_LATER, seconds="60"),
)

INTERNAL = Problem(
    "INTERNAL",
    "The check itself failed",
    ("A defect in the workbench",),
    (Fix("Please report it with the details shown (secrets are redacted)"),),
)


def replace_code(problem: Problem, code: str) -> Problem:
    """The same advice under the code the service actually returned (e.g. an AADSTS code we have no entry for)."""
    return replace(problem, code=code or problem.code)
