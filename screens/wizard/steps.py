"""The wizard's steps: small widgets bound to the one draft.

Each step shows the draft's values (`refresh_from_draft`), writes what the admin types back into it and posts
`StepPane.Changed` (the wizard re-runs the core's rules and shows their messages), and knows how to fill itself
with the lab's values in the demo. Its buttons' presses bubble to the wizard, which acts on them. None of them
validates anything itself, and none calls the wizard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, RadioButton, RadioSet, Select, Static

from workbench.checks import problems
from workbench.model import Cloud, ConnectionKind, Discovery, PowerShellAuth, Secret
from workbench.text import visible

from ..dialogs.common import SecretInput
from ..render.literal import literal
from ..widgets.inputs import LineInput
from ..widgets.paths import PathInput
from .draft import Step, Trust, WizardDraft
from .fields import Choice, Field

if TYPE_CHECKING:
    from .fill import LabValues

CLOUDS = (
    ("Global (worldwide)", Cloud.GLOBAL.value),
    ("US Government GCC High", Cloud.USGOV_HIGH.value),
    ("US Government DoD", Cloud.USGOV_DOD.value),
    ("China (operated by 21Vianet)", Cloud.CHINA.value),
    ("Custom endpoints", Cloud.CUSTOM.value),
)
MAX_TYPED = 10_000  # an Input holds at most this much; a longer paste is cut and the validator says it is too long


def text_input(*, id: str, placeholder: str = "", password: bool = False, path: bool = False) -> Input:
    """A field of a step; `path`: a file path, completed with the right arrow."""
    kind = SecretInput if password else PathInput if path else LineInput
    return kind(id=id, placeholder=placeholder, password=password, compact=True, max_length=MAX_TYPED)


def set_value(box: Input, value: str) -> None:
    """Show a value without it counting as typed. A value from outside (an admin picked from a server's directory,
    a name the checks learned) may hold control characters, which an Input would send to the terminal as they
    are: they show as escapes (`\\x1b`), and the validator says what is wrong with the value."""
    value = visible(value)
    if box.value != value:
        with box.prevent(Input.Changed):
            box.value = value


def set_radio(radios: RadioSet, index: int) -> None:
    """Press a button without it counting as the admin's choice. The button's own Changed still reaches the set,
    which releases the button pressed before (preventing that too left two buttons pressed); the set's Changed,
    posted while handling it, is prevented with it."""
    buttons = list(radios.query(RadioButton))
    if 0 <= index < len(buttons) and not buttons[index].value:
        with radios.prevent(RadioSet.Changed), buttons[index].prevent(RadioSet.Changed):
            buttons[index].value = True


def lab_cloud(draft: WizardDraft, lab: LabValues) -> None:
    """The lab tenant's endpoints: a custom cloud, trusted through the lab's CA bundle."""
    draft.m365.cloud = Cloud.CUSTOM.value
    draft.m365.authority_host = lab.authority_host
    draft.m365.graph_url = lab.graph_url
    draft.m365.ews_url = lab.m365_ews_url
    draft.m365.ca_bundle = lab.ca_bundle


class StepPane(VerticalScroll):
    """One step. `INTRO` is the sentence at its top."""

    STEP: ClassVar[Step]
    INTRO: ClassVar[str] = ""
    DEFAULT_CSS = """
    StepPane { height: 1fr; padding: 0 1; }
    StepPane > .intro { color: $text-muted; margin-bottom: 1; height: auto; }
    StepPane Vertical { height: auto; }
    StepPane RadioSet { margin-bottom: 1; }
    StepPane .inline { height: auto; }
    StepPane .inline { margin-bottom: 1; }
    StepPane .inline > Button { margin-right: 1; }
    StepPane .button-hint { color: $text-muted; width: 1fr; }
    StepPane .warning { color: $text-warning; height: auto; margin-bottom: 1; }
    StepPane #ps-auth-box { height: auto; }
    StepPane #ps-auth-box RadioSet { margin-bottom: 0; }
    StepPane #ps-auth-line { height: auto; }
    """

    class Changed(Message):
        """The step wrote `field` to the draft (its message shows from now on); None: the kind or the kind of
        registration changed, and with it the steps that follow."""

        def __init__(self, field: str | None) -> None:
            super().__init__()
            self.field = field

    def __init__(self, draft: WizardDraft) -> None:
        super().__init__(id=f"step-{self.STEP.value}")
        self._draft = draft  # the wizard's one draft: composed with its values, written as the admin types

    @property
    def draft(self) -> WizardDraft:
        return self._draft

    def compose(self) -> ComposeResult:
        yield Static(self.INTRO, classes="intro")
        yield from self.fields()

    def fields(self) -> ComposeResult:
        raise NotImplementedError

    def refresh_from_draft(self) -> None:
        """Show the draft's values (on entering the step, and after a fill or a fix changed the draft)."""

    def fill(self, lab: LabValues) -> str:
        """Fill the step with the lab's values; returns what was filled, for the notification."""
        return "There is nothing to fill on this step."

    def first_focus(self) -> Widget | None:
        for widget in self.query("Input, RadioSet, Select"):
            if widget.display and widget.parent is not None and widget.parent.display:
                return widget
        return None

    def changed(self, field: str | None) -> None:
        self.post_message(self.Changed(field))


