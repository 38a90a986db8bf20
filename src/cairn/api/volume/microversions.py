"""Microversion negotiation, as Cinder does it.

A request names its version in ``OpenStack-API-Version: volume 3.x``; ``latest``
is :data:`MAX`; no header is 3.0. A malformed version is a 400, one outside
``MIN``..``MAX`` a 406. Every answer under ``/v3`` names the version it was made
for and says it ``Vary``s on the header. :data:`MAX` is what the newest
openstacksdk asks for (its Volume resource's ``_max_microversion``, 3.71).
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.api.faults import HTTPFault
from cairn.api.volume.keys import MICROVERSION

MIN = (3, 0)
MAX = (3, 71)
HEADER = "OpenStack-API-Version"
SERVICE_TYPES = ("volume", "block-storage")
_FORMAT = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")


def text(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


def requested(request: web.Request) -> str | None:
    for value in request.headers.getall(HEADER, []):
        for item in value.split(","):
            service, _, wanted = item.strip().partition(" ")
            if service.lower() in SERVICE_TYPES:
                return wanted.strip()
    return None


def parse(wanted: str | None) -> tuple[int, int]:
    if wanted is None:
        return MIN
    if wanted.lower() == "latest":
        return MAX
    match = _FORMAT.match(wanted)
    if match is None:
        raise HTTPFault.bad_request(
            f"Invalid API version request string {wanted}: must be of the format MajorNum.MinorNum."
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


@web.middleware
async def microversion_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Negotiate under ``/v3``; the version documents take none."""
    if not request.path.startswith("/volume/v3/"):
        return await handler(request)
    negotiated = parse(requested(request))
    request[MICROVERSION] = negotiated
    headers = {HEADER: f"volume {text(negotiated)}", "Vary": HEADER}
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
