"""What the workbench does itself about a problem, from the troubleshooting panel, after the admin confirms a
dialog that names exactly what will happen (the dialog opens over the panel: no, or escape, is back on it):

* grant ApplicationImpersonation — the cmdlet, the admin it is granted to and the server; on yes the check runs
  again and the engine's confirmation is answered yes, once;
* follow autodiscover's redirect to a host outside the admin's domain — the host, where the redirect came from and
  the URL that will receive the admin's credentials; on yes the check runs again and the engine's question about
  exactly that host is answered yes, once (the permission lives in that re-run, nowhere else);
* trust this certificate — SHA-256, subject, issuer, names, validity; on yes the pin becomes a pending change of
  this connection and the verification starts again with it;
* set the secret — a masked input; the new value is tried first (Entra ID's token endpoint, or the check that
  refused the old one), and only one the server does not refuse is staged as a pending change;
* retry after the server's Retry-After — a countdown, then the check runs again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar

from workbench.checks.events import ConfirmationRequest
from workbench.checks.problems import Action, ActionSpec
from workbench.model import ClientSecretCredential, M365Settings, OnPremSettings, TlsTrust, TrustMode

from .console import Notifies
from .dialogs.common import ConfirmModal, PathModal, SecretModal
from .render.literal import literal, shown

if TYPE_CHECKING:
    from workbench.model import Connection

    from .console import Console
    from .state.live import LiveVerification


class FixHost(Notifies, Protocol):
    """What an action needs of what runs it (the verification panel, on the verification screen and in the
    wizard's Configuration step): its verification, its console, and where a changed setting goes."""

    @property
    def live(self) -> LiveVerification: ...

    @property
    def workbench(self) -> Console: ...

    def adopt(self, settings: M365Settings | OnPremSettings, what: str) -> None: ...

    def restart(self, connection: Connection, timeout: float | None = None) -> None: ...

    def action_rerun(self, check: str | None = None) -> None: ...


ACTION_LABELS = {
    Action.GRANT_IMPERSONATION: "grant ApplicationImpersonation…",
    Action.TRUST_CERTIFICATE: "trust this certificate…",
    Action.TRUST_CA_BUNDLE: "trust a CA bundle…",
    Action.SET_SECRET: "set the secret…",
    Action.RETRY_LATER: "retry after the wait…",
    Action.RAISE_TIMEOUT: "verify again with a longer timeout…",
    Action.ALLOW_AUTODISCOVER_REDIRECT: "follow the redirect to this host…",
}
SUPPORTED = frozenset(ACTION_LABELS)
MAX_WAIT = 600  # seconds: a Retry-After beyond this is shown, not waited for
LONGER = 3  # a raised timeout is this many times the console's own
MAX_TIMEOUT = 600.0


async def apply_fix(screen: FixHost, check: str, spec: ActionSpec) -> bool:
    """Do `spec` for `check` after the admin's answer: True when something was done (the check runs again), False
    when the admin said no or cancelled, or there was nothing to do (then the panel it came from stays)."""
    handler = {
        Action.GRANT_IMPERSONATION: grant_impersonation,
        Action.TRUST_CERTIFICATE: trust_certificate,
        Action.TRUST_CA_BUNDLE: trust_ca_bundle,
        Action.SET_SECRET: set_secret,
        Action.RETRY_LATER: retry_later,
        Action.RAISE_TIMEOUT: raise_timeout,
        Action.ALLOW_AUTODISCOVER_REDIRECT: allow_redirect,
    }[spec.kind]
    return await handler(screen, check, dict(spec.params))


def rerun_answering_once(screen: FixHost, check: str, asked: Callable[[ConfirmationRequest], bool]) -> bool:
    """Run `check` again, answering yes to the first confirmation the engine asks that `asked` accepts (what the
    admin has just said yes to) and no to any other: the permission lives in that re-run, once, nowhere else."""
    answered: list[ConfirmationRequest] = []

    async def confirm(request: ConfirmationRequest) -> bool:
        if answered or not asked(request):
            return False
        answered.append(request)
        return True

    if not screen.live.rerun(check, confirm):
        screen.notify("The verification is still running: try again when it has finished.", severity="warning")
        return False
    return True


async def grant_impersonation(screen: FixHost, check: str, params: dict[str, str]) -> bool:
    app = screen.workbench
    settings = screen.live.connection.settings
    admin = settings.admin_upn if isinstance(settings, OnPremSettings) else "?"
    account = params.get("account", admin)
    server = params.get("server", "the Exchange server")
    command = params.get("command", "New-ManagementRoleAssignment -Role ApplicationImpersonation")
    yes = await app.ask(
        ConfirmModal(
            "Grant ApplicationImpersonation",
            f"Run this cmdlet on {shown(server)} through remote PowerShell, signed in as {shown(admin)}? It lets "
            f"{shown(account)} act as any mailbox through EWS. Exchange keeps the assignment until an admin "
            "removes it.",
            [("Cmdlet", command), ("Granted to", account), ("Runs as", admin), ("Server", server)],
            yes="Grant",
            no="Do not grant",
        )
    )
    if not yes:
        screen.notify("Nothing was granted.", markup=False)
        return False
    # The admin said yes above, to this grant: the engine's question is answered once, and only that question.
    return rerun_answering_once(screen, check, lambda request: request.action is Action.GRANT_IMPERSONATION)


async def allow_redirect(screen: FixHost, check: str, params: dict[str, str]) -> bool:
    app = screen.workbench
    settings = screen.live.connection.settings
    host = params.get("host", "")
    if not isinstance(settings, OnPremSettings) or not host:
        screen.notify("There is no redirect to follow for this check.", severity="warning")
        return False
    admin = settings.admin_upn
    how = params.get("how") or f"http://autodiscover.{admin.rpartition('@')[2]} redirects to {host}"
    risk = params.get("risk") or "the redirect came over plain HTTP, unauthenticated"
    yes = await app.ask(
        ConfirmModal(
            "Follow autodiscover to another domain",
            f"{shown(how)}, outside your domain. Follow it and sign in there as {shown(admin)}? Nothing proves "
            f"that answer ({shown(risk)}): allow it only if you know the host (your hosting provider, your own "
            "server). This verification only; nothing is saved.",
            [
                ("Host", host),
                ("Sent there by", params.get("location", "")),
                ("Credentials to", params.get("url", f"https://{host}/autodiscover/autodiscover.svc")),
                ("Account", admin),
            ],
            yes="Follow",
            no="Do not follow",
        )
    )
    if not yes:
        screen.notify(f"Nothing was sent to {shown(host)}.", markup=False)
        return False
    # The admin said yes above, to this host: the engine's question about it is answered once, and nothing else.
    return rerun_answering_once(
        screen,
        check,
        lambda request: request.action is Action.ALLOW_AUTODISCOVER_REDIRECT and request.server == host,
    )


async def trust_certificate(screen: FixHost, check: str, params: dict[str, str]) -> bool:
    app = screen.workbench
    connection = screen.live.connection
    settings = connection.settings
    fingerprint = params.get("fingerprint", "")
    if not isinstance(settings, OnPremSettings) or not fingerprint:
        screen.notify("There is no certificate fingerprint to pin for this check.", severity="warning")
        return False
    row = screen.live.board[check]
    certificate: Any = row.result.outcome.facts.get("certificate") if row.result is not None else None
    details = [("SHA-256", fingerprint)]
    if certificate is not None:  # short facts first: the server's long texts (names, subject) come last
        details += [
            ("Issuer", str(certificate.issuer)),
            ("Self-signed", "yes" if certificate.self_signed else "no"),
            ("Valid", f"{certificate.not_before:%Y-%m-%d} to {certificate.not_after:%Y-%m-%d}"),
        ]
    details.append(("Host", params.get("host", settings.server or "")))
    if certificate is not None:
        details += [("Subject", str(certificate.subject)), ("Names", ", ".join(certificate.names) or "(none)")]
    yes = await app.ask(
        ConfirmModal(
            "Trust this certificate",
            f"Trust exactly this certificate for '{shown(connection.name)}' only, by its SHA-256 fingerprint? "
            "Compare the fingerprint with the one on the server (Get-ExchangeCertificate | fl Thumbprint,Subject "
            "shows SHA-1; certutil or openssl shows SHA-256). The pin is a pending change until OK in the manager.",
            details,
            yes="Trust",
            no="Do not trust",
        )
    )
    if not yes:
        return False
    pinned = dataclasses.replace(settings, tls=TlsTrust(mode=TrustMode.PINNED, pin_sha256=fingerprint))
    screen.adopt(pinned, "Pinned")
    return True


async def trust_ca_bundle(screen: FixHost, check: str, params: dict[str, str]) -> bool:
    """Trust the certificates of a PEM file for this connection only (the internal CA that issued the server's or
    the custom cloud's certificate); a pending change, verified before it is saved."""
    from workbench import validate

    app = screen.workbench
    connection = screen.live.connection
    settings = connection.settings
    path = await app.ask(
        PathModal(
            "Trust a CA bundle",
            f"A PEM file with the CA certificate(s) that issued the certificate of '{shown(connection.name)}'. "
            "Only this connection trusts it; the system's trust store is not changed.",
            validate.ca_bundle,
        )
    )
    if path is None:
        return False
    if isinstance(settings, OnPremSettings):
        new_settings: M365Settings | OnPremSettings = dataclasses.replace(
            settings, tls=TlsTrust(mode=TrustMode.CA_BUNDLE, ca_bundle=path)
        )
    else:
        new_settings = dataclasses.replace(settings, ca_bundle=path)
    screen.adopt(new_settings, "CA bundle set")
    return True


async def raise_timeout(screen: FixHost, check: str, params: dict[str, str]) -> bool:
    app = screen.workbench
    longer = min(app.timeout * LONGER, MAX_TIMEOUT)
    yes = await app.ask(
        ConfirmModal(
            "Verify again with a longer timeout",
            f"Verify '{shown(screen.live.connection.name)}' again, giving each network call {longer:g} s instead of "
            f"{app.timeout:g} s? Nothing is changed or saved.",
            yes="Verify again",
            no="Cancel",
        )
    )
    if not yes:
        return False
    screen.restart(screen.live.connection, timeout=longer)
    return True


async def set_secret(screen: FixHost, check: str, params: dict[str, str]) -> bool:
    app = screen.workbench
    connection = screen.live.connection
    settings = connection.settings
    m365 = isinstance(settings, M365Settings)
    what = "client secret" if isinstance(settings, M365Settings) else f"password of {shown(settings.admin_upn)}"
    lab = app.lab_values  # the demo: ctrl+l types the lab's value
    secret = await app.ask(
        SecretModal(
            f"Set the {what}",
            f"The new {what} for '{shown(connection.name)}'. It is tried with "
            + ("Entra ID" if m365 else "the server")
            + " first (one that is refused is not kept), and saved to the vault only on OK in Manage server "
            "connections.",
            placeholder="paste the Value, not the Secret ID" if m365 else "",
            lab=None if lab is None else lab.client_secret if m365 else lab.admin_password,
            verify=lambda candidate: app.try_secret(connection, candidate, check),
        )
    )
    if secret is None:
        return False
    ref = app.workspace.changes.stage_secret(secret)
    if isinstance(settings, M365Settings):
        new_settings: M365Settings | OnPremSettings = dataclasses.replace(
            settings, credential=ClientSecretCredential(secret_ref=ref)
        )
    else:
        new_settings = dataclasses.replace(settings, password_ref=ref)
    screen.adopt(new_settings, "Secret staged")
    return True


async def retry_later(screen: FixHost, check: str, params: dict[str, str]) -> bool:
    try:
        seconds = int(params.get("seconds", "5"))
    except ValueError:
        seconds = 5
    if seconds > MAX_WAIT:
        screen.workbench.tell("Retry later", f"The server asks to wait {seconds} s. Press r on the check after that.")
        return False
    done = await screen.workbench.ask(Countdown(max(seconds, 1), screen.live.board[check].title))
    if not done:
        return False
    screen.action_rerun(check)
    return True


class Countdown(ModalScreen[bool]):
    """Waits out the server's Retry-After, visibly; escape gives up."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "give_up", "Do not retry", id="countdown.cancel")]

    left: var[int] = var(0, init=False)  # seconds still to wait: the line and the bar follow it (`watch_left`)

    def __init__(self, seconds: int, title: str) -> None:
        super().__init__(classes="dialog-screen")
        self.seconds = seconds
        self.set_reactive(Countdown.left, seconds)
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Retry after the server's wait", classes="dialog-title")
            yield Label(literal(self._title), classes="dialog-question")
            yield Label(self._line(), id="countdown")
            yield ProgressBar(total=self.seconds, show_eta=False, show_percentage=False, id="countdown-bar")
            yield Label("escape: do not retry", classes="dialog-hint")

    def _line(self) -> str:
        return f"Retrying in {self.left} s (the server asked for {self.seconds} s)"

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.dismiss(True)

    def watch_left(self, left: int) -> None:
        self.query_one("#countdown-bar", ProgressBar).progress = self.seconds - left
        self.query_one("#countdown", Label).update(self._line())

    def action_give_up(self) -> None:
        self.dismiss(False)


__all__ = ["ACTION_LABELS", "SUPPORTED", "apply_fix"]
