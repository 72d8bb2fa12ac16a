"""The Application details step (manual registration): the app's IDs and its credential, a client secret or a
certificate imported from a file or chosen from the personal store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, RadioSet

from workbench.certificates import LoadedCertificate
from workbench.model import CertificateInfo, Cloud

from .draft import Step, WizardDraft
from .fields import Choice, set_value
from .steps import StepPane, lab_cloud, set_radio

if TYPE_CHECKING:
    from ..console import Console
    from .fill import LabValues


class ApplicationStep(StepPane):
    STEP = Step.APPLICATION
    INTRO = "The app registered in Entra ID (App registrations › the app › Overview)."

    def __init__(self, draft: WizardDraft, workbench: Console, certificates: list[CertificateInfo]) -> None:
        super().__init__(draft)
        self.workbench = workbench
        self.certificates = certificates  # the wizard's: the personal store's, and those imported in this wizard

    def fields(self) -> ComposeResult:
        yield self.text_field("app_account")
        yield self.text_field("client_id")
        yield self.text_field("tenant_id")
        certificate = self.draft.use_certificate
        with RadioSet(id="credential", compact=True):
            yield Choice("Client secret", value=not certificate)
            yield Choice("Certificate thumbprint", value=certificate)
        with Vertical(id="secret-box"):
            yield self.text_field("client_secret")
        with Vertical(id="certificate-box"):
            yield self.text_field("thumbprint")
            with Horizontal(classes="inline"):
                yield Button("Import certificate…", id="import", compact=True)
                yield Button("Choose certificate…", id="choose", compact=True)

    def redraw(self) -> None:
        draft = self.draft
        self.redraw_text_fields()
        set_radio(self.query_one("#credential", RadioSet), 1 if draft.use_certificate else 0)
        secret = self.query_one("#client_secret", Input)
        secret.placeholder = (
            "unchanged (type to replace)" if draft.secret_ref and draft.client_secret is None else "paste the Value"
        )
        self._arrange()

    def _arrange(self) -> None:
        self.query_one("#secret-box").display = not self.draft.use_certificate
        self.query_one("#certificate-box").display = self.draft.use_certificate

    @on(RadioSet.Changed, "#credential")
    def _credential(self, event: RadioSet.Changed) -> None:
        self.draft.use_certificate = event.index == 1
        self._arrange()
        self.changed("thumbprint" if self.draft.use_certificate else "client_secret")

    def fill(self, lab: LabValues) -> str:
        draft = self.draft
        cloud = ""
        if draft.m365.cloud != Cloud.CUSTOM.value or draft.m365.authority_host != lab.authority_host:
            lab_cloud(draft, lab)  # the lab's app lives in the lab's tenant: its endpoints come along
            cloud = " The Server location step now points at the lab tenant (a custom cloud)."
        draft.m365.app_account = lab.app_account
        draft.m365.client_id = lab.client_id
        draft.m365.tenant_id = lab.tenant_id
        if draft.use_certificate and draft.thumbprint.strip():
            return "Filled the lab app's IDs; the certificate chosen stays." + cloud
        if draft.use_certificate:
            return (
                "Filled the lab app's IDs. For the certificate: Import certificate…, then ctrl+l in the dialog "
                "fills the lab's PFX file and its password." + cloud
            )
        draft.client_secret = lab.client_secret
        set_value(self.query_one("#client_secret", Input), lab.client_secret.reveal())
        return "Filled the lab app's IDs and its client secret." + cloud

    @on(Button.Pressed, "#import")
    def action_import_certificate(self) -> None:
        from .certificate import ImportCertificateModal

        self.app.push_screen(
            ImportCertificateModal(self.workbench.workspace.now, self.workbench.lab_values), self._imported
        )

    def _imported(self, loaded: LoadedCertificate | None) -> None:
        if loaded is None:
            return
        stored = {c.thumbprint for c in self.workbench.workspace.certificates()} - {
            c.thumbprint for c in self.workbench.workspace.changes.staged_certificates()
        }
        already = loaded.info.thumbprint in stored
        info = loaded.info
        if not already:
            info = self.workbench.workspace.changes.stage_certificate(loaded.info, loaded.key_pem)
        if all(c.thumbprint != info.thumbprint for c in self.certificates):
            self.certificates.append(info)
        draft = self.draft
        draft.use_certificate, draft.thumbprint = True, info.thumbprint
        self.redraw()
        self.changed("thumbprint")
        if already:
            self.notify(f"Certificate {info.thumbprint} is already in the personal store: it is used.", markup=False)
        else:
            self.notify(
                f"Certificate {info.thumbprint} imported: it joins the personal store when the connection is saved.",
                markup=False,
            )

    @on(Button.Pressed, "#choose")
    def action_choose_certificate(self) -> None:
        from .certificate import ChooseCertificateModal

        self.app.push_screen(ChooseCertificateModal(self.certificates, self.workbench.workspace.now()), self._chosen)

    def _chosen(self, thumbprint: str | None) -> None:
        if thumbprint is None:
            return
        draft = self.draft
        draft.use_certificate, draft.thumbprint = True, thumbprint
        self.redraw()
        self.changed("thumbprint")
