"""Cinder's listing semantics: filters, ``sort``, ``limit``/``marker`` with next
links, and ``with_count`` (3.45+)."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.volume.microversions import version

T = TypeVar("T")
#: query parameters that are not filters
CONTROLS = frozenset(
    {"limit", "marker", "sort", "sort_key", "sort_dir", "with_count", "all_tenants", "offset"}
)


def parse_dict(raw: str, field: str) -> dict[str, Any]:
    """A dict given in a query string: JSON, or the Python literal Tempest sends."""
    for parse in (json.loads, ast.literal_eval):
        try:
            found = parse(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            continue
        if isinstance(found, dict):
            return found
    raise HTTPFault.bad_request(f"Invalid input received: {field} must be a dict, not {raw!r}.")


def all_tenants(request: web.Request, is_admin: bool) -> bool:
    raw = request.query.get("all_tenants")
    if raw is None or not is_admin:
        return False
    return raw.strip().lower() not in ("0", "false", "f", "no", "off", "n")


def sort_keys(request: web.Request, allowed: frozenset[str]) -> list[tuple[str, bool]]:
    """``sort=key:dir,key`` or ``sort_key``/``sort_dir``; (key, descending) pairs."""
    query = request.query
    pairs: list[tuple[str, str]] = []
    if "sort" in query:
        if "sort_key" in query or "sort_dir" in query:
            raise HTTPFault.bad_request(
                "Invalid input received: The 'sort_key' and 'sort_dir' parameters are "
                "deprecated and cannot be used with the 'sort' parameter."
            )
        for item in query["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key.strip(), direction.strip() or "desc"))
    else:
        pairs.append((query.get("sort_key", "created_at"), query.get("sort_dir", "desc")))
    result = []
    for key, direction in pairs:
        if key not in allowed:
            raise HTTPFault.bad_request(f"Invalid input received: Invalid sort key {key}")
        if direction.lower() not in ("asc", "desc"):
            raise HTTPFault.bad_request(
                f"Invalid input received: Unknown sort direction {direction}, must be "
                "'desc' or 'asc'"
            )
        result.append((key, direction.lower() == "desc"))
    return result


def limit_of(request: web.Request, max_page: int) -> int | None:
    raw = request.query.get("limit")
    if raw is None:
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise HTTPFault.bad_request("limit param must be an integer") from None
    if limit < 0:
        raise HTTPFault.bad_request("limit param must be positive")
    return min(limit, max_page)


def page(
    request: web.Request,
    items: Sequence[T],
    ident: Callable[[T], str],
    key: Callable[[T, str], Any],
    allowed: frozenset[str],
    max_page: int,
) -> tuple[list[T], bool]:
    """Sort ``items``, start after ``marker``, cut at ``limit``; returns the page and
    whether a next link is due (a full page, as Cinder gives it)."""
    ordered = list(items)
    for name, descending in reversed(sort_keys(request, allowed)):
        ordered.sort(key=lambda item: _sortable(key(item, name)), reverse=descending)
    marker = request.query.get("marker")
    if marker is not None:
        ids = [ident(item) for item in ordered]
        if marker not in ids:
            raise HTTPFault.not_found(f"Marker {marker} could not be found.")
        ordered = ordered[ids.index(marker) + 1 :]
    offset = request.query.get("offset")
    if offset is not None:
        if not offset.isdigit():
            raise HTTPFault.bad_request("offset param must be an integer")
        ordered = ordered[int(offset) :]
    limit = limit_of(request, max_page)
    wanted = max_page if limit is None else limit
    cut = ordered[:wanted]
    return cut, limit is not None and len(cut) == wanted and wanted > 0


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def collection(
    request: web.Request,
    name: str,
    rendered: list[dict[str, Any]],
    more: bool,
    count: int,
) -> dict[str, Any]:
    document: dict[str, Any] = {name: rendered}
    if more and rendered:
        query = dict(request.query)
        query["marker"] = rendered[-1]["id"]
        url = request.url.with_query(query)
        document[f"{name}_links"] = [{"href": str(url), "rel": "next"}]
    if version(request) >= (3, 45) and request.query.get("with_count", "").lower() in (
        "true",
        "1",
        "yes",
    ):
        document["count"] = count
    return document
