"""What frames every screen: the masthead (where you are, which data directory, how its secrets are kept, the
pending changes) and the base screen class that gives each screen its help text and keys."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from .console import Console, console
from .render.literal import shown
from .widgets.footer import KeyFooter


class Masthead(Vertical):
    """Line 1: the product and its context (data directory · secrets · lab). Line 2: the breadcrumb, and the
    pending changes on the right."""

    DEFAULT_CSS = """
    Masthead { height: 2; }
    Masthead > Static { height: 1; width: 100%; }
    """

    def __init__(self, trail: str) -> None:
        super().__init__(id="masthead")
        self.trail = trail

    def compose(self) -> ComposeResult:
        yield Static(id="masthead-context")
        yield Static(id="masthead-trail")

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        app = console(self)
        space = app.workspace
        context = Text(no_wrap=True, overflow="ellipsis")
        context.append(" Exchange Connection Workbench", style="bold")
        if space.lab:
            context.append(" LAB ", style="bold reverse")
        where = f"  {{}} · secrets: {space.vault_mode}"
        room = max(8, (self.size.width or 80) - len(context) - len(where) + 2)
        path = shown(space.home.path if app.home_label is None else app.home_label)
        if len(path) > room:
            path = "…" + path[-(room - 1) :]
        context.append(where.format(path), style="dim")
        pending = len(space.pending_changes())
        note = f" {pending} pending change{'s' if pending != 1 else ''} " if pending else ""
        width = self.size.width or 80
        trail = Text(no_wrap=True, overflow="ellipsis")
        trail.append(" " + shown(self.trail, max(8, width - len(note) - 2)))
        if note:  # the pending count always shows: the breadcrumb gives way
            trail.append(" " * max(1, width - len(trail) - len(note)))
            trail.append(note, style="bold reverse")
        contexts, trails = self.query("#masthead-context"), self.query("#masthead-trail")
        if not contexts or not trails:  # the screen is being torn down (a refresh queued before it closed)
            return
        contexts.first(Static).update(context)
        trails.first(Static).update(trail)

    def on_resize(self) -> None:
        self.redraw()


class WorkbenchScreen(Screen[None]):
    """A full page of the console. Subclasses set `TRAIL` (breadcrumb) and `HELP_TEXT`, compose `body()`, and
    implement `redraw()` (called when the workspace changed)."""

    TRAIL: ClassVar[str] = ""
    HELP_TEXT: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = []

    @property
    def workbench(self) -> Console:
        return console(self)

    @on(events.Mount)
    def _subscribe(self) -> None:
        """Every page redraws when the workspace changes (`WorkbenchApp.changed`), for as long as it is mounted."""
        self.workbench.workspace_changed.subscribe(self, self._workspace_changed)

    def _workspace_changed(self, _: None) -> None:
        self.request_refresh()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker of this page failed: reported in the console's one place for that."""
        self.workbench.worker_failed(event)

    def compose(self) -> ComposeResult:
        yield Masthead(self.trail())
        yield from self.body()
        yield KeyFooter()

    def trail(self) -> str:
        return self.TRAIL

    def body(self) -> ComposeResult:
        raise NotImplementedError

    @classmethod
    def help_bindings(cls) -> list[BindingType]:
        """The keys the help lists: the page's own (a page that composes a widget with keys adds the widget's)."""
        return list(cls.BINDINGS)

    def redraw(self) -> None:
        """Redraw from the workspace (connections, pending changes, results)."""
        for head in self.query(Masthead):
            head.redraw()

    def request_refresh(self) -> None:
        """Redraw once after the current burst of changes (a resize, a resume and a save in the same frame cost
        one redraw, not three)."""
        if not getattr(self, "_refresh_requested", False):
            self._refresh_requested = True
            self.call_after_refresh(self._refresh_now)

    def _refresh_now(self) -> None:
        self._refresh_requested = False
        # A redraw queued just before the screen was dismissed runs while its widgets are being removed: a screen
        # no longer on the stack has nothing to redraw.
        if self.is_attached and self in self.app.screen_stack:
            self.redraw()

    def on_screen_resume(self) -> None:
        self.request_refresh()
