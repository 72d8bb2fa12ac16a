"""The public JSON form of connections: `connections list --json`, `show --json`, `export` and `import`.

It is the stored document with every vault reference replaced by whether a secret is set: an export carries no
secrets and nothing that points at them, so it can be mailed to a colleague or kept in a ticket.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .drafts import DraftInvalid, Stamp, revalidate
from .model import Connection, DocumentError, connection_from_document, connection_to_document

FORMAT = "exchange-workbench/connections"
VERSION = 1
_REFS = {"secret_ref": "secret_set", "password_ref": "password_set"}


def _strip_refs(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _REFS:
                out[_REFS[key]] = bool(item)
            else:
                out[key] = _strip_refs(item)
        return out
    return value


def _without_refs(value: Any, depth: int = 0) -> Any:
    """An imported document with every vault reference (and its public "is set" flag) removed: references are
    minted by the workbench for its own secrets, never taken from a file."""
    if depth > 8:
        return value
    if isinstance(value, dict):
        return {
            key: _without_refs(item, depth + 1)
            for key, item in value.items()
            if key not in _REFS and key not in _REFS.values()
        }
    return value


def public_document(connection: Connection) -> dict[str, Any]:
    return dict(_strip_refs(connection_to_document(connection)))


def export_document(connections: Sequence[Connection], now: datetime) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported": now.isoformat(),
        "connections": [public_document(c) for c in connections],
    }


class ImportProblem(ValueError):
    pass


def parse_export(text: str, source: str, stamp: Callable[[], Stamp]) -> list[Connection]:
    """Connections from an export, each checked by the same rules as the wizard, with new ids. Secrets are
    not part of an export: imported connections need theirs set again."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportProblem(f"{source} is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise ImportProblem(f"{source} is nested too deeply to be a workbench export") from None
    except ValueError as error:  # e.g. an integer beyond Python's digit limit
        raise ImportProblem(f"{source} is not usable JSON: {str(error)[:120]}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportProblem(f'{source} is not a workbench export (its "format" is not "{FORMAT}")')
    if data.get("version") != VERSION:
        raise ImportProblem(f"{source} is export version {data.get('version')!r}; this workbench reads {VERSION}")
    items = data.get("connections")
    if not isinstance(items, list):
        raise ImportProblem(f'{source}: "connections" must be a list')
    result = []
    for index, item in enumerate(items):
        where = f"{source}: connections[{index}]"
        if isinstance(item, dict):
            item = _without_refs({key: value for key, value in item.items() if key != "last_verification"})
        try:
            connection = connection_from_document(item, where)
            result.append(revalidate(connection, stamp()))
        except DocumentError as error:
            raise ImportProblem(str(error)) from None
        except DraftInvalid as error:
            raise ImportProblem(f"{where} ({connection.name}): {error}") from None
    return result
