"""A server's addresses by network: ``/servers/{id}/ips`` and ``/servers/{id}/ips/{network}``
(Nova's ``ips`` resource), from the addresses its ports were given at spawn."""

from __future__ import annotations

from aiohttp import web

from cairn.api.compute.auth import authorize
from cairn.api.compute.common import json
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller


async def list_ips(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(request, "os_compute_api:ips:index", {"project_id": server.project_id})
    return json({"addresses": server.addresses})


async def show_ips(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(request, "os_compute_api:ips:show", {"project_id": server.project_id})
    network = request.match_info["network"]
    if network not in server.addresses:
        raise HTTPFault.not_found("There is no such network on the server.")
    return json({network: server.addresses[network]})
