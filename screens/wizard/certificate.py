"""Certificates from the wizard: import a PFX or PEM file (path with completion, masked password, then what the
file holds: subject, SHA-1 thumbprint, key size, validity), or choose one the personal store already holds.

An imported certificate is staged with the workspace's pending changes: it reaches the personal store (its key
the vault) only when a connection that uses it is saved with OK.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from workbench.certificates import CertificateError, LoadedCertificate, load_file, usable_for_connection
from workbench.model import CertificateInfo, Secret

from ..dialogs.common import AnsweredModal, SecretInput, details_table
from ..render.literal import literal, paragraph, shown
from ..widgets.paths import PathInput
from .fill import LabValues


def describe_certificate(info: CertificateInfo) -> list[tuple[str, str]]:
    return [
        ("Subject", info.subject),
        ("Thumbprint (SHA-1)", info.thumbprint),
        ("Key", f"RSA {info.key_size} bits"),
        ("Valid", f"{info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}"),
    ]


class ImportCertificateModal(AnsweredModal[LoadedCertificate | None]):
    """The file and its password, then what it holds. enter reads the file; OK takes a certificate that can be
    used; a key under 2048 bits, an expired certificate or a wrong password is refused with the reason."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="import.cancel"),
        Binding("ctrl+l", "fill", "Fill from lab", id="import.fill", show=False),
    ]

    def __init__(self, now: Callable[[], datetime], lab: LabValues | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self._now = now
        self._lab = lab
        self.loaded: LoadedCertificate | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="import-dialog"):
            yield Label("Import certificate", classes="dialog-title")
            yield Static(
                "A PFX (PKCS#12) file, or a PEM file with the certificate and its private key. It joins the personal "
                "certificate store when the connection is saved.",
                classes="dialog-question",
            )
            yield Label("File", classes="field-label")
            yield PathInput(
                placeholder="~/certs/backup-app.pfx (right arrow completes)", id="path", compact=True, max_length=4096
            )
            yield Label("Password (PFX, or an encrypted PEM key)", classes="field-label")
            yield SecretInput(password=True, id="pfx-password", compact=True, max_length=1024)
            yield Static("", id="import-result", classes="dialog-details")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Read (enter)", id="read")
                yield Button("OK", id="ok", variant="primary", disabled=True)
                yield Button("Cancel (esc)", id="cancel")
            if self._lab is not None:
                yield Label("ctrl+l: the lab's certificate and its password", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(Input.Changed)
    def _edited(self) -> None:
        self.loaded = None
        self.query_one("#ok", Button).disabled = True
        self.query_one("#import-result", Static).update("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#read")
    def _read(self) -> None:
        if self.loaded is not None:
            self._ok()
            return
        self._load()

    @work(exclusive=True, group="read")
    async def _load(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        result = self.query_one("#import-result", Static)
        if not path:
            result.update(Text("✘ Type the path of the certificate file.", style="bold red"))
            return
        typed = self.query_one("#pfx-password", Input).value
        password = Secret(typed) if typed else None
        try:
            loaded = await asyncio.to_thread(load_file, Path(path).expanduser(), password, self._now())
        except (CertificateError, ValueError, OSError) as error:
            result.update(Text("✘ ").append_text(paragraph(str(error))))
            return
        self.loaded = loaded
        text = Text("✔ This certificate can be used:\n", style="bold green")
        text.append_text(details_table(describe_certificate(loaded.info)))
        text.append("\nenter or OK takes it.", style="dim")
        result.update(text)
        self.query_one("#ok", Button).disabled = False

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        if self.loaded is not None and self.answerable():  # its subject and thumbprint in sight
            self.dismiss(self.loaded)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_fill(self) -> None:
        if self._lab is None:
            return
        self.query_one("#path", Input).value = self._lab.certificate_pfx
        self.query_one("#pfx-password", Input).value = self._lab.certificate_password.reveal()
        self._read()


class ChooseCertificateModal(ModalScreen[str | None]):
    """The certificates of the personal store (and any imported in this session); one that cannot be used says
    why and cannot be picked."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="choose.cancel"),
    ]

    def __init__(self, certificates: Sequence[CertificateInfo], now: datetime) -> None:
        super().__init__(classes="dialog-screen")
        self._certificates = list(certificates)
        self._now = now

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Choose certificate", classes="dialog-title")
            if not self._certificates:
                yield Static(
                    "The personal certificate store is empty. Import certificate… adds one (a PFX or PEM file with "
                    "its private key).",
                    classes="dialog-question",
                )
            options = []
            for info in self._certificates:
                reason = usable_for_connection(info.thumbprint, info, self._now)
                line = Text()
                line.append_text(literal(info.subject, 40, "bold"))
                line.append(f"  {info.thumbprint}\n  RSA {info.key_size} · until {info.not_after:%Y-%m-%d}")
                if reason:
                    line.append(f"\n  ✘ {shown(reason)}", style="red")
                options.append(Option(line, id=info.thumbprint, disabled=reason is not None))
            yield OptionList(*options, id="certificates")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#certificates", OptionList).focus()

    @on(OptionList.OptionSelected, "#certificates")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
