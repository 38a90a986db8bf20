"""The edge of the compute domain: its errors become Nova's faults here."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.api.faults import HTTPFault
from cairn.app.executor import CommandConflict
from cairn.compute.errors import (
    Conflict,
    Forbidden,
    ImageUnavailable,
    Invalid,
    NotFound,
    QuotaExceeded,
)
from cairn.readmodel import ReadModelLagging


@web.middleware
async def compute_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFound as exc:
        raise HTTPFault.not_found(str(exc)) from None
    except Invalid as exc:
        raise HTTPFault.bad_request(str(exc)) from None
    except Conflict as exc:
        raise HTTPFault.conflict(str(exc)) from None
    except (Forbidden, QuotaExceeded) as exc:
        raise HTTPFault(403, str(exc)) from None
    except ImageUnavailable as exc:
        raise HTTPFault(503, f"The image service is unavailable: {exc}") from None
    except CommandConflict:
        raise HTTPFault.conflict(
            "Too many concurrent changes to this resource; try again."
        ) from None
    except ReadModelLagging:
        raise HTTPFault(
            503, "The compute service is catching up; try again.", headers={"Retry-After": "1"}
        ) from None
