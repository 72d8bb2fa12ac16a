"""How a status looks on screen, in one place: its mark, its word and its colour, for checks, verifications and
recorded results alike. Marks are paired with words wherever space allows, so no meaning rests on colour."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from workbench.checks.board import Phase, Row
from workbench.checks.events import Status
from workbench.describe import age
from workbench.model import VerificationStatus, VerificationSummary

MARKS = {
    "passed": ("✔", "green"),
    "warning": ("!", "yellow"),
    "failed": ("✘", "bold red"),
    "skipped": ("–", "dim"),
    "cancelled": ("⊘", "magenta"),
    "waiting": ("·", "dim"),
    "running": ("⟳", "cyan"),
    "asking": ("?", "bold yellow"),
    "never": ("·", "dim"),
    "tried": ("○", "dim"),  # an attempt that found nothing, before one that worked (or while others remain)
}

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def mark(state: str, *, word: bool = False) -> Text:
    glyph, style = MARKS[state]
    return Text(f"{glyph} {state}" if word else glyph, style=style)


def row_state(row: Row) -> str:
    if row.status is not None:
        return row.status.value
    return {Phase.WAITING: "waiting", Phase.RUNNING: "running", Phase.ASKING: "asking", Phase.DONE: "waiting"}[
        row.phase
    ]


def row_mark(row: Row, frame: int = 0) -> Text:
    state = row_state(row)
    if state == "running":
        return Text(f"{SPINNER[frame % len(SPINNER)]} running", style="cyan")
    return mark(state, word=True)


def duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000} min {ms % 60_000 // 1000} s"


def summary_mark(summary: VerificationSummary | None, now: datetime) -> tuple[Text, str]:
    """The mark of a recorded verification and its age ('never' when there is none)."""
    if summary is None:
        return mark("never", word=False), "never"
    return mark(summary.status.value), age(summary.at, now)


def checks_passed(summary: VerificationSummary) -> str:
    total = summary.passed + summary.warnings + summary.failed + summary.skipped
    return f"{summary.passed + summary.warnings}/{total}"


def status_of(status: Status | VerificationStatus) -> str:
    return status.value
