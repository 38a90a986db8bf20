"""The ``shelve``, ``shelveOffload`` and ``unshelve`` server actions (Nova's os-shelve).

``shelve`` makes the image ``<server name>-shelved`` first, as the caller and
with the properties ``createImage`` gives a snapshot (so it is theirs, in their
image quota), then asks the server's host to shelve into it; with
``shelved_offload_time`` 0 the host offloads in the same step. ``shelveOffload``
is an admin's (Nova's default policy). ``unshelve``'s body is ignored before
2.77; from 2.77 it may name an ``availability_zone``; from 2.91 the zone may be
``null`` (unpin the server) and an admin may name a ``host``. All answer 202
with no body.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import compute, invalid, v
from cairn.api.compute.snapshots import _document
from cairn.api.faults import HTTPFault
from cairn.compute import servers, shelving
from cairn.compute.service import Compute
from cairn.identity.service import Authenticated
from cairn.logs import get_logger
from cairn.projections.compute import Server

log = get_logger(__name__)

#: the longest name Nova's schemas accept (availability zones, host names)
MAX_NAME = 255


async def shelve(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(request, "os_compute_api:os-shelve:shelve", {"project_id": server.project_id})
    service, admin = compute(request), is_admin(who)
    shelving.check(server, is_admin=admin)
    document = _document(server, f"{server.name}-shelved", {})
    image_id = await service.images.create(who.token, document)
    call = metadata(request, who)
    at_once = service.config.shelved_offload_time == shelving.AT_ONCE
    try:
        await service.execute(
            lambda s: shelving.shelve(
                s, call, servers.find(s, server.id), image_id, is_admin=admin, offload=at_once
            )
        )
    except BaseException:
        await asyncio.shield(service.images.delete(who.token, image_id))
        raise
    return web.Response(status=202)


async def shelve_offload(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(
        request, "os_compute_api:os-shelve:shelve_offload", {"project_id": server.project_id}
    )
    call, admin = metadata(request, who), is_admin(who)
    await compute(request).execute(
        lambda s: shelving.offload(s, call, servers.find(s, server.id), is_admin=admin)
    )
    return web.Response(status=202)


def _name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise invalid(key, value, f"It must be a non-blank string of at most {MAX_NAME} characters")
    return value


def _placement(version: tuple[int, int], args: Any) -> shelving.Placement:
    """The zone (given or not, and which) and the host an unshelve asks for."""
    if version < (2, 77) or args is None:
        return (False, None), None
    if not isinstance(args, dict):
        raise invalid("unshelve", args, "It must be an object or null")
    allowed = {"availability_zone", "host"} if version >= (2, 91) else {"availability_zone"}
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise HTTPFault.bad_request(
            "Invalid input for field/attribute unshelve. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    zone: str | None = None
    if "availability_zone" in args:
        raw = args["availability_zone"]
        if raw is not None or version < (2, 91):
            zone = _name("availability_zone", raw)
    host = _name("host", args["host"]) if "host" in args else None
    return ("availability_zone" in args, zone), host


async def unshelve(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    target = {"project_id": server.project_id}
    await authorize(request, "os_compute_api:os-shelve:unshelve", target)
    placement = _placement(v(request), args)
    if placement[1] is not None:
        await authorize(request, "os_compute_api:os-shelve:unshelve_to_host", target)
    call, admin = metadata(request, who), is_admin(who)
    await compute(request).execute(
        lambda s: shelving.unshelve(s, call, servers.find(s, server.id), placement, is_admin=admin)
    )
    return web.Response(status=202)


async def after_delete(service: Compute, who: Authenticated, server: Server) -> None:
    """What a delete of a shelved server owes besides the delete: its shelved image
    goes (as Nova's API deletes it, as the caller), and, when it was deleted here
    (offloaded: on no host), its ports are let go before the answer, so a caller
    that deletes their subnet next finds it free (the port reaper would do it a
    moment later; releasing twice is harmless)."""
    if server.shelved_image_id is not None:
        with contextlib.suppress(Exception):
            await asyncio.shield(service.images.delete(who.token, server.shelved_image_id))
    gone = service.state.servers.get(server.id)
    if gone is None or not gone.deleted or not gone.networks:
        return
    try:
        await asyncio.shield(service.networks.release(server.id, gone.networks))
    except Exception as exc:  # the reaper tries again
        log.warning("cannot release a deleted server's ports", server_id=server.id, error=str(exc))
