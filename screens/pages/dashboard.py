"""The dashboard: the connections with their last result, the credentials about to expire, recent results."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Static

from workbench.model import CertificateCredential, ClientSecretCredential, Connection, ConnectionKind, M365Settings

from ..chrome import WorkbenchScreen
from ..render.literal import shown, shown_apart
from ..render.status import checks_passed, mark, summary_mark
from ..widgets.tables import selected_key, set_column_width

LAST_WIDTH = 10
WATCH = 2.0  # seconds between looks at the store file
WARN_DAYS = (30, 14, 7)  # a certificate is flagged !, !! and !!! as it crosses these


def expiry_flag(days: int) -> tuple[str, str]:
    if days < 0:
        return "EXPIRED", "bold red"
    level = sum(days <= limit for limit in WARN_DAYS)
    return ("!" * level, ("yellow", "yellow", "bold red", "bold red")[level]) if level else ("", "green")


class DashboardScreen(WorkbenchScreen):
    TRAIL = "Dashboard"
    HELP_TEXT = (
        "The state of this data directory at a glance: every connection with the result of its last verification, "
        "the certificates that expire soon, and the latest verifications (also those run from the CLI). enter "
        "verifies the selected connection."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "app.new_connection", "New", id="dashboard.new", tooltip="A new connection (the wizard)"),
        Binding("m", "app.manage", "Manage", id="dashboard.manage", tooltip="Manage server connections"),
        Binding("v", "app.fleet", "Verify all", id="dashboard.verify-all", tooltip="Verify every connection"),
        Binding("enter", "verify_selected", "Verify", id="dashboard.verify", show=False),
        Binding("ctrl+p", "app.command_palette", "Commands", id="dashboard.palette"),
    ]

    def body(self) -> ComposeResult:
        with Grid(id="dashboard"):
            with Vertical(id="connections-card", classes="card"):
                yield Static(id="connections-counts")
                table: DataTable[Text] = DataTable(id="connections", cursor_type="row", show_header=False)
                yield table
            with Vertical(id="side"):
                yield Static(id="expiring", classes="card")
                yield Static(id="recent", classes="card")

    def on_mount(self) -> None:
        self.query_one("#connections-card").border_title = "Defined server connections"
        self.query_one("#expiring").border_title = "Credentials expiring"
        self.query_one("#recent").border_title = "Recent verifications"
        table = self.query_one("#connections", DataTable)
        table.add_column("status", key="status", width=1)
        table.add_column("name", key="name", width=self._name_width())
        table.add_column("last", key="last", width=LAST_WIDTH)
        self.redraw()
        self._seen = self._store_stamp()
        self.set_interval(WATCH, self._watch_store)

    def _store_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.workbench.workspace.home.store.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _watch_store(self) -> None:
        """What another process (the CLI, a colleague's session) saved shows up here within a few seconds."""
        stamp = self._store_stamp()
        if stamp != self._seen:
            self._seen = stamp
            if self.is_current:
                self.request_refresh()

    def _name_width(self) -> int:
        card = self.query_one("#connections-card")
        return max(12, (card.size.width or 46) - LAST_WIDTH - 10)

    def on_resize(self) -> None:
        set_column_width(self.query_one("#connections", DataTable), "name", self._name_width())
        self.request_refresh()

    def redraw(self) -> None:
        super().redraw()
        space = self.workbench.workspace
        space.refresh()
        connections = space.connections()
        now = space.now()
        kinds = Counter(c.kind for c in connections)
        counts = Text()
        counts.append(f" Microsoft 365 {kinds[ConnectionKind.M365]}", style="bold")
        counts.append(f"   on-premises {kinds[ConnectionKind.ONPREM]}", style="bold")
        if not connections:
            counts.append("\n\n No connections yet. Add them from a shell:")
            counts.append("\n   workbench connections add …", style="bold")
            counts.append("\n   workbench connections import FILE", style="bold")
        self.query_one("#connections-counts", Static).update(counts)

        table = self.query_one("#connections", DataTable)
        cursor = table.cursor_row
        table.clear()
        names = shown_apart([c.name for c in connections], self._name_width())
        for connection, name in zip(connections, names, strict=True):
            glyph, when = summary_mark(connection.last_verification, now)
            table.add_row(glyph, Text(name, no_wrap=True), Text(when, style="dim"), key=connection.id)
        table.display = bool(connections)
        if connections:
            table.move_cursor(row=min(cursor, len(connections) - 1))

        self.query_one("#expiring", Static).update(self._expiring(connections, now))
        self.query_one("#recent", Static).update(self._recent(connections, now))

    def _expiring(self, connections: list[Connection], now: datetime) -> Text:
        space = self.workbench.workspace
        users: dict[str, list[str]] = {}
        secrets = 0
        for c in connections:
            settings = c.settings
            if isinstance(settings, M365Settings):
                if isinstance(settings.credential, CertificateCredential):
                    users.setdefault(settings.credential.thumbprint, []).append(c.name)
                elif isinstance(settings.credential, ClientSecretCredential) and settings.credential.secret_ref:
                    secrets += 1
        text = Text(no_wrap=True, overflow="ellipsis")
        width = self._inner_width("#expiring")
        certificates = sorted(space.certificates(), key=lambda c: c.not_after)
        for info in certificates:
            days = info.days_left(now)
            flag, style = expiry_flag(days)
            who = users.get(info.thumbprint, [])
            label = shown(who[0] if who else info.subject, width - 12)
            text.append(f" {label:<{width - 11}}", style="bold" if who else "")
            text.append(f"{days:>4} d " if days >= 0 else "       ")
            text.append(f"{flag}\n", style=style)
            if len(who) > 1:  # the others that use the same certificate, said in words
                more = len(who) - 1
                text.append(f"   and {more} more connection{'s' if more != 1 else ''}\n", style="dim")
        missing = sorted(set(users) - {c.thumbprint for c in certificates})
        for thumbprint in missing:
            text.append(f" {shown(users[thumbprint][0], width - 12):<{width - 11}}", style="bold")
            text.append("key missing\n", style="bold red")
        if secrets:
            text.append(f" {secrets} secret{'s' if secrets != 1 else ''}: see Entra ID\n", style="dim")
        if not text:
            text.append(" Nothing to watch yet.", style="dim")
        text.rstrip()
        return text

    def _inner_width(self, selector: str) -> int:
        return max(24, self.query_one(selector).content_size.width or 28)

    def _recent(self, connections: list[Connection], now: datetime) -> Text:
        done = sorted(
            ((c, c.last_verification) for c in connections if c.last_verification is not None),
            key=lambda pair: pair[1].at,
            reverse=True,
        )
        text = Text(no_wrap=True, overflow="ellipsis")
        name_width = self._inner_width("#recent") - 16
        names = shown_apart([c.name for c, _ in done[:20]], name_width)
        for (_, summary), name in zip(done[:20], names, strict=True):
            local = self.workbench.workspace.local(summary.at)
            text.append(f" {local:%H:%M} " if (now - summary.at).days < 1 else f" {local:%d %b} ", style="dim")
            text.append(f"{name:<{name_width + 1}}")
            text.append_text(mark(summary.status.value))
            text.append(f" {checks_passed(summary)}\n")
        if not text:
            text.append(" Nothing verified yet: v verifies every connection.", style="dim")
        text.rstrip()
        return text

    @on(DataTable.RowSelected, "#connections")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_verify_selected()

    def action_verify_selected(self) -> None:
        from .verification import VerificationScreen

        key = selected_key(self.query_one("#connections", DataTable))
        if key is None:
            return
        connection = self.workbench.workspace.connection(key)
        self.app.push_screen(VerificationScreen.start(self.workbench, connection))
