"""The connection wizard (new connections and edits) and what it opens: certificate import and choice, Browse."""

from .draft import Step, WizardDraft
from .fill import LabValues
from .screen import WizardScreen

__all__ = ["LabValues", "Step", "WizardDraft", "WizardScreen"]
