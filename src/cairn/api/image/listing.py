"""``GET /v2/images``: which images a caller sees, filtered, sorted and paged as Glance does.

* visibility: none given, a caller sees its own images, public ones, and shared
  ones it accepted (``member_status``, default ``accepted``); ``public``,
  ``private``, ``shared``, ``community`` or ``all`` select explicitly. Hidden
  images (``os_hidden``) are left out unless ``os_hidden=true``.
* filters: ``name``, ``status``, ``owner``, ``id``, ``disk_format``,
  ``container_format`` (each also as ``in:a,b``), ``tag`` (repeatable, all
  must match), ``protected``, ``size_min``/``size_max``,
  ``created_at``/``updated_at`` with ``gt:``, ``gte:``, ``lt:``, ``lte:``,
  ``eq:``, ``neq:``, and any additional property by name.
* sorting: ``sort=key:dir,key:dir`` or ``sort_key``/``sort_dir`` (repeatable);
  by default newest first.
* paging: ``limit`` (default 25, at most 1000) and ``marker``; a ``next`` link
  while more images follow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from cairn.api.image.common import Caller
from cairn.image import rules
from cairn.image.errors import Invalid
from cairn.projections.image import Image

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
SORT_KEYS = (
    "name", "status", "container_format", "disk_format", "size", "id", "created_at",
    "updated_at", "visibility", "owner", "min_disk", "min_ram", "virtual_size", "protected",
)  # fmt: skip
#: Query parameters that are not property filters.
CONTROL = frozenset({
    "limit", "marker", "sort", "sort_key", "sort_dir", "visibility", "member_status", "tag",
    "size_min", "size_max", "created_at", "updated_at", "os_hidden", "protected",
})  # fmt: skip
IN_FILTERS = ("name", "status", "owner", "id", "disk_format", "container_format")
COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}

Predicate = Callable[[Image], bool]


def value_of(image: Image, key: str) -> Any:
    """An image's attribute by its API name (base, data, or additional property)."""
    if key in ("id", "status", "owner", "created_at", "updated_at"):
        return getattr(image, key)
    if key in ("size", "virtual_size", "checksum"):
        return getattr(image.data, key) if image.data else None
    if key in rules.BASE:
        return getattr(image.attributes, key)
    return image.attributes.properties.get(key)


