"""The wizard's Admin's credentials step (on-premises): the admin's UPN and password, and Browse, which signs in
as that admin and picks another from Organization Management (`browse.BrowseModal`).

The step runs Browse itself: while the UPN or the password is wrong it asks the wizard to show their messages
(`StepPane.Reveal`); a pick is written into the draft and announced as the admin's typing is (`StepPane.Changed`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Static

from ..render.literal import shown
from .draft import Context, Step, WizardDraft
from .fields import set_value
from .steps import StepPane, build_or_say

if TYPE_CHECKING:
    from ..console import Console
    from .fill import LabValues


class CredentialsStep(StepPane):
    STEP = Step.CREDENTIALS
    INTRO = "A mailbox-enabled admin allowed to impersonate (Organization Management is)."

    def __init__(self, draft: WizardDraft, workbench: Console, context: Callable[[], Context]) -> None:
        super().__init__(draft)
        self.workbench = workbench
        self.context = context  # what the rules need from outside the draft, as the wizard knows it now

    def fields(self) -> ComposeResult:
        yield self.text_field("admin_upn")
        with Horizontal(classes="inline"):
            yield Button("Browse…", id="browse", compact=True)
            yield Static("pick from Organization Management", classes="button-hint")
        yield self.text_field("password")

    def enter(self) -> None:
        self.draft.propose_upn(self.workbench.local_user)  # the admin's name proposed from the local one
        super().enter()

    def redraw(self) -> None:
        draft = self.draft
        self.redraw_text_fields()
        password = self.query_one("#password", Input)
        password.placeholder = (
            "unchanged (type to replace)" if draft.password_ref and draft.password is None else "the admin's password"
        )

    def fill(self, lab: LabValues) -> str:
        self.draft.onprem.admin_upn = lab.admin_upn
        self.draft.password = lab.admin_password
        set_value(self.query_one("#password", Input), lab.admin_password.reveal())
        return "Filled the lab's administrator and password."

    # ------------------------------------------------------------------ Browse

    @on(Button.Pressed, "#browse")
    def browse(self, event: Button.Pressed) -> None:
        """Sign in as the admin typed and list Organization Management, to pick the admin from."""
        from .browse import BrowseModal

        event.stop()
        draft = self.draft
        context = self.context()
        errors = draft.step_errors(Step.CREDENTIALS, context)
        if errors:
            self.post_message(self.Reveal(tuple(errors)))
            self.notify(
                "Browse signs in as the admin above: enter a valid UPN and its password first.", severity="warning"
            )
            return
        connection = build_or_say(self, draft, context, self.workbench.workspace.changes.stage_secret, name="browse")
        if connection is None:
            return
        domain = draft.onprem.admin_upn.rpartition("@")[2]
        self.app.push_screen(
            BrowseModal(lambda: self.workbench.browse(connection), draft.onprem.admin_upn, domain), self._browsed
        )

    def _browsed(self, upn: str | None) -> None:
        if upn is None:
            return
        draft = self.draft
        before = draft.onprem.admin_upn.strip()
        draft.onprem.admin_upn = upn
        if upn.casefold() != before.casefold() and draft.password is not None:
            # The password typed was the one Browse signed in with: it belongs to the other admin.
            draft.password = None
            self.redraw()
            self.changed("password")
            self.query_one("#password", Input).focus()
            self.notify(f"Administrator: {shown(upn)}. Enter this admin's password.", markup=False)
        else:
            self.redraw()
            self.notify(f"Administrator: {shown(upn)}", markup=False)
        self.changed("admin_upn")
