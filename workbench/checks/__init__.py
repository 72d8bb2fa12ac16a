"""The verification engine, its plans and the troubleshooting catalogue.

Names are loaded on first use (PEP 562), so that importing one light module of this package — the events, the
board, the problem catalogue — does not pull in the engine's network stack (the console starts faster for it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Check, Confirm, Context, Plan, Run, RunScope
    from .events import (
        AwaitingConfirmation,
        CheckInfo,
        ConfirmationAnswered,
        ConfirmationRequest,
        Event,
        Finished,
        Outcome,
        Planned,
        Progress,
        Started,
        Status,
        Step,
        StepStatus,
        Summary,
    )
    from .problems import Action, Fix, Problem
    from .target import Target

__all__ = [
    "Action",
    "AwaitingConfirmation",
    "Check",
    "CheckInfo",
    "Confirm",
    "ConfirmationAnswered",
    "ConfirmationRequest",
    "Context",
    "Event",
    "Finished",
    "Fix",
    "Outcome",
    "Plan",
    "Planned",
    "Problem",
    "Progress",
    "Run",
    "RunScope",
    "Started",
    "Status",
    "Step",
    "StepStatus",
    "Summary",
    "Target",
]


_HOMES = {
    **dict.fromkeys(("Check", "Confirm", "Context", "Plan", "Run", "RunScope"), "engine"),
    **dict.fromkeys(("Action", "Fix", "Problem"), "problems"),
    "Target": "target",
}


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = importlib.import_module(f".{_HOMES.get(name, 'events')}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
