"""A paste is text, never keys: Textual's terminal parser turned what followed an ESC inside a bracketed paste
back into key presses (a pasted `ESC x ctrl+s` saved the pending changes; `ESC Z ctrl+q y` quit and discarded
them). The console's parser hands the whole paste over as one Paste event, ESC shown as an escape."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events

from screens.paste_guard import PasteGuardParser, install

START, END = "\x1b[200~", "\x1b[201~"


def tokens(*chunks: str) -> list[Any]:
    parser = PasteGuardParser()
    found: list[Any] = []
    for chunk in chunks:
        found += list(parser.feed(chunk))
    return found


@pytest.mark.parametrize(
    "chunks",
    [
        [f"{START}foo\x1bx\x13{END}"],
        [f"{START}foo\x1b", "x\x13\x1b[20", "1~"],  # split inside the ESC and inside the end marker
        ["\x1b[20", f"0~foo\x1bx\x13{END}"],  # split inside the start marker
        [f"{START}x\x1bZ\x11y{END}"],
    ],
)
def test_a_paste_with_escape_characters_is_one_paste_event_and_no_keys(chunks: list[str]) -> None:
    found = tokens(*chunks)
    assert [type(t) for t in found] == [events.Paste], found
    text = found[0].text
    assert "\x1b" not in text and "\\x1b" in text


def test_keys_outside_a_paste_are_still_keys() -> None:
    found = tokens("a", f"{START}pasted{END}", "\x13")
    assert [getattr(t, "key", None) or t.text for t in found] == ["a", "pasted", "ctrl+s"]


def test_a_megabyte_paste_with_escapes_is_one_event() -> None:
    body = ("A" * 60 + "\x1b[31m" + "B" * 30 + "\n") * 10_000
    found = tokens(START + body[:500_000], body[500_000:] + END)
    assert [type(t) for t in found] == [events.Paste] and len(found[0].text) > len(body)


def test_the_console_driver_builds_its_parser_through_the_name_the_guard_replaces() -> None:
    """The guard is installed by replacing the parser class the Linux driver looks up when its input thread
    starts; a Textual that builds its parser otherwise fails here, not silently on an admin's terminal."""
    import inspect

    from textual.drivers import linux_driver

    assert "XTermParser(" in inspect.getsource(linux_driver.LinuxDriver.run_input_thread)
    install()
    assert getattr(linux_driver, "XTermParser") is PasteGuardParser  # noqa: B009
