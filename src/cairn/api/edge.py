"""The edge: what every request goes through, whichever service it reaches.

* A fresh request id, ``req-<uuid4>``, for every request. Ids sent by clients
  are ignored: the id names this API call in our logs and events, so it must
  be ours and unique. It is bound to the log context while the request runs
  and sent back as ``x-openstack-request-id`` on every response, errors and
  streamed bodies included (:func:`stamp_request_id`, an
  ``on_response_prepare`` hook, runs just before the headers go out).
* Every error becomes an OpenStack fault body (:mod:`cairn.api.faults`):
  :class:`~cairn.api.faults.HTTPFault` from handlers, aiohttp's own 404, 405
  and 413, an unavailable store (503), and any unexpected exception, which is
  logged with its traceback and answered with a 500 that reveals nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from cairn.api.faults import FaultStyle, HTTPFault, default_message, fault_response, nova_fault
from cairn.api.keys import REQUEST_ID, SERVICE
from cairn.logs import get_logger
from cairn.store.port import StoreClosed, StoreUnavailable

REQUEST_ID_HEADER = "x-openstack-request-id"

log = get_logger(__name__)

# Headers of an aiohttp HTTPException that describe its own (replaced) body.
_BODY_HEADERS = frozenset({hdrs.CONTENT_TYPE.lower(), hdrs.CONTENT_LENGTH.lower()})


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


def request_id(request: web.Request) -> str:
    """The id of ``request``, made on first use."""
    rid = request.get(REQUEST_ID)
    if rid is None:
        rid = request[REQUEST_ID] = new_request_id()
    return rid


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request_id(request)
    with structlog.contextvars.bound_contextvars(request_id=rid):
        try:
            return await handler(request)
        except HTTPFault as fault:
            if fault.status >= 500:
                log.warning("request failed", status=fault.status, message=fault.message)
            return _fault(request, fault.status, fault.message, fault.headers)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise  # redirects and the like; stamp_request_id still runs
            message, headers = _describe(request, exc)
            return _fault(request, exc.status, message, headers)
        except (StoreUnavailable, StoreClosed) as exc:
            log.warning("event store unavailable", error=str(exc))
            return _fault(request, 503, "The event store is unavailable; retry later.", {})
        except Exception:
            # The traceback goes to the log, never to the client.
            log.exception("unhandled error", method=request.method, path=request.path)
            return _fault(request, 500, None, {})


async def stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: put the request id on every response."""
    response.headers[REQUEST_ID_HEADER] = request_id(request)


def fault_style(request: web.Request) -> FaultStyle:
    """The fault style of the service that ``request`` reached (Nova's by default)."""
    for app in reversed(request.match_info.apps):
        service = app.get(SERVICE)
        if service is not None:
            return service.fault_style
    return nova_fault


def _fault(
    request: web.Request, status: int, message: str | None, headers: Mapping[str, str]
) -> web.Response:
    return fault_response(status, message, headers=headers, style=fault_style(request))


def _describe(request: web.Request, exc: web.HTTPException) -> tuple[str, dict[str, str]]:
    """A message and the headers worth keeping for one of aiohttp's HTTP errors."""
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in _BODY_HEADERS}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return f"The method {request.method} is not allowed for this resource.", headers
    # aiohttp's 413 says what the limit is, and a handler that raised
    # web.HTTPConflict(text="...") chose its words: keep them.
    if exc.text and exc.text != f"{exc.status}: {exc.reason}":
        return exc.text, headers
    return default_message(exc.status), headers
