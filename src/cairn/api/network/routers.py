"""Router interfaces: ``PUT /v2.0/routers/{id}/add_router_interface`` and
``remove_router_interface``, by subnet or by port."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.network.attributes import uuid
from cairn.api.network.common import body, caller, metadata, networking
from cairn.network import routers
from cairn.network.errors import Invalid


def _ids(data: Any) -> tuple[str | None, str | None]:
    if not isinstance(data, dict):
        raise Invalid("Bad router request: the body must be an object.", "HTTPBadRequest")
    unknown = sorted(set(data) - {"subnet_id", "port_id"})
    if unknown:
        raise Invalid(f"Unrecognized attribute(s) '{', '.join(unknown)}'", "HTTPBadRequest")
    subnet = uuid("subnet_id", data["subnet_id"]) if data.get("subnet_id") else None
    port = uuid("port_id", data["port_id"]) if data.get("port_id") else None
    return subnet, port


async def add_interface(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    core = networking(request)
    subnet_id, port_id = _ids(await body(request))
    router_id = request.match_info["id"]
    answer = await core.run(
        metadata(request),
        lambda plan: routers.add_interface(plan, who, core.config, router_id, subnet_id, port_id),
    )
    return web.json_response(answer)


async def remove_interface(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    core = networking(request)
    subnet_id, port_id = _ids(await body(request))
    router_id = request.match_info["id"]
    answer = await core.run(
        metadata(request),
        lambda plan: routers.remove_interface(plan, who, router_id, subnet_id, port_id),
    )
    return web.json_response(answer)