def _int(request: web.Request, name: str, low: int, high: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    text = raw.strip()
    # isdecimal, not isdigit: int() refuses digits such as "²"
    value = int(text) if text.isascii() and text.isdecimal() else None
    if value is None or value < low or (high is not None and value > high):
        raise Invalid(f"Invalid {name} {raw!r}: expected a whole number of at least {low}.")
    return value


def _bool(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise Invalid(f"Invalid {name} {raw!r}: expected true or false.")


def _time_filter(name: str, raw: str) -> Predicate:
    op, sep, text = raw.partition(":")
    if not sep or op not in COMPARATORS:
        raise Invalid(f"Invalid {name} filter {raw!r}: expected gt:, gte:, lt:, lte:, eq: or neq:.")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"Invalid time {text!r} in the {name} filter.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    compare = COMPARATORS[op]
    return lambda image: compare(getattr(image, name).replace(microsecond=0), when)


def _visibility(request: web.Request, who: Caller) -> Predicate:
    visibility = request.query.get("visibility")
    member_status = request.query.get("member_status", "accepted")
    if member_status not in (*rules.MEMBER_STATUSES, "all"):
        raise Invalid(f"Invalid member_status {member_status!r}.")
    if visibility is not None and visibility not in (*rules.VISIBILITIES, "all"):
        raise Invalid(f"Invalid visibility {visibility!r}.")

    def shared_ok(image: Image) -> bool:
        if who.admin or image.owner == who.project:
            return True
        member = image.members.get(who.project or "")
        return member is not None and member_status in ("all", member.status)

    def check(image: Image) -> bool:
        if not rules.can_see(image, who.project, who.admin):
            return False
        if visibility is None:
            if image.visibility == "shared":
                return shared_ok(image)
            return rules.listed_by_default(image, who.project, who.admin)
        if visibility == "all":
            return image.visibility != "shared" or shared_ok(image)
        return image.visibility == visibility and (visibility != "shared" or shared_ok(image))

    return check


def predicates(request: web.Request, who: Caller) -> list[Predicate]:
    query = request.query
    found: list[Predicate] = [_visibility(request, who)]
    hidden = _bool(request, "os_hidden")
    found.append(lambda i: i.attributes.os_hidden == bool(hidden))
    protected = _bool(request, "protected")
    if protected is not None:
        found.append(lambda i: i.attributes.protected == protected)
    tags = query.getall("tag", [])
    if tags:
        found.append(lambda i: all(t in i.attributes.tags for t in tags))
    size_min, size_max = _int(request, "size_min", 0), _int(request, "size_max", 0)
    if size_min is not None:
        found.append(lambda i: i.data is not None and i.data.size >= size_min)
    if size_max is not None:
        found.append(lambda i: i.data is not None and i.data.size <= size_max)
    for name in ("created_at", "updated_at"):
        for raw in query.getall(name, []):
            found.append(_time_filter(name, raw))
    for key, raw in query.items():
        if key in CONTROL:
            continue
        if key in IN_FILTERS and raw.startswith("in:"):
            wanted = set(raw[3:].split(","))
            found.append(lambda i, k=key, w=wanted: value_of(i, k) in w)  # type: ignore[misc]
        else:
            found.append(lambda i, k=key, v=raw: _text(value_of(i, k)) == v)  # type: ignore[misc]
    return found


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sort_keys(request: web.Request) -> list[tuple[str, bool]]:
    """``(key, descending)`` pairs, most significant first."""
    query = request.query
    pairs: list[tuple[str, str]] = []
    if "sort" in query:
        if "sort_key" in query or "sort_dir" in query:
            raise Invalid("Use sort, or sort_key and sort_dir, not both.")
        for item in query["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key, direction or "desc"))
    else:
        keys = query.getall("sort_key", [])
        dirs = query.getall("sort_dir", [])
        if len(dirs) > max(1, len(keys)):
            raise Invalid("More sort directions than sort keys.")
        for index, key in enumerate(keys or ["created_at"]):
            direction = dirs[index] if index < len(dirs) else (dirs[0] if dirs else "desc")
            pairs.append((key, direction))
    for key, direction in pairs:
        if key not in SORT_KEYS:
            raise Invalid(f"Invalid sort key {key!r}; choose from {', '.join(SORT_KEYS)}.")
        if direction not in ("asc", "desc"):
            raise Invalid(f"Invalid sort direction {direction!r}: asc or desc.")
    found = [(key, direction == "desc") for key, direction in pairs]
    if "id" not in {key for key, _ in found}:
        found.append(("id", found[0][1]))  # a total order, so markers are stable
    return found


def ordered(images: list[Image], keys: list[tuple[str, bool]]) -> list[Image]:
    result = list(images)
    for key, descending in reversed(keys):  # stable sorts, least significant key first
        result.sort(key=_sort_key(key), reverse=descending)
    return result


def _sort_key(key: str) -> Callable[[Image], tuple[bool, Any]]:
    # None sorts first ascending and last descending; two Nones are only compared with ==.
    def sortable(image: Image) -> tuple[bool, Any]:
        value = value_of(image, key)
        return (value is not None, value)

    return sortable


def page(request: web.Request, who: Caller, all_images: list[Image]) -> dict[str, Any]:
    """The listing's body: ``images``, ``first``, ``schema`` and, when more follow, ``next``."""
    limit = _int(request, "limit", 0, None)
    limit = DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT)
    tests = predicates(request, who)
    selected = ordered([i for i in all_images if all(t(i) for t in tests)], sort_keys(request))
    marker = request.query.get("marker")
    if marker is not None:
        at = next((n for n, image in enumerate(selected) if image.id == marker), None)
        if at is None:
            raise Invalid(f"The marker {marker!r} is not an image of this listing.")
        selected = selected[at + 1 :]
    shown = selected[:limit]
    body: dict[str, Any] = {"first": "/v2/images", "schema": "/v2/schemas/images"}
    body["images"] = shown
    if len(selected) > limit and shown:
        params = [(k, v) for k, v in request.query.items() if k != "marker"]
        params.append(("marker", shown[-1].id))
        body["next"] = f"/v2/images?{urlencode(params)}"
    return body
