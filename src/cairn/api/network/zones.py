"""``/v2.0/availability_zones``: the zones networks and routers are in.

Every network agent of Cairn is in zone ``nova``, so networks and routers are
there; listed once for each resource type, as Neutron lists them."""

from __future__ import annotations

from aiohttp import web

from cairn.api.network.common import caller

ZONE = "nova"


async def list_zones(request: web.Request) -> web.Response:
    caller(request)
    zones = [
        {"name": ZONE, "resource": resource, "state": "available"}
        for resource in ("network", "router")
    ]
    for key in ("name", "resource", "state"):
        wanted = request.query.getall(key, [])
        if wanted:
            zones = [z for z in zones if z[key] in wanted]
    return web.json_response({"availability_zones": zones})
