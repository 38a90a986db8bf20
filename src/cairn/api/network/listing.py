"""Listing as Neutron lists: filters on attributes, ``fields``, sorting, paging.

* A query parameter named like an attribute filters on it; given several
  times, any of the values matches. Values are compared as Neutron's API
  shows them (``true``/``True`` for booleans, numbers as text), ``fixed_ips``
  takes ``ip_address=...``/``subnet_id=...``, and the ``tags`` family
  (``tags``, ``tags-any``, ``not-tags``, ``not-tags-any``) takes
  comma-separated lists. A parameter that names no attribute is a 400, as
  Neutron's filter validation answers.
* ``fields=a&fields=b`` keeps those attributes (``id`` is always computed on).
* ``sort_key``/``sort_dir`` pairs sort (default: by id); ``limit`` with
  ``marker`` pages, and a ``<resources>_links`` list names the next (and,
  with a marker, the previous) page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from cairn.network.errors import Invalid

PAGING = ("limit", "marker", "page_reverse", "sort_key", "sort_dir", "fields")
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _matches(item: dict[str, Any], key: str, wanted: list[str]) -> bool:
    if key in TAG_FILTERS:
        tags = set(item.get("tags") or [])
        groups = [set(filter(None, w.split(","))) for w in wanted]
        if key == "tags":
            return all(g <= tags for g in groups)
        if key == "tags-any":
            return any(g & tags for g in groups)
        if key == "not-tags":
            return not all(g <= tags for g in groups)
        return not any(g & tags for g in groups)
    value = item.get(key)
    if key == "fixed_ips":
        fixed = value or []
        for want in wanted:
            name, _, expected = want.partition("=")
            if not any(str(f.get(name)) == expected for f in fixed):
                return False
        return True
    if isinstance(value, list):
        return any(_text(v) in wanted or str(v) in wanted for v in value) or (
            not value and "" in wanted
        )
    text = _text(value)
    if isinstance(value, bool):
        wanted = [{"1": "true", "0": "false"}.get(w.lower(), w.lower()) for w in wanted]
    return text in wanted


def filter_items(
    items: list[dict[str, Any]],
    query: MultiMapping[str],
    *,
    known: set[str],
    ignored: Sequence[str] = (),
) -> list[dict[str, Any]]:
    filters: dict[str, list[str]] = {}
    for key, value in query.items():
        if key in PAGING or key in ignored:
            continue
        if key not in known and key not in TAG_FILTERS:
            raise Invalid(f"[{key}] is invalid attribute for filtering", "HTTPBadRequest")
        filters.setdefault(key, []).append(value)
    return [i for i in items if all(_matches(i, k, v) for k, v in filters.items())]


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def page(
    request: web.Request,
    collection: str,
    items: list[dict[str, Any]],
    *,
    known: set[str],
    max_page: int,
) -> dict[str, Any]:
    query = request.query
    keys, dirs = query.getall("sort_key", []), query.getall("sort_dir", [])
    if len(dirs) > len(keys):
        raise Invalid("The number of sort_keys and sort_dirs must be same", "HTTPBadRequest")
    for key in keys:
        if key not in known:
            raise Invalid(f"{key} is an invalid attribute for sort_keys", "HTTPBadRequest")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise Invalid(
                f"{direction} is an invalid value for sort_dirs, valid values are: ['asc', 'desc']",
                "HTTPBadRequest",
            )
    order = list(zip(keys, dirs + ["asc"] * (len(keys) - len(dirs)), strict=True))
    if "id" not in keys:
        order.append(("id", order[0][1] if order else "asc"))
    for key, direction in reversed(order):

        def value(item: dict[str, Any], key: str = key) -> tuple[int, Any]:
            return _sort_value(item.get(key))

        items.sort(key=value, reverse=direction == "desc")
    limit_text = query.get("limit")
    limit = max_page
    if limit_text is not None:
        if not limit_text.isascii() or not limit_text.strip().lstrip("-").isdigit():
            raise Invalid(
                f"Bad limit request: Limit must be an integer 0 or greater and not '{limit_text}'",
                "BadRequest",
            )
        limit = int(limit_text)
        if limit < 0:
            raise Invalid(
                f"Bad limit request: Limit must be an integer 0 or greater and not '{limit}'",
                "BadRequest",
            )
        limit = min(limit or max_page, max_page)
    reverse = query.get("page_reverse", "false").lower() == "true"
    marker = query.get("marker")
    start = 0
    ids = [i["id"] for i in items]
    if marker is not None:
        if marker not in ids:
            raise _marker_error(marker)
        start = ids.index(marker) + 1
    if reverse:
        end = ids.index(marker) if marker is not None else len(items)
        chunk = items[max(0, end - limit) : end]
        more = end - limit > 0
    else:
        chunk = items[start : start + limit]
        more = start + limit < len(items)
    result: dict[str, Any] = {collection: chunk}
    if limit_text is not None:
        links = []
        base = request.url
        if chunk and (more or (reverse and marker)):
            target = chunk[-1]["id"] if not reverse else chunk[0]["id"]
            if more or not reverse:
                links.append(
                    {
                        "rel": "next" if not reverse else "previous",
                        "href": str(
                            base.update_query(
                                marker=target, limit=str(limit), page_reverse=str(reverse)
                            )
                        ),
                    }
                )
        if chunk and marker is not None:
            target = chunk[0]["id"] if not reverse else chunk[-1]["id"]
            links.append(
                {
                    "rel": "previous" if not reverse else "next",
                    "href": str(
                        base.update_query(
                            marker=target, limit=str(limit), page_reverse=str(not reverse)
                        )
                    ),
                }
            )
        if links:
            result[f"{collection}_links"] = links
    return result


def _marker_error(marker: str) -> Invalid:
    return Invalid(f"Marker {marker} could not be found.", "BadRequest")


def select_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields}
