"""Browse: the organisation's administrators (Organization Management) and accepted domains, read through the
same remote PowerShell path the verification uses — the connection's own discovery, DNS servers, trust and
credentials — in one call a picker can make.

    directory = await browse(target)          # or browse_sync(target)
    for admin in directory.admins: ...

A failure on the way (DNS, TLS, a refused password) raises `BrowseFailed` with the check that failed and its
problem, exactly as the verification view would show it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from .checks import onprem
from .checks.engine import Run
from .checks.events import Event, Finished
from .checks.onprem import Admin
from .checks.target import Target
from .model import OnPremSettings


@dataclass(frozen=True, slots=True)
class Directory:
    admins: tuple[Admin, ...]
    accepted_domains: tuple[str, ...]


class BrowseFailed(Exception):
    def __init__(self, failure: Finished) -> None:
        problem = failure.outcome.problem
        super().__init__(f"{failure.title}: {failure.outcome.detail}" + (f" ({problem.code})" if problem else ""))
        self.failure = failure


async def browse(target: Target, on_event: Callable[[Event], None] | None = None) -> Directory:
    """List the administrators and accepted domains of the on-premises organisation `target` points at."""
    if not isinstance(target.connection.settings, OnPremSettings):
        raise TypeError("Browse lists the administrators of an on-premises organisation")
    run = Run(
        onprem.browse_plan(),
        resources={"target": target},
        timeout_scale=max(1.0, target.timeout / 20.0),
        connection=target.connection.id,
    )
    failure: Finished | None = None
    try:
        async for event in run.events():
            if on_event is not None:
                on_event(event)
            if isinstance(event, Finished) and not event.status.ok and failure is None:
                failure = event
    finally:
        run.close()
    if failure is not None:
        raise BrowseFailed(failure)
    return Directory(run.facts["admins"], run.facts["accepted_domains"])


def browse_sync(target: Target) -> Directory:
    """Blocking form, for scripts."""
    return asyncio.run(browse(target))


__all__ = ["Admin", "BrowseFailed", "Directory", "browse", "browse_sync"]
