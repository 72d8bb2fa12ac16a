"""The verification engine, its plans and the troubleshooting catalogue."""

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
