"""Reading JSON request bodies: every failure is a 4xx fault, never a 500.

Handlers call :func:`read_json` instead of ``request.json()``::

    body = await read_json(request, CreateServerBody)   # a msgspec Struct

A body that is not JSON is a 400 ``badRequest``; one that does not match the
expected type is a 400 naming the offending field; a body of another media
type is a 415 ``badMediaType``; one larger than the server accepts is a 413
``overLimit`` (raised by aiohttp while reading, turned into a fault at the
edge). A missing ``Content-Type`` is taken to mean JSON, as Nova does.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

import msgspec
from aiohttp import web

from cairn.api.faults import HTTPFault

T = TypeVar("T")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


@overload
async def read_json(request: web.Request) -> Any: ...
@overload
async def read_json(request: web.Request, type: type[T]) -> T: ...
async def read_json(request: web.Request, type: Any = Any) -> Any:
    """The request body decoded as JSON into ``type`` (any JSON value by default)."""
    content_type = request.headers.get("Content-Type", "").strip()
    if content_type and not _is_json(content_type):
        raise HTTPFault(
            415, f"The media type {content_type!r} is not supported; send application/json."
        )
    body = await request.read()
    if not body.strip():
        raise HTTPFault.bad_request("The request body is empty; a JSON document is required.")
    try:
        return msgspec.json.decode(body, type=type)
    except msgspec.ValidationError as exc:
        raise HTTPFault.bad_request(f"Invalid input: {exc}") from None
    except msgspec.DecodeError as exc:
        raise HTTPFault.bad_request(f"The request body is not valid JSON: {exc}") from None
