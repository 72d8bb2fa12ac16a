"""Small centred dialogs: a confirmation that names exactly what will happen (the safe answer is the default), a
masked secret prompt, a message, and the keys of the screen below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import ClassVar, TypeVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static
from textual.worker import Worker, WorkerState

from workbench.model import Secret
from workbench.text import visible

from ..render.literal import literal, paragraph
from ..widgets.inputs import LineInput
from ..widgets.paths import PathInput

T = TypeVar("T")
Detail = tuple[str, str]  # label, value (from outside: shown literally)
DETAIL_LIMIT = 400  # characters of one value: a 10 KB certificate subject may not push the issuer out of sight


def details_table(details: Iterable[Detail]) -> Text:
    """One row per detail. A value is one escaped line (a line break in a certificate field shows as `\\n`, so no
    field can print a row of its own), cut past DETAIL_LIMIT characters; the widget wraps it."""
    text = Text()
    for index, (label, value) in enumerate(details):
        if index:
            text.append("\n")
        text.append(f"{label}: ", style="bold")
        text.append(visible(str(value), limit=DETAIL_LIMIT))
    return text


class AnsweredModal(ModalScreen[T]):
    """A dialog whose answer acts (pins a certificate, deletes, quits, stores a secret). On a terminal too small
    to show it whole, an answer would be given to a question the admin could not read (at 40×10 the trust dialog
    showed neither the fingerprint nor the buttons, yet `y` pinned): until everything in `ESSENTIAL` is on screen,
    `answerable()` refuses, and says why. The safe answer (escape: nothing happens) always works; when the
    terminal grows, the dialog can be answered again."""

    ESSENTIAL: ClassVar[str] = ".dialog-title, .dialog-question, .dialog-details, .dialog-buttons"

    def cut_off(self) -> list[Widget]:
        """The essential parts that the terminal does not show whole."""
        from textual.errors import NoWidget

        cut = []
        for widget in self.query(self.ESSENTIAL):
            if not widget.display:
                continue
            try:
                geometry = self.find_widget(widget)
            except NoWidget:
                cut.append(widget)
                continue
            if geometry.visible_region != geometry.region:
                cut.append(widget)
        return cut

    def answerable(self) -> bool:
        if not self.cut_off():
            return True
        width, height = self.app.size
        self.notify(
            f"The terminal ({width}×{height}) is too small to show this whole dialog, so it cannot be answered: "
            "make the terminal larger, or press escape to leave it unanswered.",
            title="Terminal too small",
            severity="warning",
            markup=False,
        )
        return False


class ConfirmModal(AnsweredModal[bool]):
    """Yes or no to one stated action. `n` and `escape` answer no, `y` answers yes; focus starts on No."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(
        self, title: str, question: str, details: Sequence[Detail] = (), *, yes: str = "Yes", no: str = "No"
    ) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._question, self._details = title, question, details
        self._yes, self._no = yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self._title), classes="dialog-title")
            yield Static(paragraph(self._question), classes="dialog-question")
            if self._details:
                with VerticalScroll(classes="dialog-details"):
                    yield Static(details_table(self._details))
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._yes} (y)", id="yes", variant="warning")
                yield Button(f"{self._no} (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        if answer and not self.answerable():
            return
        self.dismiss(answer)


class SecretInput(LineInput):
    """A masked input whose value never leaves by copy or cut (Textual's own would copy it through OSC 52)."""

    def action_copy(self) -> None:
        self.notify("A secret is not copied.", severity="warning")

    def action_cut(self) -> None:
        self.notify("A secret is not copied.", severity="warning")


class SecretModal(AnsweredModal[Secret | None]):
    """A masked input. The value leaves only as a `Secret`; nothing of it is logged or echoed. In the demo,
    `lab` is the lab's value and ctrl+l types it (still masked)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="secret.cancel"),
        Binding("ctrl+l", "fill", "Fill from lab", id="secret.fill", show=False),
    ]

    def __init__(
        self,
        title: str,
        prompt: str,
        details: Sequence[Detail] = (),
        *,
        placeholder: str = "",
        lab: Secret | None = None,
        verify: Callable[[Secret], Awaitable[str | None]] | None = None,
    ) -> None:
        """`verify` tries the value first: it answers why the value was refused (the dialog stays and says so),
        or None (the dialog closes with the value)."""
        super().__init__(classes="dialog-screen")
        self._title, self._prompt, self._details, self._placeholder = title, prompt, details, placeholder
        self._lab = lab
        self._verify = verify
        self.checking = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self._title), classes="dialog-title")
            yield Static(paragraph(self._prompt), classes="dialog-question")
            if self._details:
                yield Static(details_table(self._details), classes="dialog-details")
            yield SecretInput(password=True, placeholder=self._placeholder, id="secret", max_length=4096)
            yield Label("", id="secret-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
            if self._lab is not None:
                yield Label("ctrl+l: the lab's value", classes="dialog-hint")

    ESSENTIAL = f"{AnsweredModal.ESSENTIAL}, #secret"

    def on_mount(self) -> None:
        self.query_one("#secret", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self._lab is not None if action == "fill" else True

    def action_fill(self) -> None:
        if self._lab is not None:
            self.query_one("#secret", Input).value = self._lab.reveal()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        if not self.answerable():
            return
        value = self.query_one("#secret", Input).value
        if not value.strip():
            self.query_one("#secret-error", Label).update("Enter a value, or press escape to cancel.")
            return
        if self._verify is None:
            self.dismiss(Secret(value))
        elif not self.checking:
            self.checking = True
            self.query_one("#ok", Button).disabled = True
            self.query_one("#secret-error", Label).update(Text("Trying it…", style="dim"))
            self._try(Secret(value))

    @work(exclusive=True, group="secret-try", exit_on_error=False)
    async def _try(self, secret: Secret) -> None:
        assert self._verify is not None
        self._tried(secret, await self._verify(secret))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The trial itself broke: said, and nothing is kept. (Escaped meanwhile, the trial went with the dialog.)"""
        error = event.worker.error
        if event.state is WorkerState.ERROR and isinstance(error, Exception):
            self._tried(None, f"it could not be tried ({visible(str(error), limit=200)})")

    def _tried(self, secret: Secret | None, refusal: str | None) -> None:
        self.checking = False
        if self.app.screen is not self:  # something opened over it meanwhile: its answer waits for the admin
            return
        self.query_one("#ok", Button).disabled = False
        if refusal is None and secret is not None:
            self.dismiss(secret)
            return
        message = Text("✘ Not kept: ", style="bold red")
        message.append_text(literal(refusal or ""))
        message.append(". Enter it again, or escape.", style="dim")
        self.query_one("#secret-error", Label).update(message)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class PathModal(AnsweredModal[str | None]):
    """A file path, checked by the core's validator as it is typed; the validator's message says what is wrong."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="path.cancel"),
    ]

    def __init__(self, title: str, prompt: str, check: Callable[[str], str]) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._prompt, self._check = title, prompt, check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self._title), classes="dialog-title")
            yield Static(paragraph(self._prompt), classes="dialog-question")
            yield PathInput(placeholder="/path/to/internal-ca.pem (right arrow completes)", id="path", max_length=4096)
            yield Label("", id="path-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK (enter)", id="ok", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    ESSENTIAL = f"{AnsweredModal.ESSENTIAL}, #path"

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def _checked(self) -> str | None:
        from workbench.validate import FieldError

        value = self.query_one("#path", Input).value
        try:
            result = self._check(value)
        except FieldError as error:
            self.query_one("#path-error", Label).update(literal(error.message))
            return None
        self.query_one("#path-error", Label).update("")
        return result

    @on(Input.Changed, "#path")
    def _typed(self) -> None:
        if self.query_one("#path", Input).value:
            self._checked()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        if not self.answerable():
            return
        result = self._checked()
        if result is not None:
            self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class MessageModal(ModalScreen[None]):
    """Something the admin must read (a refused save, a storage error), closed with enter or escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", id="message.close"),
    ]

    def __init__(self, title: str, message: str, details: Sequence[Detail] = ()) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._message, self._details = title, message, details

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(literal(self._title), classes="dialog-title")
            with VerticalScroll(classes="dialog-details"):
                yield Static(paragraph(self._message))
                if self._details:
                    yield Static(details_table(self._details))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", variant="primary")

    @on(Button.Pressed)
    def action_close(self) -> None:
        self.dismiss(None)


class HelpModal(ModalScreen[None]):
    """The keys of the screen below, as its bindings describe them, and what the screen is for."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, title: str, about: str, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._about, self._keys = title, about, keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label(f"Help · {self._title}", classes="dialog-title")
            yield Static(self._about, classes="dialog-question", markup=False)
            # A grid whose descriptions wrap: a table wider than the dialog cut them at its edge at 80 columns.
            keys = Table.grid(padding=(0, 2))
            keys.add_column(no_wrap=True, style="bold")
            keys.add_column(ratio=1)
            for key, description in self._keys:
                keys.add_row(Text(key), Text(description))
            with VerticalScroll(id="help-keys"):
                yield Static(keys)
            yield Label("escape closes · ctrl+p finds any command", classes="dialog-hint")

    @on(Button.Pressed)
    def action_close(self) -> None:
        self.dismiss(None)
