"""A labelled field of the wizard: the label and its hint (wrapped, never cut), the control, and a line under it
for the validator's message (or a warning). Compact controls, so that a step fits at 80×24.

`TEXT_FIELDS` is the table of the wizard's text fields, one line each: a step composes its `Field`s from it, and
`StepPane` writes what is typed into the draft attribute it names and shows the draft's value back.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Input, Label, RadioButton, Static

from workbench.model import Secret
from workbench.text import visible

from ..dialogs.common import SecretInput
from ..render.literal import literal
from ..widgets.inputs import LineInput
from ..widgets.paths import PathInput
from .draft import Step, WizardDraft

MAX_TYPED = 10_000  # an Input holds at most this much; a longer paste is cut and the validator says it is too long


class Field(Vertical):
    """First the label (bold) and a short hint (dim), wrapped when narrow. Then the control. Last, only while
    there is one: the validator's message or a warning."""

    DEFAULT_CSS = """
    Field { height: auto; margin-bottom: 1; }
    Field > .field-label { height: auto; width: 100%; }
    Field > .field-message { height: auto; display: none; }
    Field > .field-message.-error { color: $text-error; display: block; }
    Field > .field-message.-warning { color: $text-warning; display: block; }
    """

    def __init__(self, label: str, control: Widget, *, field: str, hint: str = "", id: str | None = None) -> None:
        super().__init__(id=id or f"field-{field}")
        self.field = field
        self.label = label
        self.control = control
        self.hint = hint

    def compose(self) -> ComposeResult:
        head = Text(self.label, style="bold")  # wraps: a hint cut at 80 columns would hide what it is for
        if self.hint:
            head.append(f"  {self.hint}", style="dim")
        yield Label(head, classes="field-label")
        yield self.control
        yield Static("", classes="field-message")

    def show(self, message: str | None, *, warning: str | None = None) -> None:
        """The validator's message (shown literally: it may quote what was typed), else a warning, else nothing."""
        line = self.query_one(".field-message", Static)
        line.set_class(message is not None, "-error")
        line.set_class(message is None and warning is not None, "-warning")
        if message is not None:
            line.update(Text("✘ ").append_text(literal(message)))
        elif warning is not None:
            line.update(Text("⚠ ").append_text(literal(warning)))


class Choice(RadioButton):
    """A radio button whose label wraps (Textual's is one line, cut with "…" at 80 columns)."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self.render().wrap(width)))


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


@dataclass(frozen=True, slots=True)
class TextField:
    """One text field of a step: its Input's `id`, its label, the draft attribute it edits (dotted:
    "m365.graph_url"), the placeholder and hint, its kind (a password's attribute holds a `Secret`, or None while
    nothing is typed; a path completes with the right arrow), the key of its message in the rules' errors (default:
    the id) and the id of its `Field` (default: "field-<key>")."""

    id: str
    label: str
    attribute: str
    placeholder: str = ""
    hint: str = ""
    kind: Literal["plain", "password", "path"] = "plain"
    key: str = ""
    box: str | None = None

    @property
    def field(self) -> str:
        return self.key or self.id

    def widget(self) -> Field:
        control = text_input(
            id=self.id, placeholder=self.placeholder, password=self.kind == "password", path=self.kind == "path"
        )
        return Field(self.label, control, field=self.field, hint=self.hint, id=self.box)

    def write(self, draft: WizardDraft, value: str) -> None:
        """What the admin typed, into the draft (a password: a Secret, or None when the field is empty)."""
        owner, _, name = self.attribute.rpartition(".")
        target = attrgetter(owner)(draft) if owner else draft
        setattr(target, name, (Secret(value) if value else None) if self.kind == "password" else value)

    def redraw(self, draft: WizardDraft, box: Input) -> None:
        """Show the draft's value (a password is never shown back: its field only empties once it is None)."""
        value = attrgetter(self.attribute)(draft)
        if self.kind != "password":
            set_value(box, value)
        elif value is None:
            set_value(box, "")


