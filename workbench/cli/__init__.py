"""The `workbench` command.

    workbench connections list|show|add|remove|set-secret|export|import
    workbench certs list|import|generate|remove
    workbench verify NAME | --all [--json] [--only CHECK ...] [--grant-impersonation] [--timeout S]
                    [--allow-autodiscover-redirect HOST ...]
    workbench info
    workbench demo
    workbench lab --state-file PATH [--scenario S[,S]]
    workbench                  (no command: the console on your data directory)

Secrets are read from standard input (`--client-secret-stdin`, `--password-stdin`) or a hidden prompt, never from
the command line. Exit codes: 0 done, 1 it did not work (storage, vault), 2 bad input (nothing was written).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from io import TextIOBase
from typing import TextIO

from workbench import __version__

from .io import FAILURE, CliError


def build_parser() -> argparse.ArgumentParser:
    from . import certs, connections, demo, info, lab, verify

    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Define, verify and troubleshoot Microsoft 365 and on-premises Exchange connections.",
        epilog="Data directory: $WORKBENCH_HOME, else $XDG_DATA_HOME/exchange-workbench "
        "(~/.local/share/exchange-workbench).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    connections.register(commands)
    certs.register(commands)
    info.register(commands)
    demo.register(commands)
    lab.register(commands)
    verify.register(commands)
    return parser


class _VisibleStream(TextIOBase):
    """A terminal stream through which no control sequence from outside passes: every write goes through
    `workbench.text.visible` (newlines and tabs kept)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from workbench.text import visible

        self._stream.write(visible(text, multiline=True))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding


def _console(args: argparse.Namespace) -> int:
    """The console on the admin's own data directory."""
    from screens import WorkbenchApp
    from storage import default_home
    from workbench.redaction import console_log, console_logging

    home = default_home()
    with console_logging(console_log(home), restore=False) as log:  # WORKBENCH_LOG: not over the console
        WorkbenchApp(home, log_file=log).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command with everything it prints made safe for the terminal (see `_VisibleStream`)."""
    if isinstance(sys.stdout, _VisibleStream):
        return _main(argv)
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _VisibleStream(stdout), _VisibleStream(stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # whatever we create is ours alone
    from workbench.redaction import configure

    try:
        configure(os.environ.get("WORKBENCH_LOG"))
    except ValueError as error:
        print(f"workbench: {error}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    from storage import StorageError

    if not getattr(args, "handler", None):
        if not (sys.stdout.isatty() and sys.stdin.isatty()):
            parser.print_help()
            return 0
        args.handler = _console

    try:
        result: int = args.handler(args)
    except CliError as error:
        print(f"workbench: {error}", file=sys.stderr)
        return error.code
    except StorageError as error:
        print(f"workbench: {error}", file=sys.stderr)
        return FAILURE
    except KeyboardInterrupt:
        print("workbench: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `workbench verify x | head -1`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        return 141
    return result
