"""The verification engine, its plans and the troubleshooting catalogue."""

from .engine import Check, Context, Event, Finished, Outcome, Plan, Progress, Run, Started, Status, Summary
from .problems import Action, Fix, Problem
from .target import Target

__all__ = [
    "Action",
    "Check",
    "Context",
    "Event",
    "Finished",
    "Fix",
    "Outcome",
    "Plan",
    "Problem",
    "Progress",
    "Run",
    "Started",
    "Status",
    "Summary",
    "Target",
]
