"""The wizard's steps: small widgets bound to the one draft.

Each step shows the draft's values (`redraw`), writes what the admin types back into it and posts
`StepPane.Changed` (the wizard re-runs the core's rules and shows their messages), starts what it runs when it is
entered (`enter`), and knows how to fill itself with the lab's values in the demo. A step that runs a job of its
own (Browse on Admin's credentials, New code on Sign in, the verification on Configuration) does it there and says
what the wizard must show (`StepPane.Reveal`, `Changed`); the other buttons' presses (Copy code) bubble to the
wizard, which acts on them. None of them decides whether a value is valid, and none calls the wizard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, RadioButton, RadioSet, Select, Static

from workbench.checks import problems
from workbench.drafts import DraftInvalid
from workbench.model import Cloud, Connection, ConnectionKind, Discovery, PowerShellAuth, Secret

from ..render.literal import literal
from .draft import Context, Step, Trust, WizardDraft
from .fields import TEXT_FIELDS, Choice, Field, TextField, set_value, text_field

if TYPE_CHECKING:
    from .fill import LabValues

CLOUDS = (
    ("Global (worldwide)", Cloud.GLOBAL.value),
    ("US Government GCC High", Cloud.USGOV_HIGH.value),
    ("US Government DoD", Cloud.USGOV_DOD.value),
    ("China (operated by 21Vianet)", Cloud.CHINA.value),
    ("Custom endpoints", Cloud.CUSTOM.value),
)


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

    class Reveal(Message):
        """The messages of `fields` show from now on, typed in or not (what the step needs first is wrong)."""

        def __init__(self, fields: tuple[str, ...]) -> None:
            super().__init__()
            self.fields = fields

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

    def text_field(self, id: str) -> Field:
        """The `Field` of this step's text field `id`, as the table (`fields.TEXT_FIELDS`) describes it."""
        spec = text_field(self.STEP, id)
        assert spec is not None, id
        return spec.widget()

    def enter(self) -> None:
        """The step is shown (each time it is reached): the draft's values, and whatever the step starts."""
        self.redraw()

    def redraw(self) -> None:
        """Show the draft's values (on entering the step, and after a fill or a fix changed the draft)."""

    def redraw_text_fields(self) -> None:
        """Show the draft's values in this step's text fields."""
        for spec in TEXT_FIELDS.get(self.STEP, ()):
            spec.redraw(self.draft, self.query_one(f"#{spec.id}", Input))

    @on(Input.Changed)
    def _text_typed(self, event: Input.Changed) -> None:
        """What the admin typed in one of the table's fields, into the draft attribute the table names."""
        spec = text_field(self.STEP, event.input.id or "")
        if spec is not None:
            spec.write(self.draft, event.value)
            self.typed(spec, event.value)

    def typed(self, spec: TextField, value: str) -> None:
        """After `value` was typed in `spec`'s field (and written to the draft): its message shows from now on."""
        self.changed(spec.field)

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


def build_or_say(
    node: Widget, draft: WizardDraft, context: Context, stage: Callable[[Secret], str], *, name: str | None = None
) -> Connection | None:
    """The connection as `draft` describes it, or None while a field is wrong (`node` says why). `name` stands in
    for the name field (Browse; a verification while the name is not valid)."""
    try:
        return draft.build(context, stage, name=name)
    except DraftInvalid as invalid:
        node.notify(f"Not ready: {invalid}", severity="warning", markup=False)
        return None


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
                yield self.text_field("authority_host")
                yield self.text_field("graph_url")
                yield self.text_field("m365_ews_url")
            yield self.text_field("m365_ca_bundle")

    def redraw(self) -> None:
        draft = self.draft
        set_radio(self.query_one("#kind", RadioSet), 0 if draft.kind is ConnectionKind.M365 else 1)
        cloud = self.query_one("#cloud", Select)
        if cloud.value != draft.m365.cloud:
            with cloud.prevent(Select.Changed):
                cloud.value = draft.m365.cloud
        self.redraw_text_fields()
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
            yield self.text_field("server")
            yield Static("", id="ip-warning", classes="warning")
            yield self.text_field("ews_url")
        yield self.text_field("dns_servers")
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
            yield self.text_field("kerberos_realm")
            yield self.text_field("kerberos_kdc")
        trust = self.draft.trust
        with RadioSet(id="trust", compact=True):
            yield Choice("System trust store (a self-signed one can be pinned later)", value=trust is Trust.SYSTEM)
            yield Choice("CA bundle: a PEM file of the internal CA", value=trust is Trust.CA_BUNDLE)
            yield Choice("Pinned certificate (SHA-256 fingerprint)", value=trust is Trust.PINNED)
        with Vertical(id="ca-box"):
            yield self.text_field("ca_bundle")
        with Vertical(id="pin-box"):
            yield self.text_field("pin_sha256")

    def redraw(self) -> None:
        draft = self.draft
        manual = draft.onprem.discovery == Discovery.MANUAL.value
        set_radio(self.query_one("#discovery", RadioSet), 1 if manual else 0)
        self.redraw_text_fields()
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

    def typed(self, spec: TextField, value: str) -> None:
        """The EWS URL follows the server until the admin edits it; the server decides the warnings."""
        draft = self.draft
        if spec.id == "ews_url":
            draft.ews_follows_server = not value.strip() or value == draft.proposed_ews_url()
        elif spec.id == "server" and draft.ews_follows_server:
            draft.onprem.ews_url = draft.proposed_ews_url()
            set_value(self.query_one("#ews_url", Input), draft.onprem.ews_url)
        if spec.id != "dns_servers":
            self._arrange()
        super().typed(spec, value)

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
