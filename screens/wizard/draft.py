"""The wizard's one draft: everything typed so far, for both kinds of connection, so that Back, a change of mind
between Microsoft 365 and on-premises, or a change of cloud loses nothing.

The rules are the core's (`workbench.drafts`, `workbench.validate`): the draft only routes each message to the
step and field that shows it, adds the credential the core drafts take separately, and builds the connection
with its secrets staged in the workspace's changeset (never written before OK). Nothing here imports Textual.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from workbench import validate
from workbench.certificates import usable_for_connection
from workbench.checks.events import Status, Summary
from workbench.drafts import M365Draft, OnPremDraft, Stamp, default_m365_name, draft_for
from workbench.model import (
    CertificateCredential,
    CertificateInfo,
    ClientSecretCredential,
    Cloud,
    Connection,
    ConnectionKind,
    Credential,
    CustomEndpoints,
    Discovery,
    M365Settings,
    OnPremSettings,
    PowerShellAuth,
    Registration,
    Secret,
    TrustMode,
)
from workbench.registration import RegistrationRequest
from workbench.validate import FieldError


class Step(StrEnum):
    LOCATION = "location"
    REGISTRATION = "registration"
    SIGN_IN = "sign-in"
    PLAN = "plan"
    APPLICATION = "application"
    SERVER = "server"
    CREDENTIALS = "credentials"
    CONFIGURATION = "configuration"

    @property
    def heading(self) -> str:
        return STEP_TITLES[self]


STEP_TITLES = {
    Step.LOCATION: "Server location",
    Step.REGISTRATION: "App registration",
    Step.SIGN_IN: "Sign in",
    Step.PLAN: "Plan",
    Step.APPLICATION: "Application details",
    Step.SERVER: "Server connection",
    Step.CREDENTIALS: "Admin's credentials",
    Step.CONFIGURATION: "Configuration",
}

# Which step shows the message of each field the core reports (a field not listed shows on its kind's last step
# before Configuration, so that no message is ever lost).
STEP_FIELDS: dict[Step, frozenset[str]] = {
    Step.LOCATION: frozenset({"kind", "cloud", "authority_host", "graph_url", "m365_ews_url", "m365_ca_bundle"}),
    Step.REGISTRATION: frozenset({"registration", "public_client_id"}),
    Step.SIGN_IN: frozenset({"sign_in"}),
    Step.PLAN: frozenset({"plan"}),
    Step.APPLICATION: frozenset({"app_account", "client_id", "tenant_id", "thumbprint", "client_secret"}),
    Step.SERVER: frozenset(
        {
            "discovery",
            "server",
            "ews_url",
            "dns_server",
            "ca_bundle",
            "pin_sha256",
            "powershell_auth",
            "kerberos_realm",
            "kerberos_kdc",
        }
    ),
    Step.CREDENTIALS: frozenset({"admin_upn", "password"}),
    Step.CONFIGURATION: frozenset({"name"}),
}
_M365_RENAMED = {"ews_url": "m365_ews_url", "ca_bundle": "m365_ca_bundle"}  # same core names, another step


class Trust(StrEnum):
    """How an on-premises server's TLS certificate is trusted."""

    SYSTEM = "system"  # the system's trust store (a pin can be added from the Configuration step)
    CA_BUNDLE = "ca-bundle"
    PINNED = "pinned"


@dataclass(frozen=True, slots=True)
class Context:
    """What the rules need from outside the draft: the certificates the personal store (and this session) hold,
    the time, and the names other connections use."""

    now: datetime
    certificate: Callable[[str], CertificateInfo | None] = lambda thumbprint: None
    name_taken: Callable[[str], bool] = lambda name: False
    signed_in: bool = False  # automatic registration: an admin who may register has signed in
    planned: bool = False  # automatic registration: the plan was read from the tenant and is shown


