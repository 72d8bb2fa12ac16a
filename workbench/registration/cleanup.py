"""Removing an automatically registered app: now (with a fresh admin sign-in), or later by hand."""

from __future__ import annotations

from workbench.checks.problems import ENTRA
from workbench.clouds import GRAPH_POWERSHELL_ENVIRONMENTS
from workbench.model import AppRegistration, Cloud
from workbench.quoting import powershell_literal

from .plan import APP_DISPLAY_NAME, ExistingApp, survey
from .signin import AdminSession


def delete_application(session: AdminSession, unique_name: str) -> ExistingApp | None:
    """Delete the app registered under `unique_name` (its service principal and permissions go with it; Entra
    keeps it restorable for 30 days). None when the tenant holds no such app."""
    graph = session.graph()
    try:
        existing = survey(graph, unique_name)
        if existing is not None:
            graph.send("DELETE", f"/applications/{existing.object_id}")
        return existing
    finally:
        graph.close()


def removal_command(graph_url: str, object_id: str, cloud: Cloud = Cloud.GLOBAL) -> str:
    """The Microsoft Graph PowerShell line that deletes the app (signing in to the cloud's Graph first)."""
    url = powershell_literal(f"{graph_url}/v1.0/applications/{object_id}")
    return (
        f"Connect-MgGraph -Environment {GRAPH_POWERSHELL_ENVIRONMENTS[cloud]} -Scopes Application.ReadWrite.All; "
        f"Invoke-MgGraphRequest -Method DELETE -Uri {url}"
    )


def removal_instructions(graph_url: str, registration: AppRegistration, cloud: Cloud = Cloud.GLOBAL) -> list[str]:
    """How to delete the app later, without the workbench: the PowerShell line first (what `c` copies)."""
    return [
        "PowerShell (Microsoft Graph, as a Global Administrator): "
        + removal_command(graph_url, registration.app_object_id, cloud),
        f"Portal: {ENTRA} > Identity > Applications > App registrations > All applications > {APP_DISPLAY_NAME} "
        f"(unique name {registration.unique_name}) > Delete",
        "Deleted apps stay restorable for 30 days under App registrations > Deleted applications.",
    ]
