"""Microversion negotiation, as Nova does it.

A request names its version in ``OpenStack-API-Version: compute 2.60`` (or the
older ``X-OpenStack-Nova-API-Version: 2.60``); ``latest`` is :data:`MAX`; no
header is 2.1. A malformed version is a 400, one outside ``MIN``..``MAX`` a 406.
Every answer under ``/v2.1`` names the version it was made for in both headers
and says it ``Vary``s on them. Handlers read the version with :func:`version`
and compare with tuples: ``if version(request) >= (2, 47): ...``.

:data:`MAX` is what the newest openstacksdk asks for (its Server resource's
``_max_microversion``); the response shapes each version implies are in
:mod:`.views` and the handlers.
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.api.compute.keys import MICROVERSION
from cairn.api.faults import HTTPFault

MIN = (2, 1)
MAX = (2, 100)
HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE_TYPE = "compute"
_FORMAT = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")


def text(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


def requested(request: web.Request) -> str | None:
    """The version string the request asks for, if any (the standard header wins)."""
    for value in request.headers.getall(HEADER, []):
        for item in value.split(","):
            service, _, wanted = item.strip().partition(" ")
            if service.lower() == SERVICE_TYPE:
                return wanted.strip()
    legacy = request.headers.get(LEGACY_HEADER)
    return legacy.strip() if legacy is not None else None


def parse(wanted: str | None) -> tuple[int, int]:
    if wanted is None:
        return MIN
    if wanted.lower() == "latest":
        return MAX
    match = _FORMAT.match(wanted)
    if match is None:
        raise HTTPFault.bad_request(
            f"API Version String {wanted} is of invalid format. Must be of format "
            "MajorNum.MinorNum."
        )
    found = (int(match.group(1)), int(match.group(2)))
    if not MIN <= found <= MAX:
        raise HTTPFault(
            406,
            f"Version {wanted} is not supported by the API. Minimum is {text(MIN)} and "
            f"maximum is {text(MAX)}.",
        )
    return found


def version(request: web.Request) -> tuple[int, int]:
    found: tuple[int, int] = request.get(MICROVERSION, MIN)
    return found


def _headers(v: tuple[int, int]) -> dict[str, str]:
    return {
        HEADER: f"{SERVICE_TYPE} {text(v)}",
        LEGACY_HEADER: text(v),
        "Vary": f"{HEADER}, {LEGACY_HEADER}",
    }


@web.middleware
async def microversion_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Negotiate under ``/v2.1``; version documents (``/compute``) take none."""
    if not request.path.startswith("/compute/v2"):
        return await handler(request)
    negotiated = parse(requested(request))
    request[MICROVERSION] = negotiated
    headers = _headers(negotiated)
    try:
        response = await handler(request)
    except HTTPFault as fault:
        fault.headers.update(headers)
        raise
    except web.HTTPException as exc:
        exc.headers.update(headers)
        raise
    response.headers.update(headers)
    return response
