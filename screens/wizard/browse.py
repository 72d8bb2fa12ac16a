"""Browse: pick the admin from the members of Organization Management, read through the engine's remote
PowerShell (`workbench.browse`), with the UPN suffix chosen from the organisation's accepted domains and a filter
box. A browse that fails says which check failed and why; typing the UPN by hand is never blocked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from workbench.browse import Admin, BrowseFailed, Directory

from ..render.literal import literal, paragraph
from ..widgets.inputs import LineInput

Loader = Callable[[], Awaitable[Directory]]


def upn_in(admin: Admin, domain: str) -> str:
    """The admin's UPN with the chosen suffix: the local part of its address (or its name), at the domain."""
    local = admin.address.partition("@")[0] if admin.address else admin.name.replace(" ", "")
    return f"{local}@{domain}" if domain else admin.address


def _next_step(code: str) -> str:
    """What to do about a failed browse, by its problem: only a refused sign-in is about the password."""
    if code in {"AUTH_FAILED", "PASSWORD_EXPIRED", "ACCOUNT_LOCKED"} or "PASSWORD" in code:
        return "Correct the password (or the UPN), then Try again; or cancel and type the UPN by hand."
    if code.startswith("TLS"):
        return (
            "The server's certificate is not trusted: choose its CA bundle on the Server connection step (Back), "
            "or cancel and type the UPN by hand (the Configuration step can pin the certificate)."
        )
    return "Check the server connection (Back), then Try again; or cancel and type the UPN by hand."


def domain_options(domains: list[str]) -> list[tuple[Text, str]]:
    """The UPN-suffix choices: accepted-domain names come from the server, so each prompt is a Text (a str prompt
    would be parsed as markup: `evil[b]x[/b]` drew bold)."""
    return [(literal(domain, 40), domain) for domain in domains]


class BrowseModal(ModalScreen[str | None]):
    DEFAULT_CSS = """
    BrowseModal #browse-dialog { height: 100%; }
    BrowseModal #browse-bar { height: auto; margin: 1 0; }
    BrowseModal #domain { width: 34; margin-right: 2; }
    BrowseModal #browse-filter { width: 1fr; }
    BrowseModal #admins { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="browse.cancel"),
    ]

    def __init__(self, loader: Loader, signed_in_as: str, domain: str) -> None:
        super().__init__(classes="dialog-screen")
        self._loader = loader
        self._as = signed_in_as
        self._domain = domain.lower()
        self.directory: Directory | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="browse-dialog"):
            yield Label("Select an administrator (Organization Management)", classes="dialog-title")
            yield Static(
                Text.assemble("Signing in as ", literal(self._as, 60), " to list the members…"), id="browse-status"
            )
            with Horizontal(id="browse-bar"):
                yield Select[str]([], id="domain", prompt="UPN suffix", compact=True, allow_blank=True)
                yield LineInput(placeholder="filter: name or address", id="browse-filter", compact=True, max_length=200)
            yield OptionList(id="admins")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Try again", id="retry", classes="hidden")
                yield Button("Cancel (esc): type the UPN by hand", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#admins", OptionList).loading = True
        self._load()

    @work(exclusive=True, group="browse", exit_on_error=False)
    async def _load(self) -> None:
        """The directory, listed; a `BrowseFailed` says which check failed and what to do. Anything else a
        network path throws ends the worker in error, shown by `on_worker_state_changed` (never raised)."""
        status = self.query_one("#browse-status", Static)
        admins = self.query_one("#admins", OptionList)
        try:
            directory = await self._loader()
        except BrowseFailed as failure:
            problem = failure.failure.outcome.problem
            text = Text("✘ Browse failed: ", style="bold red")
            text.append_text(paragraph(f"{failure.failure.title}: {failure.failure.outcome.detail}"))
            if problem is not None:
                text.append(f" ({problem.code}: ")
                text.append_text(paragraph(problem.title))
                text.append(")")
            text.append("\n" + _next_step(problem.code if problem else ""), style="dim")
            status.update(text)
            admins.loading = False
            self._failed()
            return
        self.directory = directory
        admins.loading = False
        domains = [domain for domain in directory.accepted_domains if domain.strip()]
        chosen = self._domain if self._domain in domains else (domains[0] if domains else "")
        self._domain = chosen
        await self._offer(domains, chosen)
        with_mailbox = sum(a.has_mailbox for a in directory.admins)
        status.update(
            Text(
                f"{len(directory.admins)} member(s), {with_mailbox} with a mailbox · enter picks · the UPN suffix "
                "comes from the accepted domain chosen",
                style="dim",
            )
        )
        self._list()
        admins.focus()

    async def _offer(self, domains: list[str], chosen: str) -> None:
        """The accepted domains as the only UPN-suffix choices: no blank entry once there is something to choose
        (a Select cannot drop its blank entry, so a new one takes the place of the empty one)."""
        old = self.query_one("#domain", Select)
        if not domains:
            old.disabled = True  # nothing to choose: the admins' own addresses are used
            return
        select = Select[str](
            domain_options(domains), id="domain", prompt="UPN suffix", compact=True, allow_blank=False, value=chosen
        )
        await old.remove()
        await self.query_one("#browse-bar").mount(select, before=0)

    def _list(self) -> None:
        if self.directory is None:
            return
        needle = self.query_one("#browse-filter", Input).value.strip().casefold()
        admins = self.query_one("#admins", OptionList)
        admins.clear_options()
        for index, admin in enumerate(self.directory.admins):
            upn = upn_in(admin, self._domain)
            if needle and needle not in f"{admin.display_name} {admin.address} {upn}".casefold():
                continue
            line = Text()
            line.append_text(literal(admin.display_name, 30, "bold"))
            line.append("  ")
            line.append_text(literal(upn, 50))
            if not admin.has_mailbox:
                line.append("  no mailbox: EWS needs a mailbox-enabled admin", style="yellow")
            admins.add_option(Option(line, id=str(index)))
        if admins.option_count:
            admins.highlighted = 0

    @on(Select.Changed, "#domain")
    def _domain_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._domain = event.value
            self._list()

    @on(Input.Changed, "#browse-filter")
    def _filtered(self) -> None:
        self._list()

    @on(Input.Submitted, "#browse-filter")
    def _filter_done(self) -> None:
        self.query_one("#admins", OptionList).focus()

    @on(OptionList.OptionSelected, "#admins")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if self.directory is None or event.option.id is None:
            return
        admin = self.directory.admins[int(event.option.id)]
        self.dismiss(upn_in(admin, self._domain))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR or event.worker.group != "browse" or event.worker.is_cancelled:
            return
        status = self.query_one("#browse-status", Static)
        status.update(Text("✘ Browse failed: ", style="bold red").append_text(paragraph(str(event.worker.error))))
        self.query_one("#admins", OptionList).loading = False
        self._failed()

    def _failed(self) -> None:
        self.query_one("#retry", Button).remove_class("hidden")
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#retry")
    def action_retry(self) -> None:
        self.query_one("#retry", Button).add_class("hidden")
        self.query_one("#browse-status", Static).update(
            Text.assemble("Signing in as ", literal(self._as, 60), " to list the members…")
        )
        self.query_one("#admins", OptionList).loading = True
        self._load()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
