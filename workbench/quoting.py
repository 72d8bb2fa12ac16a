"""Quoting for the commands the workbench prints for copying: whatever a name, account or server holds, pasting
the command runs the intended program with that value as one argument — never a second command.

* POSIX shell (the `workbench` commands the CLI prints): `shlex.quote`.
* PowerShell (the cmdlets of the troubleshooting catalogue): a template may place a value bare, inside a
  single-quoted string or inside a double-quoted string; `fill_powershell` escapes each value for the place it
  lands in. Safe-looking values (addresses, host names, GUIDs) stay bare so that commands read as admins type them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_BARE_SAFE = re.compile(r"[A-Za-z0-9@._:/\\+-]+")
_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"  # PowerShell treats the typographic ones as quotes too
_DOUBLE_QUOTES = '"\u201c\u201d\u201e'


def posix(value: str) -> str:
    return shlex.quote(value)


def powershell_literal(value: str) -> str:
    """A single-quoted PowerShell string: nothing inside is expanded."""
    return "'" + "".join(ch * 2 if ch in _SINGLE_QUOTES else ch for ch in value) + "'"


def _in_single(value: str) -> str:
    return "".join(ch * 2 if ch in _SINGLE_QUOTES else ch for ch in value)


def _in_double(value: str) -> str:
    return "".join("`" + ch if ch in _DOUBLE_QUOTES or ch in "`$" else ch for ch in value)


def _bare(value: str) -> str:
    # A bare value starting with '-' would be read as a parameter name: quote it.
    return value if _BARE_SAFE.fullmatch(value) and not value.startswith("-") else powershell_literal(value)


def fill_powershell(template: str, values: Mapping[str, object]) -> str:
    """Complete `{placeholders}` in a PowerShell command, each escaped for where it stands; unknown placeholders
    stay as they are."""
    out: list[str] = []
    state = ""  # "", "'" or '"'
    i = 0
    while i < len(template):
        match = _PLACEHOLDER.match(template, i)
        if match is not None:
            raw = values.get(match.group(1))
            if raw is None or raw == "":
                out.append(match.group(0))
            else:
                escape: Callable[[str], str] = {"": _bare, "'": _in_single, '"': _in_double}[state]
                out.append(escape(str(raw)))
            i = match.end()
            continue
        ch = template[i]
        if state == "" and ch in _SINGLE_QUOTES:
            state = "'"
        elif state == "" and ch in _DOUBLE_QUOTES:
            state = '"'
        elif state == "'" and ch in _SINGLE_QUOTES:
            if i + 1 < len(template) and template[i + 1] in _SINGLE_QUOTES:
                out.append(ch)
                i += 1
            else:
                state = ""
        elif state == '"' and ch == "`":
            out.append(ch)
            i += 1
            if i < len(template):
                out.append(template[i])
            i += 1
            continue
        elif state == '"' and ch in _DOUBLE_QUOTES:
            state = ""
        out.append(ch)
        i += 1
    return "".join(out)
