"""Port forwardings of a floating IP: ``/v2.0/floatingips/{id}/port_forwardings``."""

from __future__ import annotations

from aiohttp import web

from cairn.api.network import attributes
from cairn.api.network.common import body, caller, metadata, networking
from cairn.api.network.render import render
from cairn.network import common, floatingips
from cairn.network.access import visible
from cairn.network.errors import Invalid
from cairn.projections.network import Resource


def _fip(request: web.Request) -> Resource:
    who = caller(request)
    core = networking(request)
    fip_id = request.match_info["id"]
    fip = core.state.find("floatingip", fip_id)
    if fip is None or not visible(core.state, who, fip):
        raise common.not_found("floatingip", fip_id)
    return fip


async def list_forwardings(request: web.Request) -> web.Response:
    fip = _fip(request)
    state = networking(request).state
    found = [
        render(state, f, admin=True)
        for f in state.of("port_forwarding").values()
        if f.get("floatingip_id") == fip.id
    ]
    return web.json_response({"port_forwardings": sorted(found, key=lambda f: f["id"])})


async def show_forwarding(request: web.Request) -> web.Response:
    fip = _fip(request)
    state = networking(request).state
    found = state.find("port_forwarding", request.match_info["pf_id"])
    if found is None or found.get("floatingip_id") != fip.id:
        raise common.not_found("port_forwarding", request.match_info["pf_id"])
    return web.json_response({"port_forwarding": render(state, found, admin=True)})


def _attrs(data: object, *, creating: bool) -> dict[str, object]:
    if not isinstance(data, dict) or set(data) != {"port_forwarding"}:
        raise Invalid("Resource body required: {'port_forwarding': {...}}", "HTTPBadRequest")
    return attributes.parse("port_forwarding", data["port_forwarding"], creating=creating)


async def create_forwarding(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    core = networking(request)
    attrs = _attrs(await body(request), creating=True)
    fip_id = request.match_info["id"]
    created = await core.run(
        metadata(request),
        lambda plan: floatingips.create_forwarding(plan, who, fip_id, dict(attrs)),
    )
    found = core.state.find("port_forwarding", created.id) or created
    return web.json_response({"port_forwarding": render(core.state, found, admin=True)}, status=201)


async def update_forwarding(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    core = networking(request)
    attrs = _attrs(await body(request), creating=False)
    fip_id, pf_id = request.match_info["id"], request.match_info["pf_id"]
    await core.run(
        metadata(request),
        lambda plan: floatingips.update_forwarding(plan, who, fip_id, pf_id, dict(attrs)),
    )
    found = core.state.find("port_forwarding", pf_id)
    if found is None:
        raise common.not_found("port_forwarding", pf_id)
    return web.json_response({"port_forwarding": render(core.state, found, admin=True)})


async def delete_forwarding(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    core = networking(request)
    fip_id, pf_id = request.match_info["id"], request.match_info["pf_id"]
    await core.run(
        metadata(request), lambda plan: floatingips.delete_forwarding(plan, who, fip_id, pf_id)
    )
    return web.Response(status=204)
