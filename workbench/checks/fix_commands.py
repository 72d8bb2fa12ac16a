"""The command line of a fix that is an operation of the workbench itself: the `workbench` command that does it,
with every value quoted for a POSIX shell, so that pasting it runs `workbench` and nothing else. The CLI prints it
under a fix; the console shows it (and copies it) for scripts and other machines."""

from __future__ import annotations

import shlex

from .problems import Action, Fix, FixKind, Problem


def workbench_command(action: Action, connection: str, problem: Problem | None = None) -> str:
    # Options first, then `--`: whatever the name looks like, it is taken as the name.
    name = "-- " + shlex.quote(connection)
    params = problem.action.params if problem is not None and problem.action is not None else {}
    match action:
        case Action.SET_SECRET:
            return f"workbench connections set-secret {name}"
        case Action.IMPORT_CERTIFICATE:
            return "workbench certs import app.pfx --password-stdin"
        case Action.GENERATE_CERTIFICATE:
            return "workbench certs generate --subject 'CN=Exchange Workbench' --days 365 --cert-out app.pem"
        case Action.RAISE_TIMEOUT:
            return f"workbench verify --timeout 120 {name}"
        case Action.RETRY_LATER:
            return f"workbench verify {name}"
        case Action.GRANT_IMPERSONATION:
            return f"workbench verify --grant-impersonation {name}"
        case Action.TRUST_CA_BUNDLE:
            return f"workbench connections trust --ca-bundle internal-ca.pem {name}"
        case Action.ALLOW_AUTODISCOVER_REDIRECT:
            host = shlex.quote(params.get("host", "<host>"))
            return f"workbench verify --allow-autodiscover-redirect {host} {name}"
        case Action.TRUST_CERTIFICATE:
            pin = shlex.quote(params.get("fingerprint", "<sha-256>"))
            return f"workbench connections trust --pin-sha256 {pin} {name}"
    raise AssertionError(f"no wording for {action}")  # pragma: no cover  (every Action is matched above)


def command_of(fix: Fix, connection: str, problem: Problem | None = None) -> str | None:
    """The line to print under a fix: its own command, or the command line of a workbench operation."""
    if fix.kind is FixKind.WORKBENCH and fix.action is not None:
        return workbench_command(fix.action, connection, problem)
    return fix.command
