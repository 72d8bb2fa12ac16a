"""Terminal input and output for the CLI: secrets from stdin or a hidden prompt (never argv), tables, errors."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from workbench.model import Secret
from workbench.validate import FieldError

USAGE = 2
FAILURE = 1


class CliError(Exception):
    """Ends the command with a message on stderr and an exit code (2: bad input, 1: it did not work)."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = USAGE) -> NoReturn:
    raise CliError(message, code)


def read_secret(what: str, from_stdin: bool, parse: Callable[[str], str]) -> Secret:
    """One line from stdin when asked to, else a hidden prompt on a terminal. Never from the command line."""
    if from_stdin:
        text = sys.stdin.readline()
        if not text:
            fail(f"Expected the {what} on standard input, but it was empty")
    elif sys.stdin.isatty():
        text = getpass.getpass(f"{what[0].upper()}{what[1:]}: ")
    else:
        fail(f"No {what}: pipe it in and add --{'password' if 'password' in what else 'client-secret'}-stdin")
    try:
        return Secret(parse(text))
    except FieldError as error:
        fail(error.message)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def info(message: str) -> None:
    print(message, file=sys.stderr)


def print_json(value: Any) -> None:
    from workbench.text import json_safe

    sys.stdout.write(json_safe(json.dumps(value, indent=2, ensure_ascii=False)) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from workbench.text import visible

    rows = [[visible(cell) for cell in row] for row in rows]  # a cell is one line, whatever it holds
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line.rstrip())
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
