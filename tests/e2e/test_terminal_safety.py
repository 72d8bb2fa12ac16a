"""Nothing from outside reaches the terminal as a control sequence, and names cannot impersonate each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import add_onprem, run_workbench
from workbench import text, validate


def test_a_certificate_subject_with_escape_sequences_is_shown_escaped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run_workbench(home, "certs", "generate", "--subject", "CN=a\x1b[2J\x1b[31mb", "--days", "30")
    assert made.returncode == 0, made.stderr
    listed = run_workbench(home, "certs", "list")
    assert "\x1b" not in listed.stdout + listed.stderr
    assert "\\x1b[2J" in listed.stdout
    as_json = json.loads(run_workbench(home, "certs", "list", "--json").stdout)
    assert as_json[0]["subject"].startswith("CN=a\x1b")  # JSON carries the data itself, escaped by JSON


def test_error_messages_do_not_echo_escape_sequences_or_huge_inputs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = add_onprem(home, server="\x1b]0;owned\x07" + "x" * 10_000)
    assert result.returncode == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert len(result.stderr) < 2_000


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("pr\u043ed", "mixes Cyrillic and Latin"),
        ("pro\u200dd", "invisible"),
        ("\u202eprod", "invisible"),
        ("a\x1b[2Jb", "control"),
    ],
)
def test_confusable_and_invisible_names_are_refused(name: str, problem: str) -> None:
    with pytest.raises(validate.FieldError, match=problem):
        validate.connection_name(name)


def test_compatibility_forms_are_the_same_name() -> None:
    from workbench.model import name_key

    assert validate.connection_name("\uff50\uff52\uff4f\uff44") == "prod"
    assert name_key("\uff30rod") == name_key("prod")


def test_visible_keeps_printable_text_and_escapes_the_rest() -> None:
    assert text.visible("Zürich — 東京 ✓") == "Zürich — 東京 ✓"
    assert text.visible("a\x1b[31mb\x9bc\u202ed") == "a\\x1b[31mb\\x9bc\\u202ed"
    assert text.visible("one\ntwo\tthree", multiline=True) == "one\ntwo\tthree"
    assert text.visible("one\ntwo") == "one\\x0atwo"
    assert text.visible("x" * 100, limit=10) == "x" * 10 + "… (90 more characters)"


def test_outside_text_cannot_forge_lines_or_hide_characters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run_workbench(home, "certs", "generate", "--subject", "CN=x\nABCDEF  CN=Fake  RSA 4096", "--days", "30")
    assert made.returncode == 0, made.stderr
    listed = run_workbench(home, "certs", "list").stdout
    assert len(listed.strip().splitlines()) == 2 and "\\x0a" in listed  # the header and one row
    for name in ("pro\u00add", "prod\U000e0041", "a\u2028b", "\u3164x", "x\ufe0fy", "\u00ad"):
        with pytest.raises(validate.FieldError):
            validate.connection_name(name)


def test_details_and_progress_lines_are_single_lines() -> None:
    import asyncio

    from workbench.checks.engine import Check, Context, Plan, Run
    from workbench.checks.events import Finished, Outcome, Progress

    async def liar(ctx: Context) -> Outcome:
        ctx.progress("step one\nok Everything verified")
        return Outcome.passed("server said: fine\nok FAKE LINE\x1b[2J")

    async def go() -> list[object]:
        run = Run(Plan((Check("x", "X", liar),)))
        try:
            return [e async for e in run.events()]
        finally:
            run.close()

    events = asyncio.run(go())
    progress = next(e for e in events if isinstance(e, Progress))
    done = next(e for e in events if isinstance(e, Finished))
    assert "\n" not in progress.message and "\n" not in done.outcome.detail and "\x1b" not in done.outcome.detail
    assert done.outcome.detail == "server said: fine\\x0aok FAKE LINE\\x1b[2J"
