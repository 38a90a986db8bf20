"""Nova's own name for the request id: ``x-compute-request-id``, on every compute
answer (errors too) beside the ``x-openstack-request-id`` the edge sends. Older
clients (and Tempest's instance-action tests) read the compute one."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.api.edge import request_id
from cairn.api.faults import HTTPFault

HEADER = "x-compute-request-id"


@web.middleware
async def compute_request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    header = {HEADER: request_id(request)}
    try:
        response = await handler(request)
    except (HTTPFault, web.HTTPException) as exc:
        exc.headers.update(header)
        raise
    response.headers.update(header)
    return response
