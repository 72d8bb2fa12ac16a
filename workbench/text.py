"""Text from outside — server answers, certificate fields, error messages, imported names — shown literally.

`visible()` turns every character a terminal would act on instead of print into a readable escape: C0 and C1
control characters (ESC starts the sequences that clear screens and recolour text; CSI is its one-byte form),
DEL, and the invisible formatting characters that reorder or hide text (bidi overrides and isolates, zero-width
joiners and spaces, BOM). Printable text, whatever its script, is untouched. The CLI applies it to everything it
writes; the UI to every label it fills from outside.
"""

from __future__ import annotations

import re

_INVISIBLE = "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
_UNSAFE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_INVISIBLE}]")
_JSON_UNSAFE = re.compile(f"[\\x7f-\\x9f{_INVISIBLE}]")  # json.dumps already escapes C0 inside strings
_MULTILINE_UNSAFE = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_INVISIBLE}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, multiline: bool = False, limit: int | None = None) -> str:
    """`text` with control and invisible formatting characters shown as escapes (`\\x1b`, `\\u202e`). With
    `multiline`, newlines and tabs stay; with `limit`, the result is cut (and says so)."""
    pattern = _MULTILINE_UNSAFE if multiline else _UNSAFE
    shown = pattern.sub(_escape, text)
    if limit is not None and len(shown) > limit:
        return shown[:limit] + f"… ({len(shown) - limit} more characters)"
    return shown


def json_safe(encoded: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with every character `visible()` would escape
    written as a `\\uXXXX` escape instead: still valid JSON, still the same data, harmless on a terminal."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", encoded)


def has_invisible(text: str) -> bool:
    """Whether `text` holds characters that `visible()` would escape."""
    return _UNSAFE.search(text) is not None
