"""Glance's fault shape, and the image service's domain errors turned into faults.

Glance answers errors through webob; asked for JSON, its body is
``{"code": "404 Not Found", "title": "Not Found", "message": "No image found
with ID x"}`` (the status line as ``code``). openstacksdk shows ``message``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.api.faults import HTTPFault
from cairn.app import CommandConflict
from cairn.image.errors import Conflict, Forbidden, ImageError, Invalid, NotFound, QuotaExceeded
from cairn.readmodel import ReadModelLagging

STATUS: dict[type[ImageError], int] = {
    NotFound: 404,
    Invalid: 400,
    Forbidden: 403,
    Conflict: 409,
    QuotaExceeded: 413,
}


def glance_fault(status: int, message: str) -> dict[str, Any]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return {"code": f"{status} {title}", "title": title, "message": message}


@web.middleware
async def image_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors become faults here, at the edge of the image API."""
    try:
        return await handler(request)
    except ImageError as exc:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        raise HTTPFault(status, str(exc)) from None
    except CommandConflict:
        raise HTTPFault(409, "The image was changed concurrently; retry.") from None
    except ReadModelLagging:
        raise HTTPFault(503, "The image read model is behind; retry.") from None
