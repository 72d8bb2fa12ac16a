"""Where an admin enters a device code: the address as the authority answered it, the authority's host beside it,
and, when a Microsoft cloud's authority answered with a page outside Microsoft's sign-in hosts, the doubt as a
warning. Everything literal (the address comes from a server)."""

from __future__ import annotations

from rich.text import Text

from workbench.registration import DeviceCode

from .literal import literal


def sign_in_address(code: DeviceCode) -> Text:
    text = literal(code.verification_uri)
    if code.authority_host:
        text.append("  (from ", style="dim")
        text.append_text(literal(code.authority_host, style="dim"))
        text.append(")", style="dim")
    if code.doubt:
        text.append("\n⚠ ", style="bold yellow")
        text.append_text(literal(code.doubt, style="yellow"))
    return text
