"""Store file layout, schema version and migrations.

The file is TinyDB's layout, `{table: {doc_id: document}}`, with a `_meta` table holding `{"schema": N}`.
A migration turns the raw data of version N into version N + 1; they run inside a write transaction, so an upgraded
file is written once, atomically, and an older workbench is told plainly that the file is too new for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RawData = dict[str, dict[str, dict[str, Any]]]
Migration = Callable[[RawData], RawData]

SCHEMA_VERSION = 1
META_TABLE = "_meta"
CONNECTIONS = "connections"
CERTIFICATES = "certificates"

# version N -> function producing version N + 1. Empty until the first layout change.
MIGRATIONS: dict[int, Migration] = {}


def new_data() -> RawData:
    return {META_TABLE: {"1": {"schema": SCHEMA_VERSION}}}


def shape_problem(data: object) -> str | None:
    """Why `data` is not shaped like a TinyDB file, or None."""
    if not isinstance(data, dict):
        return f"the top level is a JSON {type(data).__name__}, not an object of tables"
    for table, docs in data.items():
        if not isinstance(docs, dict):
            return f"table '{table}' is a JSON {type(docs).__name__}, not an object of documents"
        for doc_id, doc in docs.items():
            if not doc_id.isdigit():
                return f"table '{table}' has document id '{doc_id}', which is not a number"
            if not isinstance(doc, dict):
                return f"document {table}/{doc_id} is a JSON {type(doc).__name__}, not an object"
    return None


def version_of(data: RawData) -> int | None:
    meta = data.get(META_TABLE)
    if not meta:
        return None
    schema = next(iter(meta.values())).get("schema")
    return schema if isinstance(schema, int) and not isinstance(schema, bool) else None


def set_version(data: RawData, version: int) -> None:
    data[META_TABLE] = {"1": {"schema": version}}