class LocationStep(StepPane):
    STEP = Step.LOCATION
    INTRO = "Where is the Exchange organisation?"

    def fields(self) -> ComposeResult:
        m365 = self.draft.kind is ConnectionKind.M365
        with RadioSet(id="kind", compact=True):
            yield Choice("Microsoft 365 (Exchange Online)", value=m365)
            yield Choice("On-premises Exchange Server", value=not m365)
        with Vertical(id="m365-location"):
            yield Field(
                "Cloud",
                Select(CLOUDS, id="cloud", allow_blank=False, value=self.draft.m365.cloud, compact=True),
                field="cloud",
                hint="where the tenant lives",
            )
            with Vertical(id="custom-endpoints"):
                yield Field(
                    "Authority host",
                    text_input(id="authority_host", placeholder="https://login.microsoftonline.com"),
                    field="authority_host",
                )
                yield Field(
                    "Graph URL",
                    text_input(id="graph_url", placeholder="https://graph.microsoft.com"),
                    field="graph_url",
                )
                yield Field(
                    "EWS URL",
                    text_input(id="m365_ews_url", placeholder="https://outlook.office365.com/EWS/Exchange.asmx"),
                    field="m365_ews_url",
                )
            yield Field(
                "CA bundle (optional)",
                text_input(id="m365_ca_bundle", placeholder="/etc/ssl/internal-ca.pem", path=True),
                field="m365_ca_bundle",
                hint="extra CAs to trust (a TLS proxy)",
            )

    def refresh_from_draft(self) -> None:
        draft = self.draft
        set_radio(self.query_one("#kind", RadioSet), 0 if draft.kind is ConnectionKind.M365 else 1)
        cloud = self.query_one("#cloud", Select)
        if cloud.value != draft.m365.cloud:
            with cloud.prevent(Select.Changed):
                cloud.value = draft.m365.cloud
        set_value(self.query_one("#authority_host", Input), draft.m365.authority_host)
        set_value(self.query_one("#graph_url", Input), draft.m365.graph_url)
        set_value(self.query_one("#m365_ews_url", Input), draft.m365.ews_url)
        set_value(self.query_one("#m365_ca_bundle", Input), draft.m365.ca_bundle)
        self._arrange()

    def _arrange(self) -> None:
        m365 = self.draft.kind is ConnectionKind.M365
        self.query_one("#m365-location").display = m365
        self.query_one("#custom-endpoints").display = m365 and self.draft.m365.cloud == Cloud.CUSTOM.value

    @on(RadioSet.Changed, "#kind")
    def _kind(self, event: RadioSet.Changed) -> None:
        self.draft.kind = ConnectionKind.M365 if event.index == 0 else ConnectionKind.ONPREM
        self._arrange()
        self.changed(None)

    @on(Select.Changed, "#cloud")
    def _cloud(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.draft.m365.cloud = event.value
        self._arrange()
        self.changed("cloud")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        name = event.input.id or ""
        attribute = {"m365_ews_url": "ews_url", "m365_ca_bundle": "ca_bundle"}.get(name, name)
        setattr(self.draft.m365, attribute, event.value)
        self.changed(name)

    def fill(self, lab: LabValues) -> str:
        draft = self.draft
        if draft.kind is not ConnectionKind.M365:
            return "On-premises needs nothing more here: alt+n, then ctrl+l on the next step."
        lab_cloud(draft, lab)
        return "Filled the lab tenant's endpoints (a custom cloud) and the lab's CA bundle."


def basic_auth_command() -> str:
    """The command that enables Basic on the PowerShell virtual directory (the troubleshooting catalogue's)."""
    command = problems.PS_BASIC_AUTH_DISABLED.fixes[0].command or ""
    return command.replace("{server}", "<server name>")


PS_AUTH = (PowerShellAuth.KERBEROS, PowerShellAuth.BASIC, PowerShellAuth.NTLM)
PS_AUTH_LABELS = {
    PowerShellAuth.KERBEROS: "Kerberos (recommended)",
    PowerShellAuth.BASIC: "Basic over HTTPS (IP addresses)",
    PowerShellAuth.NTLM: "NTLM (only where enabled)",
}


def ps_auth_line(method: PowerShellAuth) -> Text:
    """One line on what the chosen method needs (the Basic command as the troubleshooting catalogue has it)."""
    if method is PowerShellAuth.KERBEROS:
        return Text("Exchange's default. Needs the server's FQDN; the realm and KDC come from the UPN and DNS.")
    if method is PowerShellAuth.BASIC:
        return Text("Needs Basic on the directory: ").append(basic_auth_command(), style="bold")
    return Text("Only where Windows authentication is on for /PowerShell (off by default).")


class ServerStep(StepPane):
    STEP = Step.SERVER
    INTRO = "How to find the server, and how to trust its certificate."

    def fields(self) -> ComposeResult:
        manual = self.draft.onprem.discovery == Discovery.MANUAL.value
        with RadioSet(id="discovery", compact=True):
            yield Choice("Autodiscover Exchange Server (from the admin's UPN)", value=not manual)
            yield Choice("Configure the connection manually (FQDN or IP address)", value=manual)
        with Vertical(id="manual-box"):
            yield Field(
                "Server",
                text_input(id="server", placeholder="mail.contoso.com or 192.0.2.10, optionally :port"),
                field="server",
                hint="FQDN or IP address",
            )
            yield Static("", id="ip-warning", classes="warning")
            yield Field(
                "EWS URL",
                text_input(id="ews_url", placeholder="https://mail.contoso.com/EWS/Exchange.asmx"),
                field="ews_url",
                hint="follows the server; editable",
            )
        yield Field(
            "DNS servers (optional)",
            text_input(id="dns_servers", placeholder="10.0.0.53, 10.0.0.54:53"),
            field="dns_server",
            hint="when this machine's DNS lacks the names",
        )
        auth = self.draft.powershell_auth()
        yield Field(
            "Remote PowerShell",
            Vertical(
                RadioSet(
                    *(Choice(PS_AUTH_LABELS[method], value=method is auth) for method in PS_AUTH),
                    id="ps-auth",
                    compact=True,
                ),
                Static(ps_auth_line(auth), id="ps-auth-line", classes="button-hint"),
                id="ps-auth-box",
            ),
            field="powershell_auth",
            hint="how it signs in",
        )
        with Vertical(id="kerberos-box"):
            yield Field(
                "Kerberos realm (optional)",
                text_input(id="kerberos_realm", placeholder="the admin's UPN domain, in capitals"),
                field="kerberos_realm",
                hint="Active Directory's domain",
            )
            yield Field(
                "KDC (optional)",
                text_input(id="kerberos_kdc", placeholder="a domain controller; default: DNS SRV"),
                field="kerberos_kdc",
                hint="host[:port]",
            )
        trust = self.draft.trust
        with RadioSet(id="trust", compact=True):
            yield Choice("System trust store (a self-signed one can be pinned later)", value=trust is Trust.SYSTEM)
            yield Choice("CA bundle: a PEM file of the internal CA", value=trust is Trust.CA_BUNDLE)
            yield Choice("Pinned certificate (SHA-256 fingerprint)", value=trust is Trust.PINNED)
        with Vertical(id="ca-box"):
            yield Field(
                "CA bundle",
                text_input(id="ca_bundle", placeholder="/etc/ssl/contoso-ca.pem", path=True),
                field="ca_bundle",
                hint="right arrow completes the path",
            )
        with Vertical(id="pin-box"):
            yield Field(
                "SHA-256 fingerprint",
                text_input(id="pin_sha256", placeholder="64 hexadecimal characters"),
                field="pin_sha256",
                hint="compare it with the server's",
            )

    def refresh_from_draft(self) -> None:
        draft = self.draft
        manual = draft.onprem.discovery == Discovery.MANUAL.value
        set_radio(self.query_one("#discovery", RadioSet), 1 if manual else 0)
        set_value(self.query_one("#server", Input), draft.onprem.server)
        set_value(self.query_one("#ews_url", Input), draft.onprem.ews_url)
        set_value(self.query_one("#dns_servers", Input), draft.dns_text)
        set_value(self.query_one("#ca_bundle", Input), draft.onprem.ca_bundle)
        set_value(self.query_one("#pin_sha256", Input), draft.onprem.pin_sha256)
        set_value(self.query_one("#kerberos_realm", Input), draft.onprem.kerberos_realm)
        set_value(self.query_one("#kerberos_kdc", Input), draft.onprem.kerberos_kdc)
        set_radio(self.query_one("#trust", RadioSet), list(Trust).index(draft.trust))
        self._arrange()

    def _arrange(self) -> None:
        draft = self.draft
        self.query_one("#manual-box").display = draft.onprem.discovery == Discovery.MANUAL.value
        self.query_one("#ca-box").display = draft.trust is Trust.CA_BUNDLE
        self.query_one("#pin-box").display = draft.trust is Trust.PINNED
        auth = draft.powershell_auth()
        set_radio(self.query_one("#ps-auth", RadioSet), PS_AUTH.index(auth))  # an IP address turns it to Basic
        self.query_one("#kerberos-box").display = auth is PowerShellAuth.KERBEROS
        warning = self.query_one("#ip-warning", Static)
        warnings = draft.warnings()
        line = ps_auth_line(auth)
        if warnings and auth is PowerShellAuth.BASIC:  # the warning above already shows the command
            line = Text("Needs Basic on the PowerShell directory: the command is above.")
        self.query_one("#ps-auth-line", Static).update(line)
        warning.display = bool(warnings)
        if warnings:
            text = Text("⚠ ").append_text(literal(warnings[0]))
            text.append(". Enable it on the server with:\n  ")
            text.append(basic_auth_command(), style="bold")
            warning.update(text)

    @on(RadioSet.Changed, "#discovery")
    def _discovery(self, event: RadioSet.Changed) -> None:
        self.draft.onprem.discovery = (Discovery.AUTODISCOVER if event.index == 0 else Discovery.MANUAL).value
        self._arrange()
        self.changed("discovery")

    @on(RadioSet.Changed, "#ps-auth")
    def _ps_auth(self, event: RadioSet.Changed) -> None:
        picked = PS_AUTH[event.index]
        if picked is self.draft.powershell_auth():
            return  # the set announcing what it shows (on mount) is not the admin's choice
        self.draft.onprem.powershell_auth = picked.value
        self.draft.ps_auth_chosen = True
        self._arrange()
        self.changed("powershell_auth")

    @on(RadioSet.Changed, "#trust")
    def _trust(self, event: RadioSet.Changed) -> None:
        self.draft.trust = list(Trust)[event.index]
        self._arrange()
        self.changed("trust")

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        name = event.input.id or ""
        draft = self.draft
        if name == "dns_servers":
            draft.dns_text = event.value
            self.changed("dns_server")
            return
        if name == "ews_url":
            draft.ews_follows_server = not event.value.strip() or event.value == draft.proposed_ews_url()
        setattr(draft.onprem, name, event.value)
        if name == "server" and draft.ews_follows_server:
            draft.onprem.ews_url = draft.proposed_ews_url()
            set_value(self.query_one("#ews_url", Input), draft.onprem.ews_url)
        self._arrange()
        self.changed(name)

    def fill(self, lab: LabValues) -> str:
        draft = self.draft
        draft.dns_text = lab.dns
        draft.trust = Trust.CA_BUNDLE
        draft.onprem.ca_bundle = lab.ca_bundle
        if draft.onprem.discovery != Discovery.MANUAL.value:
            return "Filled the lab's DNS server (autodiscover finds the server through it) and its CA bundle."
        by_name = draft.onprem.server != lab.server_fqdn
        draft.onprem.server = lab.server_fqdn if by_name else lab.server_ip
        draft.onprem.ews_url = draft.proposed_ews_url()
        draft.ews_follows_server = True
        if by_name:
            return "Filled the lab server's FQDN, DNS server and CA bundle. ctrl+l again: its IP address instead."
        return "Filled the lab server's IP address (see the Basic warning). ctrl+l again: its FQDN."


class CredentialsStep(StepPane):
    STEP = Step.CREDENTIALS
    INTRO = "A mailbox-enabled admin allowed to impersonate (Organization Management is)."

    def fields(self) -> ComposeResult:
        yield Field(
            "Administrator's UPN",
            text_input(id="admin_upn", placeholder="admin@contoso.com"),
            field="admin_upn",
            hint="user@domain",
        )
        with Horizontal(classes="inline"):
            yield Button("Browse…", id="browse", compact=True)
            yield Static("pick from Organization Management", classes="button-hint")
        yield Field(
            "Password",
            text_input(id="password", placeholder="the admin's password", password=True),
            field="password",
            hint="masked; Browse signs in with it",
        )

    def refresh_from_draft(self) -> None:
        draft = self.draft
        set_value(self.query_one("#admin_upn", Input), draft.onprem.admin_upn)
        password = self.query_one("#password", Input)
        if draft.password is None:
            set_value(password, "")
        password.placeholder = (
            "unchanged (type to replace)" if draft.password_ref and draft.password is None else "the admin's password"
        )

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        name = event.input.id or ""
        if name == "password":
            self.draft.password = Secret(event.value) if event.value else None
        else:
            self.draft.onprem.admin_upn = event.value
        self.changed(name)

    def fill(self, lab: LabValues) -> str:
        self.draft.onprem.admin_upn = lab.admin_upn
        self.draft.password = lab.admin_password
        set_value(self.query_one("#password", Input), lab.admin_password.reveal())
        return "Filled the lab's administrator and password."
