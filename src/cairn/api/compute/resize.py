"""The ``resize``, ``confirmResize``, ``revertResize`` and ``migrate`` server actions.

Bodies as Nova's schemas have them: ``resize`` takes ``flavorRef`` (required)
and ``OS-DCF:diskConfig`` (``AUTO`` or ``MANUAL``) and nothing else;
``confirmResize`` and ``revertResize`` take ``null``; ``migrate`` takes
``null``, or from 2.56 ``{"host": ...}`` (admins: migrating is an admin
action in Nova's default policy). ``resize``, ``revertResize`` and
``migrate`` answer 202, ``confirmResize`` 204, as Nova does. The decisions are
:mod:`cairn.compute.resizes`.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import compute, invalid, v
from cairn.api.compute.unbuilt import refuse_unbuilt_flavor
from cairn.api.faults import HTTPFault
from cairn.compute import flavors, resizes, servers
from cairn.compute.errors import NotFound
from cairn.identity.service import Authenticated
from cairn.projections.compute import Flavor, Server


def _unexpected(action: str, args: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute {action}. Additional properties are not "
            f"allowed ({', '.join(repr(k) for k in unknown)} were unexpected)"
        )


def _flavor(request: web.Request, who: Authenticated, ref: Any) -> Flavor:
    """The flavor ``flavorRef`` names, as the caller may see it (Nova's 400s)."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        ref = str(ref)
    if not isinstance(ref, str) or not ref.strip():
        raise invalid("flavorRef", ref, "It must be a non-empty string or an integer")
    flavor_id = ref.rstrip("/").rsplit("/", 1)[-1]
    try:
        flavor = flavors.find(compute(request).state, flavor_id)
    except NotFound:
        raise HTTPFault.bad_request("Unable to locate requested flavor.") from None
    if not flavors.visible(flavor, who.project_id, is_admin(who)):
        raise HTTPFault.bad_request("Unable to locate requested flavor.")
    refuse_unbuilt_flavor(flavor.snapshot())
    return flavor


async def resize(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(request, "os_compute_api:servers:resize", {"project_id": server.project_id})
    if not isinstance(args, dict):
        raise invalid("resize", args, "It must be an object")
    _unexpected("resize", args, {"flavorRef", "OS-DCF:diskConfig"})
    if "flavorRef" not in args:
        raise HTTPFault.bad_request(
            "Invalid input for field/attribute resize. 'flavorRef' is a required property"
        )
    if args.get("OS-DCF:diskConfig", "MANUAL") not in ("AUTO", "MANUAL"):
        raise invalid("OS-DCF:diskConfig", args["OS-DCF:diskConfig"], "It must be AUTO or MANUAL")
    flavor = _flavor(request, who, args["flavorRef"])
    meta, admin, service = metadata(request, who), is_admin(who), compute(request)
    migration_id, now = str(uuid.uuid4()), service.clock()
    await service.execute(
        lambda s: resizes.resize(
            s, meta, servers.find(s, server.id), flavor, migration_id, is_admin=admin, now=now
        )
    )
    return web.Response(status=202)


def _null(action: str, args: Any) -> None:
    # Nova validates no body for these: Tempest sends {} and gets its answer.
    if args is not None and args != {}:
        raise invalid(action, args, "It must be null or an empty object")


async def confirm_resize(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(
        request, "os_compute_api:servers:confirm_resize", {"project_id": server.project_id}
    )
    _null("confirmResize", args)
    meta, admin = metadata(request, who), is_admin(who)
    await compute(request).execute(
        lambda s: resizes.confirm(s, meta, servers.find(s, server.id), is_admin=admin)
    )
    return web.Response(status=204)


async def revert_resize(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(
        request, "os_compute_api:servers:revert_resize", {"project_id": server.project_id}
    )
    _null("revertResize", args)
    meta, admin = metadata(request, who), is_admin(who)
    await compute(request).execute(
        lambda s: resizes.revert(s, meta, servers.find(s, server.id), is_admin=admin)
    )
    return web.Response(status=202)


async def migrate(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(
        request, "os_compute_api:os-migrate-server:migrate", {"project_id": server.project_id}
    )
    host = None
    if args is not None:
        if v(request) < (2, 56):
            raise invalid("migrate", args, "It must be null")
        if not isinstance(args, dict):
            raise invalid("migrate", args, "It must be null or an object")
        _unexpected("migrate", args, {"host"})
        host = args.get("host")
        if host is not None and (not isinstance(host, str) or not 1 <= len(host) <= 255):
            raise invalid("host", host, "It must be a string of 1 to 255 characters, or null")
    meta, admin, service = metadata(request, who), is_admin(who), compute(request)
    migration_id, now = str(uuid.uuid4()), service.clock()
    await service.execute(
        lambda s: resizes.migrate(
            s, meta, servers.find(s, server.id), migration_id, is_admin=admin, now=now, host=host
        )
    )
    return web.Response(status=202)


ACTIONS = {
    "resize": resize,
    "confirmResize": confirm_resize,
    "revertResize": revert_resize,
    "migrate": migrate,
}
