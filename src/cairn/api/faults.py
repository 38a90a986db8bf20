"""OpenStack fault bodies: every 4xx and 5xx answer is one of these.

Nova and Cinder answer errors with a JSON object whose single key names the
fault and whose value holds the status code and a message::

    {"itemNotFound": {"code": 404, "message": "Server abc could not be found."}}

The names follow Nova's ``nova/api/openstack/wsgi.py`` (``Fault._fault_names``);
any status without a name of its own is a ``computeFault``, as in Nova. This
is the default :data:`FaultStyle`; a service whose OpenStack original answers
differently (Keystone's ``{"error": {...}}``, Neutron's ``NeutronError``)
declares its own style on its :class:`~cairn.api.services.Service`.

Handlers raise :class:`HTTPFault`; the edge middleware turns it, aiohttp's own
HTTP errors and any unexpected exception into a response with this body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import msgspec
from aiohttp import web

FAULT_NAMES: Mapping[int, str] = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
DEFAULT_FAULT_NAME = "computeFault"

# What the edge says when nothing more precise is known.
DEFAULT_MESSAGES: Mapping[int, str] = {
    400: "The request is malformed or otherwise incorrect.",
    401: "The request needs valid authentication credentials.",
    403: "Access to this resource is denied.",
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",
    406: "The requested representation or API version is not supported.",
    409: "The request conflicts with the current state of the resource.",
    413: "The request body is too large.",
    415: "The media type of the request body is not supported.",
    429: "Too many requests; retry later.",
    500: "The server has either erred or is incapable of performing the requested operation.",
    501: "This operation is not implemented.",
    503: "The service is unavailable; retry later.",
}

FaultStyle = Callable[[int, str], dict[str, Any]]
"""Builds a fault body from a status code and a message."""


def nova_fault(status: int, message: str) -> dict[str, Any]:
    """``{"<faultName>": {"code": status, "message": message}}``, Nova's shape."""
    return {FAULT_NAMES.get(status, DEFAULT_FAULT_NAME): {"code": status, "message": message}}


def default_message(status: int) -> str:
    if status in DEFAULT_MESSAGES:
        return DEFAULT_MESSAGES[status]
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return DEFAULT_MESSAGES[500] if status >= 500 else DEFAULT_MESSAGES[400]


class HTTPFault(Exception):
    """Raise in a handler to answer with a fault body.

    ``headers`` go on the response (``Retry-After`` for 429 or 503, ``Allow``
    for 405). Domain errors become faults only at the edge: a handler catches
    the domain error and raises the fault with a message for the user.
    """

    def __init__(
        self, status: int, message: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"a fault has a 4xx or 5xx status, not {status}")
        self.status = status
        self.message = message or default_message(status)
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {self.message}")

    @classmethod
    def bad_request(cls, message: str) -> HTTPFault:
        return cls(400, message)

    @classmethod
    def not_found(cls, message: str) -> HTTPFault:
        return cls(404, message)

    @classmethod
    def conflict(cls, message: str) -> HTTPFault:
        return cls(409, message)


_encoder = msgspec.json.Encoder()


def fault_response(
    status: int,
    message: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    style: FaultStyle = nova_fault,
) -> web.Response:
    """A response carrying a fault body of ``style``."""
    return web.Response(
        status=status,
        body=_encoder.encode(style(status, message or default_message(status))),
        content_type="application/json",
        headers=headers,
    )
