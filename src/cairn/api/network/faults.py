"""Neutron's fault shape, and the networking domain's errors turned into faults.

Neutron answers every error as ``{"NeutronError": {"type": "NetworkNotFound",
"message": "Network x could not be found.", "detail": ""}}``; clients (and
Tempest) read ``type``. Domain errors carry their own type; the edge's own
faults (401, 404 for an unknown path, 405, 413) get the name webob gives them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.app import CommandConflict
from cairn.network.errors import NetworkError
from cairn.readmodel import ReadModelLagging

TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "HTTPForbidden",
    404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed",
    406: "HTTPNotAcceptable",
    409: "HTTPConflict",
    412: "HTTPPreconditionFailed",
    413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType",
    500: "HTTPInternalServerError",
    501: "HTTPNotImplemented",
    503: "HTTPServiceUnavailable",
}

_encoder = msgspec.json.Encoder()


def neutron_fault(status: int, message: str, type: str | None = None) -> dict[str, Any]:
    name = type or TYPES.get(
        status, "HTTPInternalServerError" if status >= 500 else "HTTPBadRequest"
    )
    return {"NeutronError": {"type": name, "message": message, "detail": ""}}


def fault(status: int, message: str, type: str | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=_encoder.encode(neutron_fault(status, message, type)),
        content_type="application/json",
    )


@web.middleware
async def network_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors become faults here, at the edge of the networking API."""
    try:
        return await handler(request)
    except NetworkError as exc:
        return fault(exc.status, str(exc), exc.type)
    except CommandConflict:
        return fault(409, "Too many concurrent changes to these resources; try again.", "Conflict")
    except ReadModelLagging:
        response = fault(
            503, "The networking service is catching up; try again.", "ServiceUnavailable"
        )
        response.headers["Retry-After"] = "1"
        return response
