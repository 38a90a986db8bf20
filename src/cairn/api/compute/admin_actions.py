"""Server actions for admins: ``os-resetState``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import compute, invalid
from cairn.api.faults import HTTPFault
from cairn.compute import admin_actions, servers
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server


async def reset_state(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(
        request, "os_compute_api:os-admin-actions:reset_state", {"project_id": server.project_id}
    )
    if not isinstance(args, dict) or "state" not in args:
        raise HTTPFault.bad_request("Invalid input: 'state' is a required property")
    if set(args) != {"state"}:
        raise HTTPFault.bad_request(
            "Invalid input for field/attribute os-resetState. Additional properties are not allowed"
        )
    wanted = args["state"]
    if wanted not in admin_actions.RESET_STATES:
        raise invalid("state", wanted, "It must be one of 'active', 'error'")
    meta = metadata(request, who)
    await compute(request).execute(
        lambda s: admin_actions.reset_state(s, meta, servers.find(s, server.id), wanted)
    )
    return web.Response(status=202)


ACTIONS = {"os-resetState": reset_state}
