"""Removing secrets from text before anyone sees it: raw error messages kept for the details view, and every log
record when logging is switched on. Structural redaction comes first (secrets travel as `Secret` and are never
formatted); these patterns are the net under it for what libraries write themselves."""

from __future__ import annotations

import logging
import re
import sys

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


def configure(level_name: str | None) -> None:
    """`WORKBENCH_LOG=debug|info|warning` sends logs to stderr, redacted; unset, nothing is logged."""
    if not level_name:
        logging.getLogger().addHandler(logging.NullHandler())  # no last-resort printing of library records
        return
    level = getattr(logging, level_name.upper(), None)
    if not isinstance(level, int):
        raise ValueError(f"WORKBENCH_LOG={level_name!r}: use debug, info or warning")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
