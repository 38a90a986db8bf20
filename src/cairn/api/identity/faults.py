"""Keystone's fault shape, and identity's domain errors turned into faults.

Keystone answers every error as ``{"error": {"code": 404, "title": "Not Found",
"message": "Could not find project: x."}}``; a 401 also carries
``WWW-Authenticate: Keystone uri="<identity endpoint>"``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.api.faults import HTTPFault
from cairn.app import CommandConflict
from cairn.identity.errors import (
    Conflict,
    Forbidden,
    IdentityError,
    Invalid,
    NotFound,
    Unauthorized,
)
from cairn.identity.policy import PolicyError
from cairn.readmodel import ReadModelLagging

STATUS: dict[type[IdentityError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 400,
    Unauthorized: 401,
    Forbidden: 403,
}


def keystone_fault(status: int, message: str) -> dict[str, Any]:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return {"error": {"code": status, "title": title, "message": message}}


def unauthorized(request: web.Request, message: str) -> HTTPFault:
    uri = f"{request.url.origin()}/identity"
    return HTTPFault(401, message, headers={"WWW-Authenticate": f'Keystone uri="{uri}"'})


@web.middleware
async def identity_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors become faults here, at the edge of the identity API."""
    try:
        return await handler(request)
    except Unauthorized as exc:
        raise unauthorized(request, str(exc)) from None
    except IdentityError as exc:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
        raise HTTPFault(status, str(exc)) from None
    except CommandConflict:
        raise HTTPFault(409, "The resource was changed concurrently; retry.") from None
    except ReadModelLagging:
        raise HTTPFault(503, "The identity read model is behind; retry.") from None
    except PolicyError as exc:
        raise HTTPFault(500, str(exc)) from None
