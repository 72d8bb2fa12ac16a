"""What a verification run tells the world: outcomes, events and confirmation requests.

Everything here is public: events reach the screen, the JSON stream, reports and `repr`. They carry plain values
only — never a token, a password or a live client; those stay in the run's private state (see `Outcome.private`,
which the engine strips before an outcome becomes an event). Every event names the run and the connection it
belongs to, so a console that verifies many connections at once can route each one to its view.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from workbench.model import Secret
from workbench.text import visible

from .problems import Action, Problem


class Status(StrEnum):
    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def ok(self) -> bool:
        return self in (Status.PASSED, Status.WARNING)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a check ended. `facts` are public and flow to later checks and to events; `private` (tokens, the
    password, live clients) flows to later checks only."""

    status: Status
    detail: str
    problem: Problem | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    raw_error: str | None = None  # the library's own words, redacted, for the details view
    private: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def passed(cls, detail: str, *, private: Mapping[str, Any] | None = None, **facts: Any) -> Outcome:
        return cls(Status.PASSED, detail, facts=facts, private=private or {})

    @classmethod
    def warning(
        cls, detail: str, problem: Problem | None = None, *, private: Mapping[str, Any] | None = None, **facts: Any
    ) -> Outcome:
        return cls(Status.WARNING, detail, problem, facts=facts, private=private or {})

    @classmethod
    def failed(cls, detail: str, problem: Problem, raw_error: str | None = None, **facts: Any) -> Outcome:
        return cls(Status.FAILED, detail, problem, facts=facts, raw_error=raw_error)

    def public(self) -> Outcome:
        """This outcome without its private part, after checking that its facts really are plain values."""
        for name, value in self.facts.items():
            if not is_public(value):
                raise TypeError(f"fact {name!r} is a {type(value).__name__}, not a plain value: keep it private")
        detail = visible(self.detail)  # one line, whatever a server put in it
        if self.private or detail != self.detail:
            return dataclasses.replace(self, detail=detail, private={})
        return self


class CheckFailed(Exception):
    """Raised inside a check to end it with a failed outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


_PLAIN = (str, int, float, bool, type(None), datetime, enum.Enum)


def is_public(value: Any, depth: int = 0) -> bool:
    """Plain data that may be shown anywhere: scalars, and lists, tuples, mappings and frozen dataclasses of them.
    A `Secret`, a token dictionary wrapped in one, a client or a session is not."""
    if depth > 8 or isinstance(value, Secret):
        return False
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_public(v, depth + 1) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and is_public(v, depth + 1) for k, v in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = getattr(type(value), "__dataclass_params__", None)
        return bool(params and params.frozen) and all(
            is_public(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
        )
    return False


# ---------------------------------------------------------------- confirmation


@dataclass(frozen=True, slots=True)
class ConfirmationRequest:
    """What a check wants to do on the admin's behalf, stated exactly, before it does it."""

    action: Action
    question: str  # one line: "Grant ApplicationImpersonation to admin@contoso.com?"
    command: str  # exactly what will run, e.g. the cmdlet with its parameters
    account: str  # on whose behalf / to whom
    server: str  # where it will run
    details: tuple[tuple[str, str], ...] = ()  # more facts to show, label -> value


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class CheckInfo:
    id: str
    title: str
    needs: tuple[str, ...]


class StepStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Step:
    """One sub-step of a check (an autodiscover attempt, a DNS lookup), shown as a sub-row."""

    index: int
    label: str
    status: StepStatus
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    run: str = ""
    connection: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Planned(_Event):
    """First event of a run: every check it will report on, in plan order, before any starts."""

    checks: tuple[CheckInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Started(_Event):
    check: str
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress(_Event):
    check: str
    title: str
    message: str
    done: int | None = None
    total: int | None = None
    step: Step | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AwaitingConfirmation(_Event):
    """The check waits for the admin; its timeout does not run meanwhile."""

    check: str
    title: str
    request: ConfirmationRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmationAnswered(_Event):
    check: str
    title: str
    accepted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished(_Event):
    check: str
    title: str
    outcome: Outcome
    duration_ms: int

    @property
    def status(self) -> Status:
        return self.outcome.status


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary(_Event):
    status: Status  # failed if anything failed, else cancelled, else warning, else passed
    counts: Mapping[Status, int]
    duration_ms: int

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED


Event = Planned | Started | Progress | AwaitingConfirmation | ConfirmationAnswered | Finished | Summary
