"""Removing secrets from text before anyone sees it: raw error messages kept for the details view, and every log
record when logging is switched on. Structural redaction comes first (secrets travel as `Secret` and are never
formatted); these patterns are the net under it for what libraries write themselves."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from workbench.text import visible

# Order matters: credentials with a recognisable shape first, then the generic "key: value" rule, which would
# otherwise take the word "Basic" for the value and leave the base64 credential after it.
_PATTERNS = [
    (re.compile(r"(?i)\b(Bearer|Basic|NTLM|Negotiate)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[jwt redacted]"),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "[private key redacted]",
    ),
    (
        re.compile(
            r"(?i)(password|passwd|client_secret|secret|token|authorization|device_code)(\W{0,3}[:=]\W{0,3})[^\s,;'\"}]+"
        ),
        r"\1\2[redacted]",
    ),
]


def redact(text: str, *secrets: str, limit: int | None = 2000) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text if limit is None else text[:limit]


class RedactingFilter(logging.Filter):
    """Renders each record (arguments and traceback included) and redacts the result before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message, limit=None)
        record.args = None
        return True


class _VisibleFormatter(logging.Formatter):
    """A record as one or more readable lines: what a server sent (escape sequences included) cannot act on the
    terminal of whoever reads the log file."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record), multiline=True)


_HANDLER = "workbench"  # the name of the handler `configure` installs (and `console_logging` moves to a file)
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level_name: str | None) -> None:
    """`WORKBENCH_LOG=debug|info|warning` sends logs to stderr, redacted; unset, nothing is logged."""
    if not level_name:
        logging.getLogger().addHandler(logging.NullHandler())  # no last-resort printing of library records
        return
    level = getattr(logging, level_name.upper(), None)
    if not isinstance(level, int):
        raise ValueError(f"WORKBENCH_LOG={level_name!r}: use debug, info or warning")
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)


def console_log(data_dir: Path) -> Path:
    """Where the console logs (with WORKBENCH_LOG set): the terminal is the console's, so not standard error."""
    return data_dir / "logs" / "console.log"


@contextlib.contextmanager
def console_logging(path: Path, *, restore: bool = True) -> Iterator[Path | None]:
    """While the console owns the terminal, the records `configure` sends to standard error are appended to
    `path` instead (0600, redacted, control characters escaped); afterwards they go to standard error again,
    or, with `restore=False` (a process that ends with its console), stay in the file: a run's clients are
    released in their own threads and may log after the console has given the terminal back.
    Yields the path, or None when logging is off (nothing is created then)."""
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if handler.get_name() == _HANDLER]
    if not ours:
        yield None
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:  # never through a symbolic link: records would land in (and chmod) whatever file it points at
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        print(
            f"workbench: not logging to {visible(str(path))}: {visible(error.strerror or str(error))}", file=sys.stderr
        )
        yield None
        return
    os.fchmod(descriptor, 0o600)  # a file left by an older run may have been made with looser rights
    stream = os.fdopen(descriptor, "a", encoding="utf-8", errors="backslashreplace")
    to_file = logging.StreamHandler(stream)
    to_file.set_name(_HANDLER)
    to_file.addFilter(RedactingFilter())
    to_file.setFormatter(_VisibleFormatter(_FORMAT))
    for handler in ours:
        root.removeHandler(handler)
    root.addHandler(to_file)
    try:
        yield path
    finally:
        if restore:
            _put_back(root, to_file, stream, ours)


def _put_back(root: logging.Logger, to_file: logging.Handler, stream: TextIO, ours: list[logging.Handler]) -> None:
    root.removeHandler(to_file)
    to_file.close()
    stream.close()
    for handler in ours:
        root.addHandler(handler)
