"""Graph's query options as the lab enforces them: unknown or malformed `$` options are refused with 400, and
collections page like Graph (at most `$top` items, `@odata.nextLink` while more remain, `$count` only with
`ConsistencyLevel: eventual`), so a client that ignores paging or sends a typo fails here as it would there."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

from .http import Request, Response
from .world import graph_error

KNOWN_OPTIONS = frozenset(
    {"$select", "$filter", "$top", "$count", "$skiptoken", "$expand", "$orderby", "$search", "$format"}
)
DEFAULT_PAGE = 100  # Graph's default page size for directory objects
MAX_PAGE = 999


def refuse_bad_options(request: Request) -> Response | None:
    """Graph's 400 for a `$` option it does not know, or one whose value it cannot read."""
    for name in request.query:
        if name.startswith("$") and name not in KNOWN_OPTIONS:
            return graph_error(400, "Request_BadRequest", f"Unrecognized query argument specified: '{name[1:]}'.")
    top = request.query_value("$top")
    if top is not None and not (top.isdigit() and 1 <= int(top) <= MAX_PAGE):
        return graph_error(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE} inclusive.",
        )
    count = request.query_value("$count")
    if count is not None and count.lower() not in {"true", "false"}:
        return graph_error(400, "BadRequest", f"Invalid value '{count}' for $count query option found.")
    return None


def _skip_of(request: Request) -> int | Response:
    token = request.query_value("$skiptoken")
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii") + b"==").decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    prefix, _, offset = text.partition(":")
    if prefix != "lab-page" or not offset.isdigit():
        return graph_error(400, "Request_BadRequest", "Invalid skip token value.")
    return int(offset)


def page(request: Request, base_url: str, context: str, items: list[dict[str, Any]]) -> Response:
    """One page of `items` as Graph returns a collection."""
    skip = _skip_of(request)
    if isinstance(skip, Response):
        return skip
    top = int(request.query_value("$top") or DEFAULT_PAGE)
    body: dict[str, Any] = {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}"}
    if (request.query_value("$count") or "").lower() == "true":
        if (request.header("ConsistencyLevel") or "").lower() != "eventual":
            return graph_error(400, "Request_BadRequest", "$count is not currently supported.")
        body["@odata.count"] = len(items)
    body["value"] = items[skip : skip + top]
    if skip + top < len(items):
        token = base64.urlsafe_b64encode(f"lab-page:{skip + top}".encode("ascii")).decode("ascii").rstrip("=")
        query = [(k, v) for k, values in request.query.items() if k != "$skiptoken" for v in values]
        query.append(("$skiptoken", token))
        body["@odata.nextLink"] = f"{base_url}{request.path}?{urlencode(query)}"
    return Response.json(200, body)
