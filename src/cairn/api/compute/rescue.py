"""The ``rescue`` and ``unrescue`` server actions (Nova's os-rescue).

``rescue`` takes ``null`` or an object with ``adminPass`` and
``rescue_image_ref`` (a uuid; an image the caller cannot see is Nova's 400
"not supported"); without one the server's own image boots. The answer is 200
with an empty object: as for rebuild, Cairn sets no instance passwords (Nova
with ``enable_instance_password`` off answers so), and ``adminPass`` reaches
the rescue guest only on its config drive, when the server has one.
``unrescue`` answers 202.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import compute, invalid, json
from cairn.api.faults import HTTPFault
from cairn.compute import rescue as rescues
from cairn.compute import servers
from cairn.compute.errors import NotFound
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server


def _arguments(args: Any) -> tuple[str | None, str | None]:
    """The rescue image asked for and the password, from ``rescue``'s value."""
    if args is None:
        return None, None
    if not isinstance(args, dict):
        raise invalid("rescue", args, "It must be an object or null")
    unknown = sorted(set(args) - {"adminPass", "rescue_image_ref"})
    if unknown:
        raise HTTPFault.bad_request(
            "Invalid input for field/attribute rescue. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    password = args.get("adminPass")
    if password is not None and not isinstance(password, str):
        raise invalid("adminPass", password, "It must be a string")
    image = args.get("rescue_image_ref")
    if image is not None and not _is_uuid(image):
        raise invalid("rescue_image_ref", image, "It must be a uuid")
    return image, password


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def rescue(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(request, "os_compute_api:os-rescue", {"project_id": server.project_id})
    image_id, password = _arguments(args)
    service, admin = compute(request), is_admin(who)
    rescues.check(server, is_admin=admin)
    if image_id is not None:
        try:
            await service.images.get(image_id, who.token)
        except NotFound:
            raise HTTPFault.bad_request(
                f"Requested rescue image '{image_id}' is not supported"
            ) from None
    call = metadata(request, who)
    sealed = None if password is None else service.secrets.seal(password)
    await service.execute(
        lambda s: rescues.rescue(
            s, call, servers.find(s, server.id), image_id, sealed, is_admin=admin
        )
    )
    return json({}, status=200)


async def unrescue(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(request, "os_compute_api:os-unrescue", {"project_id": server.project_id})
    call, admin = metadata(request, who), is_admin(who)
    await compute(request).execute(
        lambda s: rescues.unrescue(s, call, servers.find(s, server.id), is_admin=admin)
    )
    return web.Response(status=202)
