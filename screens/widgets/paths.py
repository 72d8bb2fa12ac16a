"""File paths typed in the console: completion from what the folder holds, taken with the right arrow. Every
field that names a file (a certificate to import, a CA bundle in the wizard or in "Trust a CA bundle") is a
`PathInput`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from textual.suggester import Suggester

from .inputs import MAX_LINE, LineInput

MAX_LISTED = 2000  # entries of one folder looked at for a completion


class PathSuggester(Suggester):
    """Completes the last part of a path from what the folder holds (folders end with '/'); right arrow takes it."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value or "\x00" in value or len(value) > MAX_LINE:
            return None
        return await asyncio.to_thread(complete_path, value)


def _printable_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return name.isprintable()


def complete_path(value: str) -> str | None:
    folder_text, _, stem = value.rpartition("/")
    folder = Path(folder_text + "/" if folder_text or value.startswith("/") else ".").expanduser()
    try:
        with os.scandir(folder) as entries:
            names = []
            for index, entry in enumerate(entries):
                if index >= MAX_LISTED:
                    break
                if not _printable_name(entry.name):
                    continue  # a name that is not valid UTF-8 or holds control characters is never proposed
                if entry.name.startswith(stem) and entry.name != stem and (stem or not entry.name.startswith(".")):
                    names.append(entry.name + ("/" if entry.is_dir() else ""))
    except (OSError, ValueError):
        return None
    if not names:
        return None
    prefix = os.path.commonprefix(names)  # noqa: RUF071 (completing a name, character by character)
    chosen = prefix if len(prefix) > len(stem) else sorted(names)[0]
    head = value[: len(value) - len(stem)]
    return head + chosen


class PathInput(LineInput):
    """A one-line field for a file path, completed with the right arrow."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, suggester=PathSuggester(), **kwargs)
