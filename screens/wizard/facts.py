"""What the wizard's rules need from outside the draft, as the workspace holds it: the personal store's
certificates (and those this session imported or created) and the names the other connections use."""

from __future__ import annotations

from datetime import datetime

from workbench.model import CertificateInfo, name_key

from ..state.workspace import Workspace
from .draft import Context


class WorkspaceFacts:
    """Read on opening the wizard and whenever it comes back to the front (a certificate imported meanwhile);
    `certificates` is one list the steps hold, updated in place."""

    def __init__(self) -> None:
        self.certificates: list[CertificateInfo] = []
        self._names: set[str] = set()

    def read(self, space: Workspace, own: str) -> None:
        """The store's certificates now (those only this session knows are kept), the names of the connections
        other than `own` (the connection edited)."""
        held = space.certificates()
        known = {c.thumbprint for c in held}
        self.certificates[:] = held + [c for c in self.certificates if c.thumbprint not in known]
        self._names = {name_key(c.name) for c in space.connections() if c.id != own}

    def context(self, now: datetime, *, signed_in: bool, planned: bool) -> Context:
        certificates = {c.thumbprint: c for c in self.certificates}
        names = self._names
        return Context(
            now=now,
            certificate=lambda thumbprint: certificates.get(thumbprint.upper()),
            name_taken=lambda name: name_key(name) in names,
            signed_in=signed_in,
            planned=planned,
        )
