"""What every compute handler needs: the service, the version, bodies, paging."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.keys import COMPUTE, VOLUME_DOCUMENTS
from cairn.api.compute.microversions import version
from cairn.api.faults import HTTPFault
from cairn.api.paging import PagingError, window
from cairn.compute.service import Compute
from cairn.compute.volume_documents import VolumeDocuments

T = TypeVar("T")


def compute(request: web.Request) -> Compute:
    return request.config_dict[COMPUTE]


def volume_port(request: web.Request) -> VolumeDocuments:
    """This cloud's block storage service, as compute reaches it (the caller's token)."""
    found = request.config_dict.get(VOLUME_DOCUMENTS)
    if found is None:
        raise HTTPFault.bad_request("This cloud has no block storage service.")
    return found


def now() -> float:
    return time.time()


def v(request: web.Request) -> tuple[int, int]:
    return version(request)


_encode = msgspec.json.Encoder().encode


def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response, encoded by msgspec (several times faster than ``json.dumps``
    on the server views that polling clients ask for most)."""
    return web.Response(
        body=_encode(body), status=status, headers=headers, content_type="application/json"
    )


def invalid(field: str, value: Any, reason: str) -> HTTPFault:
    """Nova's schema-validation message."""
    return HTTPFault.bad_request(
        f"Invalid input for field/attribute {field}. Value: {value}. {reason}"
    )


async def body_of(request: web.Request, root: str) -> dict[str, Any]:
    """The object under ``root`` in the JSON body (``{"server": {...}}``)."""
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get(root), dict):
        raise HTTPFault.bad_request(f"Invalid input: '{root}' is a required property")
    found: dict[str, Any] = body[root]
    return found


def string(
    data: dict[str, Any], key: str, *, required: bool = False, max_length: int = 255,
    min_length: int = 0, nullable: bool = False,
) -> str | None:  # fmt: skip
    if key not in data:
        if required:
            raise HTTPFault.bad_request(f"Invalid input: '{key}' is a required property")
        return None
    value = data[key]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise invalid(key, value, f"{value!r} is not of type 'string'")
    if not min_length <= len(value) <= max_length:
        raise invalid(key, value, f"The length must be between {min_length} and {max_length}")
    return value


_WHOLE = re.compile(r"-?[0-9]+")


def whole(value: Any) -> Any:
    """A string of ASCII digits (an optional ``-``, spaces around) as its int;
    any other value as it is. ``str.isdigit`` is not enough: ``"²"`` is a
    digit that ``int`` refuses (a 500 instead of a 400)."""
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value)
    return value


def integer(data: dict[str, Any], key: str, default: int, *, minimum: int = 0) -> int:
    value = whole(data.get(key, default))
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise invalid(key, value, f"It must be an integer greater than or equal to {minimum}")
    return value


def query_bool(request: web.Request, key: str) -> bool:
    raw = request.query.get(key)
    if raw is None:
        return False
    lowered = raw.strip().lower()
    if lowered in ("", "1", "true", "t", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "f", "no", "n", "off"):
        return False
    raise HTTPFault.bad_request(f"Invalid value {raw!r} for {key}: expected a boolean.")


def page(
    request: web.Request, items: Sequence[T], ident: Callable[[T], str]
) -> tuple[list[T], bool]:
    """``items`` after ``marker``, at most ``limit`` (capped by the compute
    config's ``max_limit``); and whether more follow (:mod:`cairn.api.paging`)."""
    try:
        found = window(
            items,
            ident,
            limit=request.query.get("limit"),
            marker=request.query.get("marker"),
            max_limit=compute(request).config.max_limit,
        )
    except PagingError as exc:
        if exc.kind == "limit":
            raise HTTPFault.bad_request("limit param must be an integer") from None
        raise HTTPFault.bad_request(f"marker [{exc.value}] not found") from None
    return found.items, found.more


def next_link(request: web.Request, kind: str, last_id: str) -> list[dict[str, str]]:
    query = {k: v for k, v in request.query.items() if k != "marker"}
    query["marker"] = last_id
    url = request.url.with_query(query)
    href = f"{request.url.origin()}/compute/v2.1/{kind}?{url.query_string}"
    return [{"rel": "next", "href": href}]