STAND_IN_NAME = "New connection"  # what a connection is verified as while the name field is not valid
STAND_IN_ID = "00000000-0000-0000-0000-000000000000"  # what registration provides, while it has not run


_DNS_SPLIT = re.compile(r"[\s,;]+")


@dataclass(slots=True)
class WizardDraft:
    id: str
    kind: ConnectionKind = ConnectionKind.M365
    # A new Microsoft 365 connection is registered automatically unless the admin chooses manual.
    m365: M365Draft = field(default_factory=lambda: M365Draft(registration=Registration.AUTOMATIC.value))
    onprem: OnPremDraft = field(default_factory=OnPremDraft)
    # Microsoft 365 credential: a certificate from the personal store, or a client secret.
    use_certificate: bool = False
    thumbprint: str = ""
    client_secret: Secret | None = None  # typed in this wizard; None: nothing typed
    secret_ref: str | None = None  # the secret an edited connection keeps while nothing is typed
    # On-premises: how the certificate is trusted, the resolvers as typed, the admin's password.
    trust: Trust = Trust.SYSTEM
    dns_text: str = ""
    password: Secret | None = None
    password_ref: str | None = None
    ews_follows_server: bool = True  # the EWS URL is proposed from the server until the admin edits it
    ps_auth_chosen: bool = False  # the admin picked remote PowerShell's method in this wizard
    name: str = ""
    name_follows_default: bool = True  # the name is proposed until the admin edits it
    # Automatic registration: the sign-in client (empty: the default), and whether an edit registers again.
    public_client_id: str = ""
    reregister: bool = False
    learned_domain: str | None = None  # the tenant's default domain, once the checks have read it
    editing: Connection | None = None
    _staged: list[tuple[Secret, str]] = field(default_factory=list, repr=False)

    # ---------------------------------------------------------------- from a stored connection

    @classmethod
    def for_edit(cls, connection: Connection) -> WizardDraft:
        """The draft of a stored connection: every field as stored; secrets "unchanged" until replaced."""
        core = draft_for(connection)
        draft = cls(id=connection.id, kind=connection.kind, editing=connection, name=connection.name)
        draft.name_follows_default = False
        draft.ews_follows_server = False
        settings = connection.settings
        if isinstance(core, M365Draft) and isinstance(settings, M365Settings):
            draft.m365 = replace(core, name="")
            credential = settings.credential
            if settings.app_registration is not None:
                draft.public_client_id = settings.app_registration.sign_in_client_id or ""
            if isinstance(credential, CertificateCredential):
                draft.use_certificate, draft.thumbprint = True, credential.thumbprint
            else:
                draft.secret_ref = credential.secret_ref
        elif isinstance(core, OnPremDraft) and isinstance(settings, OnPremSettings):
            draft.onprem = replace(core, name="", dns_servers=[])
            draft.dns_text = ", ".join(settings.dns_servers)
            draft.password_ref = settings.password_ref
            draft.trust = {
                TrustMode.SYSTEM: Trust.SYSTEM,
                TrustMode.CA_BUNDLE: Trust.CA_BUNDLE,
                TrustMode.PINNED: Trust.PINNED,
            }[settings.tls.mode]
        return draft

    # ---------------------------------------------------------------- the path through the wizard

    def steps(self) -> tuple[Step, ...]:
        """The steps for the kind chosen. Automatic registration adds its own steps between Server location and
        Configuration here."""
        if self.kind is ConnectionKind.M365:
            if self.registering:
                return (Step.LOCATION, Step.REGISTRATION, Step.SIGN_IN, Step.PLAN, Step.CONFIGURATION)
            if self.automatic:  # an edit that keeps the registered app
                return (Step.LOCATION, Step.REGISTRATION, Step.CONFIGURATION)
            return (Step.LOCATION, Step.REGISTRATION, Step.APPLICATION, Step.CONFIGURATION)
        return (Step.LOCATION, Step.SERVER, Step.CREDENTIALS, Step.CONFIGURATION)

    @property
    def automatic(self) -> bool:
        return self.kind is ConnectionKind.M365 and self.m365.registration == Registration.AUTOMATIC.value

    @property
    def registering(self) -> bool:
        """Whether this wizard signs an admin in and registers the app: a new automatic connection, an edit that
        asks for it, or a manual connection turned automatic."""
        if not self.automatic:
            return False
        return not self.registered_automatically or self.reregister

    @property
    def registered_automatically(self) -> bool:
        """Whether the connection being edited was registered automatically (it has its app)."""
        stored = self.editing.settings if self.editing is not None else None
        return isinstance(stored, M365Settings) and stored.registration is Registration.AUTOMATIC

    def step_fields(self) -> dict[Step, frozenset[str]]:
        """Which step shows each field's message: registration asks for the account and tenant itself."""
        if not self.automatic:
            return STEP_FIELDS
        moved = frozenset({"app_account", "tenant_id"})
        return {
            **STEP_FIELDS,
            Step.REGISTRATION: STEP_FIELDS[Step.REGISTRATION] | moved,
            Step.APPLICATION: STEP_FIELDS[Step.APPLICATION] - moved,
        }

    def signature(self) -> tuple[object, ...]:
        """Everything entered, comparable (secrets only as whether one was typed): Cancel asks first when it
        differs from how the wizard opened."""
        return (
            self.kind,
            replace(self.m365),
            replace(self.onprem, dns_servers=[]),
            self.use_certificate,
            self.thumbprint,
            self.client_secret is not None,
            self.secret_ref,
            self.trust,
            self.dns_text,
            self.password is not None,
            self.password_ref,
            self.name,
            self.public_client_id,
            self.reregister,
        )

    # ---------------------------------------------------------------- what the core drafts see

    def effective_m365(self) -> M365Draft:
        """The Microsoft 365 draft as it applies to the cloud chosen (custom endpoints are kept, but only used
        with the custom cloud)."""
        custom = self.m365.cloud == Cloud.CUSTOM.value
        return replace(
            self.m365,
            name=self.name,
            authority_host=self.m365.authority_host if custom else "",
            graph_url=self.m365.graph_url if custom else "",
            ews_url=self.m365.ews_url if custom else "",
            ca_bundle=self.m365.ca_bundle if custom else "",
        )

    def _server_is_ip(self) -> bool:
        if self.onprem.discovery != Discovery.MANUAL.value:
            return False
        try:
            return validate.server_address(self.onprem.server).is_ip
        except FieldError:
            return False

    def powershell_auth(self) -> PowerShellAuth:
        """Remote PowerShell's method as the step shows it: what the admin picked here; else an edited connection's
        own while it fits the server; else Basic for an IP address (no Kerberos name) and Kerberos for a name."""
        kept = self.onprem.powershell_auth
        by_ip = self._server_is_ip()
        if kept in {a.value for a in PowerShellAuth} and (self.ps_auth_chosen or not by_ip):
            return PowerShellAuth(kept)
        return PowerShellAuth.BASIC if by_ip else PowerShellAuth.KERBEROS

    def dns_servers(self) -> list[str]:
        return [part for part in _DNS_SPLIT.split(self.dns_text.strip()) if part]

    def effective_onprem(self) -> OnPremDraft:
        manual = self.onprem.discovery == Discovery.MANUAL.value
        auth = self.powershell_auth()
        kerberos = auth is PowerShellAuth.KERBEROS
        return replace(
            self.onprem,
            name=self.name,
            server=self.onprem.server if manual else "",
            ews_url=self.onprem.ews_url if manual else "",
            powershell_auth=auth.value,
            kerberos_realm=self.onprem.kerberos_realm if kerberos else "",
            kerberos_kdc=self.onprem.kerberos_kdc if kerberos else "",
            ca_bundle=self.onprem.ca_bundle if self.trust is Trust.CA_BUNDLE else "",
            pin_sha256=self.onprem.pin_sha256 if self.trust is Trust.PINNED else "",
            dns_servers=self.dns_servers(),
        )

    def proposed_ews_url(self) -> str:
        """What the EWS URL field fills itself with as the server is typed (empty while the server is invalid)."""
        try:
            return validate.ews_url_for(validate.server_address(self.onprem.server))
        except FieldError:
            return ""

    def warnings(self) -> list[str]:
        return self.effective_onprem().warnings() if self.kind is ConnectionKind.ONPREM else []

    # ---------------------------------------------------------------- the rules, per step

    def errors(self, context: Context) -> dict[str, str]:
        """Every field's message (field -> message), for the kind chosen."""
        found: dict[str, str] = {}
        if self.kind is ConnectionKind.M365:
            core = self.effective_m365()
            if self.registering:  # the client id and the credential come from registration; the tenant may too
                core = replace(core, client_id=STAND_IN_ID, tenant_id=core.tenant_id.strip() or STAND_IN_ID)
            for error in core.errors():
                found.setdefault(_M365_RENAMED.get(error.field, error.field), error.message)
            message = None if self.registering else self._credential_error(context)
            if message:
                found.setdefault("thumbprint" if self.use_certificate else "client_secret", message)
            if self.registering:
                if self.public_client_id.strip():
                    try:
                        validate.client_id(self.public_client_id)
                    except FieldError as invalid:
                        found.setdefault("public_client_id", f"Sign-in client: {invalid.message}")
                if not context.signed_in:
                    found.setdefault("sign_in", "No admin has signed in yet")
                if not context.planned:
                    found.setdefault("plan", "Reading the plan from the tenant…")
        else:
            for error in self.effective_onprem().errors():
                found.setdefault(error.field, error.message)
            if self.trust is Trust.CA_BUNDLE and not self.onprem.ca_bundle.strip():
                found.setdefault(
                    "ca_bundle", "CA bundle is required: the PEM file of the CA that issued the server's certificate"
                )
            if self.trust is Trust.PINNED and not self.onprem.pin_sha256.strip():
                found.setdefault("pin_sha256", "SHA-256 fingerprint is required to pin the server's certificate")
            message = self._password_error()
            if message:
                found.setdefault("password", message)
        name_error = self._name_error(context)
        if name_error:
            found["name"] = name_error
        else:
            found.pop("name", None)
        return found

    def step_errors(self, step: Step, context: Context) -> dict[str, str]:
        """The messages the step shows. A field no step claims shows on the last step before Configuration."""
        found = self.errors(context)
        steps = self.steps()
        last_input = steps[-2]
        fields = self.step_fields()
        return {
            name: message
            for name, message in found.items()
            if name in fields[step] or (step is last_input and not any(name in fields[s] for s in steps))
        }

    def step_valid(self, step: Step, context: Context) -> bool:
        return not self.step_errors(step, context)

    def _credential_error(self, context: Context) -> str | None:
        if self.use_certificate:
            try:
                thumbprint = validate.thumbprint(self.thumbprint)
            except FieldError as error:
                return error.message
            return usable_for_connection(thumbprint, context.certificate(thumbprint), context.now)
        if self.client_secret is not None:
            try:
                validate.client_secret(self.client_secret.reveal())
            except FieldError as error:
                return error.message
            return None
        return None if self.secret_ref else "Client secret is required (the Value from Certificates & secrets)"

    def _password_error(self) -> str | None:
        if self.password is not None:
            try:
                validate.password(self.password.reveal())
            except FieldError as error:
                return error.message
            return None
        return None if self.password_ref else "Password is required"

    def _name_error(self, context: Context) -> str | None:
        name = self.name.strip() or self.default_name(context)
        if not name:
            return None  # nothing to name yet: the fields it comes from say what is missing
        try:
            value = validate.connection_name(name)
        except FieldError as error:
            return error.message
        if context.name_taken(value):
            return f"Another connection is already named '{validate.shown(value)}'; choose another name"
        return None

    # ---------------------------------------------------------------- the name

    def base_name(self) -> str:
        """The name the connection gets unless the admin types one: the tenant's default domain (once a check
        has read it; the application account's domain before that), or the admin's UPN."""
        if self.kind is ConnectionKind.M365:
            if self.learned_domain:
                return self.learned_domain
            return default_m365_name(self.m365.app_account.strip())
        return self.onprem.admin_upn.strip()

    def default_name(self, context: Context) -> str:
        """`base_name()`, made unique among the other connections ("contoso.com (2)")."""
        base = self.base_name()
        if not base or not context.name_taken(base):
            return base
        for number in range(2, 100):
            candidate = f"{base} ({number})"
            if not context.name_taken(candidate):
                return candidate
        return base

    def shown_name(self, context: Context) -> str:
        """The name field: what the admin typed, else the proposed name."""
        return self.name if not self.name_follows_default else self.default_name(context)

    def verification_name(self, context: Context) -> str:
        """The name a verification runs under: the name field's, or a stand-in while that is not valid."""
        try:
            return validate.connection_name(self.shown_name(context))
        except FieldError:
            return STAND_IN_NAME

    # ---------------------------------------------------------------- the admin proposed

    def propose_upn(self, user: str) -> None:
        """The local `user` at the server's domain as the admin's UPN, when nothing was typed yet in a new
        connection and the server names a domain (mail.contoso.com: contoso.com)."""
        if self.onprem.admin_upn.strip() or self.editing is not None or not user:
            return
        try:
            host = validate.server_address(self.onprem.server).host
        except FieldError:
            return
        if validate.is_ip_address(host) or host.count(".") < 2:
            return
        try:
            self.onprem.admin_upn = validate.admin_upn(f"{user}@{host.partition('.')[2]}")
        except FieldError:
            return

    # ---------------------------------------------------------------- automatic registration

    def registration_request(self) -> RegistrationRequest | None:
        """What the sign-in and the registration are for (None while a field they need is invalid)."""
        m = self.effective_m365()
        try:
            cloud = Cloud(m.cloud)
            custom = (
                CustomEndpoints(
                    authority_host=validate.base_url(m.authority_host, field="authority_host", label="Authority"),
                    graph_url=validate.base_url(m.graph_url, field="graph_url", label="Graph URL"),
                    ews_url=validate.https_url(m.ews_url, field="ews_url", label="EWS URL"),
                )
                if cloud is Cloud.CUSTOM
                else None
            )
            return RegistrationRequest(
                app_account=validate.app_account(m.app_account),
                name=self.name.strip(),
                cloud=cloud,
                custom_endpoints=custom,
                ca_bundle=validate.ca_bundle(m.ca_bundle) if m.ca_bundle.strip() else None,
                tenant_id=validate.tenant_id(m.tenant_id) if m.tenant_id.strip() else None,
                public_client_id=self.public_client_id.strip() or None,
                existing=self.editing,
                rotate_certificate=self.reregister,
            )
        except (FieldError, ValueError):
            return None

    def registration_key(self) -> tuple[object, ...]:
        """What a sign-in was for (cloud, endpoints, tenant, client, account): when it changes, the admin signs in
        again. The name is not part of it."""
        request = self.registration_request()
        if request is None:
            return ("invalid",)
        return (
            request.cloud,
            request.custom_endpoints,
            request.ca_bundle,
            request.tenant_id,
            request.public_client_id,
            request.app_account,
            self.reregister,
        )

    # ---------------------------------------------------------------- building

    def _stage(self, secret: Secret, stage: Callable[[Secret], str]) -> str:
        """The vault reference for a typed secret, staged once however often the connection is built."""
        for held, ref in self._staged:
            if held == secret:
                return ref
        ref = stage(secret)
        self._staged.append((secret, ref))
        return ref

    def build(self, context: Context, stage: Callable[[Secret], str], *, name: str | None = None) -> Connection:
        """The connection as the fields describe it; typed secrets are staged through `stage` (the changeset's
        `stage_secret`) and referenced, never embedded. `name` stands in for the name field (Browse, a
        verification while the name is not valid). Raises `workbench.drafts.DraftInvalid` when a field is
        wrong."""
        typed = (self.name if name is None else name).strip()
        stamp = Stamp(self.id, context.now)
        if self.kind is ConnectionKind.M365:
            credential: Credential
            if self.use_certificate:
                thumbprint = validate.thumbprint(self.thumbprint)
                info = context.certificate(thumbprint)
                credential = CertificateCredential(thumbprint=thumbprint, sha256=info.sha256 if info else None)
            elif self.client_secret is not None:
                credential = ClientSecretCredential(secret_ref=self._stage(self.client_secret, stage))
            else:
                credential = ClientSecretCredential(secret_ref=self.secret_ref)
            core = replace(self.effective_m365(), name=typed or self.default_name(context))
            return core.build(credential, stamp, self.editing)
        ref = self._stage(self.password, stage) if self.password is not None else self.password_ref
        onprem = replace(self.effective_onprem(), name=typed or self.default_name(context))
        return onprem.build(ref, stamp, self.editing)

    def unchanged(self, connection: Connection) -> bool:
        """Whether `connection` is the one being edited, as stored (its verification and time stamp aside):
        Finish then has nothing to save."""
        editing = self.editing
        return editing is not None and replace(connection, updated=editing.updated, last_verification=None) == replace(
            editing, last_verification=None
        )

    # ---------------------------------------------------------------- Finish

    def finish_state(
        self, context: Context, *, started: bool, running: bool, summary: Summary | None, failed: int
    ) -> tuple[bool, str]:
        """Whether Finish may save, and the status line that says why (not): the Configuration step's verification
        has `started`, is `running` or ended with `summary`, `failed` checks failed; the name must be valid."""
        if not started:
            return False, "Not verified yet."
        if running or summary is None:
            return False, "Verifying… Finish is enabled once no check has failed."
        if summary.status is Status.CANCELLED:
            return False, "Cancelled. R verifies again."
        if failed:
            return False, f"{failed} check(s) failed: enter on one shows why and how to fix it; r re-runs it."
        if self.step_errors(Step.CONFIGURATION, context).get("name"):
            return False, "Choose another name (see above)."
        warned = " (with warnings)" if summary.status is Status.WARNING else ""
        return True, f"Verified{warned}. Finish, then OK in the manager, saves it."

    # ---------------------------------------------------------------- what a fix changed

    def adopt(self, settings: M365Settings | OnPremSettings) -> None:
        """Take over what a troubleshooting action changed on the verified connection (a pinned certificate, a CA
        bundle, a new secret staged by the action): the fields show it when the admin goes back."""
        if isinstance(settings, M365Settings):
            credential = settings.credential
            if isinstance(credential, ClientSecretCredential):
                self.use_certificate, self.client_secret, self.secret_ref = False, None, credential.secret_ref
            self.m365.ca_bundle = settings.ca_bundle or self.m365.ca_bundle
            return
        self.password_ref = settings.password_ref
        if settings.password_ref is not None and not any(ref == settings.password_ref for _, ref in self._staged):
            self.password = None  # the action's secret replaces what was typed
        tls = settings.tls
        if tls.mode is TrustMode.PINNED:
            self.trust, self.onprem.pin_sha256 = Trust.PINNED, tls.pin_sha256 or ""
        elif tls.mode is TrustMode.CA_BUNDLE:
            self.trust, self.onprem.ca_bundle = Trust.CA_BUNDLE, tls.ca_bundle or ""
