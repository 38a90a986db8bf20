"""``/servers/{id}/metadata``: the server's key-value metadata."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import compute, invalid, json
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import servers
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server


def _items(body: Any, root: str) -> dict[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get(root), dict):
        raise HTTPFault.bad_request(f"Invalid input: '{root}' is a required property")
    items: dict[str, str] = {}
    for key, value in body[root].items():
        if not 1 <= len(key) <= 255:
            raise invalid(root, key, "Keys are 1 to 255 characters")
        if not isinstance(value, str) or len(value) > 255:
            raise invalid(f"{root}.{key}", value, "Values are strings of at most 255 characters")
        items[key] = value
    return items


async def _server(request: web.Request, rule: str) -> tuple[Authenticated, Server]:
    who = caller(request)
    server = find_server(request, who)
    who = await authorize(
        request, f"os_compute_api:servers:metadata:{rule}", {"project_id": server.project_id}
    )
    return who, server


async def _store(
    request: web.Request, who: Authenticated, server: Server, new: dict[str, str]
) -> dict[str, str]:
    if server.locked and "admin" not in who.credentials.roles:
        raise HTTPFault.conflict(f"Instance {server.id} is locked")
    meta = metadata(request, who)
    service = compute(request)
    await service.execute(lambda s: servers.set_metadata(s, meta, servers.find(s, server.id), new))
    return dict(servers.find(service.state, server.id).metadata)


async def list_metadata(request: web.Request) -> web.Response:
    _, server = await _server(request, "index")
    return json({"metadata": dict(server.metadata)})


async def merge_metadata(request: web.Request) -> web.Response:
    who, server = await _server(request, "create")
    items = _items(await read_json(request), "metadata")
    return json({"metadata": await _store(request, who, server, {**server.metadata, **items})})


async def replace_metadata(request: web.Request) -> web.Response:
    who, server = await _server(request, "update_all")
    items = _items(await read_json(request), "metadata")
    return json({"metadata": await _store(request, who, server, items)})


async def show_item(request: web.Request) -> web.Response:
    _, server = await _server(request, "show")
    key = request.match_info["key"]
    if key not in server.metadata:
        raise HTTPFault.not_found("Metadata item was not found")
    return json({"meta": {key: server.metadata[key]}})


async def put_item(request: web.Request) -> web.Response:
    who, server = await _server(request, "update")
    key = request.match_info["key"]
    items = _items(await read_json(request), "meta")
    if list(items) != [key]:
        raise HTTPFault.bad_request("Request body and URI mismatch")
    await _store(request, who, server, {**server.metadata, **items})
    return json({"meta": items})


async def delete_item(request: web.Request) -> web.Response:
    who, server = await _server(request, "delete")
    key = request.match_info["key"]
    if key not in server.metadata:
        raise HTTPFault.not_found("Metadata item was not found")
    await _store(request, who, server, {k: val for k, val in server.metadata.items() if k != key})
    return web.Response(status=204)