TEXT_FIELDS: dict[Step, tuple[TextField, ...]] = {
    Step.LOCATION: (
        TextField("authority_host", "Authority host", "m365.authority_host", "https://login.microsoftonline.com"),
        TextField("graph_url", "Graph URL", "m365.graph_url", "https://graph.microsoft.com"),
        TextField("m365_ews_url", "EWS URL", "m365.ews_url", "https://outlook.office365.com/EWS/Exchange.asmx"),
        TextField(
            "m365_ca_bundle",
            "CA bundle (optional)",
            "m365.ca_bundle",
            "/etc/ssl/internal-ca.pem",
            "extra CAs to trust (a TLS proxy)",
            kind="path",
        ),
    ),
    Step.REGISTRATION: (
        TextField(
            "reg-app-account",
            "Dedicated application account",
            "m365.app_account",
            "backup@contoso.com",
            "any user",
            key="app_account",
            box="reg-field-app-account",
        ),
        TextField(
            "reg-tenant-id",
            "Tenant ID (optional)",
            "m365.tenant_id",
            "learned from the sign-in",
            "a GUID",
            key="tenant_id",
            box="reg-field-tenant-id",
        ),
        TextField(
            "public-client-id",
            "Sign-in client (optional)",
            "public_client_id",
            "Microsoft Graph Command Line Tools",
            "your own public client, if the tenant blocks Microsoft's",
            key="public_client_id",
        ),
    ),
    Step.APPLICATION: (
        TextField("app_account", "Dedicated application account", "m365.app_account", "backup@contoso.com", "any user"),
        TextField("client_id", "Client ID", "m365.client_id", "Application (client) ID, a GUID"),
        TextField("tenant_id", "Tenant ID", "m365.tenant_id", "Directory (tenant) ID, a GUID"),
        TextField(
            "client_secret",
            "Client secret",
            "client_secret",
            "paste the secret's Value",
            "masked; kept in the vault",
            kind="password",
        ),
        TextField(
            "thumbprint",
            "Certificate thumbprint",
            "thumbprint",
            "SHA-1, 40 hexadecimal characters",
            "SHA-1, from Certificates & secrets",
        ),
    ),
    Step.SERVER: (
        TextField(
            "server",
            "Server",
            "onprem.server",
            "mail.contoso.com or 192.0.2.10, optionally :port",
            "FQDN or IP address",
        ),
        TextField(
            "ews_url",
            "EWS URL",
            "onprem.ews_url",
            "https://mail.contoso.com/EWS/Exchange.asmx",
            "follows the server; editable",
        ),
        TextField(
            "dns_servers",
            "DNS servers (optional)",
            "dns_text",
            "10.0.0.53, 10.0.0.54:53",
            "when this machine's DNS lacks the names",
            key="dns_server",
        ),
        TextField(
            "kerberos_realm",
            "Kerberos realm (optional)",
            "onprem.kerberos_realm",
            "the admin's UPN domain, in capitals",
            "Active Directory's domain",
        ),
        TextField(
            "kerberos_kdc",
            "KDC (optional)",
            "onprem.kerberos_kdc",
            "a domain controller; default: DNS SRV",
            "host[:port]",
        ),
        TextField(
            "ca_bundle",
            "CA bundle",
            "onprem.ca_bundle",
            "/etc/ssl/contoso-ca.pem",
            "right arrow completes the path",
            kind="path",
        ),
        TextField(
            "pin_sha256",
            "SHA-256 fingerprint",
            "onprem.pin_sha256",
            "64 hexadecimal characters",
            "compare it with the server's",
        ),
    ),
    Step.CREDENTIALS: (
        TextField("admin_upn", "Administrator's UPN", "onprem.admin_upn", "admin@contoso.com", "user@domain"),
        TextField(
            "password",
            "Password",
            "password",
            "the admin's password",
            "masked; Browse signs in with it",
            kind="password",
        ),
    ),
    Step.CONFIGURATION: (
        TextField(
            "name", "Name", "name", "the tenant's domain, or the admin's UPN", "proposed from what the checks learn"
        ),
    ),
}
_BY_ID = {(step, spec.id): spec for step, specs in TEXT_FIELDS.items() for spec in specs}


def text_field(step: Step, id: str) -> TextField | None:
    """The table's text field of `step` whose Input is `id` (None: not one of the table's)."""
    return _BY_ID.get((step, id))
