"""Text from outside — server answers, certificate fields, error messages, imported names — shown literally.

`visible()` turns every character a terminal would act on instead of print into a readable escape: C0 and C1
control characters (ESC starts the sequences that clear screens and recolour text; CSI is its one-byte form),
DEL, line and paragraph separators, and the invisible characters that hide, reorder or disguise text — format
characters (bidi overrides and isolates, zero-width joiners and spaces, soft hyphen, BOM, tag characters),
private-use and unassigned code points, variation selectors and the Hangul fillers. Printable text, whatever its
script, is untouched. Outcome details, progress lines and table cells are single lines: a newline from a server
cannot forge an "ok" line. The CLI writes everything through it; the UI fills every label from outside with it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_ASCII_UNSAFE = re.compile("[\\x00-\\x1f\\x7f]")
_ASCII_MULTILINE_UNSAFE = re.compile("[\\x00-\\x08\\x0b-\\x1f\\x7f]")
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
_HIDDEN_MARKS = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)


@functools.lru_cache(maxsize=8192)
def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _HIDDEN_CATEGORIES or ch in _HIDDEN_MARKS


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str, *, multiline: bool = False, limit: int | None = None) -> str:
    """`text` with control and invisible characters shown as escapes (`\\x1b`, `\\u202e`). With `multiline`,
    newlines and tabs stay (for texts the workbench lays out itself); with `limit`, the result is cut (and says
    so)."""
    if text.isascii():
        pattern = _ASCII_MULTILINE_UNSAFE if multiline else _ASCII_UNSAFE
        shown = pattern.sub(lambda m: _escape(m.group(0)), text)
    else:
        keep = "\n\t" if multiline else ""
        shown = "".join(_escape(ch) if ch not in keep and _hidden(ch) else ch for ch in text)
    if limit is not None and len(shown) > limit:
        return shown[:limit] + f"… ({len(shown) - limit} more characters)"
    return shown


def json_safe(encoded: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with every character `visible()` would escape
    written as a `\\uXXXX` escape instead: still valid JSON, still the same data, harmless on a terminal.
    (json.dumps already escapes C0 controls inside strings; outside them there are only blanks.)"""
    if encoded.isascii():
        return encoded.replace("\x7f", "\\u007f")
    out = []
    for ch in encoded:
        if ch not in "\n\t\r " and _hidden(ch):
            code = ord(ch)
            if code >= 0x10000:  # JSON spells astral code points as a surrogate pair
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def has_invisible(text: str) -> bool:
    """Whether `text` holds characters that `visible()` would escape."""
    return visible(text) != text
