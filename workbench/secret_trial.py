"""Trying a new client secret or password before it is kept: the check that refused the old one (for Microsoft
365, the token endpoint) runs once with the new value in its place. Nothing is staged, stored or recorded: the
caller keeps the value only when the server did not refuse it."""

from __future__ import annotations

import dataclasses

from .checks.engine import refuse
from .checks.events import Finished
from .checks.problems import Action
from .checks.target import Target
from .model import ClientSecretCredential, Connection, M365Settings, Secret
from .verification import Verification, plan_for

TOKEN_CHECK = "m365.token.graph"  # noqa: S105  (a check id: where Entra ID says whether it takes a secret)
_TRYING = "secret:trying"  # the reference the value answers to during the trial; never stored


def trial_check(connection: Connection, check: str) -> str:
    """What to run to try a new secret for `connection`, given the check that refused the old one."""
    return TOKEN_CHECK if isinstance(connection.settings, M365Settings) else check


def with_secret_ref(connection: Connection, ref: str) -> Connection:
    """`connection` with its client secret (Microsoft 365) or password (on-premises) at `ref`."""
    settings = connection.settings
    if isinstance(settings, M365Settings):
        return dataclasses.replace(
            connection, settings=dataclasses.replace(settings, credential=ClientSecretCredential(secret_ref=ref))
        )
    return dataclasses.replace(connection, settings=dataclasses.replace(settings, password_ref=ref))


async def try_secret(target: Target, secret: Secret, check: str) -> Finished | None:
    """Run `check` (and what it needs) once with `secret` as the connection's client secret or password: its
    result, or None when the plan has no such check or the run ended without it."""
    candidate = with_secret_ref(target.connection, _TRYING)
    if check not in {c.id for c in plan_for(candidate).checks}:
        return None
    fallback = target.secret

    def secret_of(ref: str) -> Secret | None:
        return secret if ref == _TRYING else fallback(ref)

    trial = Verification(dataclasses.replace(target, connection=candidate, secret=secret_of), refuse, [check])
    try:
        async for event in trial.events():
            if isinstance(event, Finished) and event.check == check:
                return event
    finally:
        trial.close()
    return None


def refused(result: Finished | None) -> bool:
    """Whether the server refused the secret itself (the problem's own fix is to set it again)."""
    problem = result.outcome.problem if result is not None else None
    return problem is not None and problem.action is not None and problem.action.kind is Action.SET_SECRET
