"""``/servers/{id}/tags``: Nova's server tags (2.26+; below, the paths do not exist)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import compute, json, v
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import servers, tags
from cairn.compute.decide import Writes
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server


async def _server(request: web.Request, rule: str) -> tuple[Authenticated, Server]:
    if v(request) < (2, 26):
        raise HTTPFault.not_found("The resource could not be found.")
    who = caller(request)
    server = find_server(request, who)
    who = await authorize(
        request, f"os_compute_api:os-server-tags:{rule}", {"project_id": server.project_id}
    )
    return who, server


def _tag(request: web.Request) -> str:
    tag = request.match_info["tag"]
    problem = tags.tag_problem(tag)
    if problem is not None:
        raise HTTPFault.bad_request(
            f"Tag '{tag}' is invalid. It must be a non empty string without characters '/' "
            f"and ','. Validation error message: {problem}"
        )
    return tag


async def _change(request: web.Request, who: Authenticated, server: Server, decide: Any) -> Server:
    meta = metadata(request, who)
    service = compute(request)

    def decision(state: Any) -> Writes:
        return list(decide(state, meta, servers.find(state, server.id)))

    await service.execute(decision)
    return servers.find(service.state, server.id)


async def list_tags(request: web.Request) -> web.Response:
    _, server = await _server(request, "index")
    return json({"tags": list(server.tags)})


async def check_tag(request: web.Request) -> web.Response:
    _, server = await _server(request, "show")
    tag = request.match_info["tag"]
    if tag not in server.tags:
        raise HTTPFault.not_found(f"Tag {tag} does not exist for instance {server.id}")
    return web.Response(status=204)


async def replace_tags(request: web.Request) -> web.Response:
    who, server = await _server(request, "update_all")
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list) or len(body) != 1:
        raise HTTPFault.bad_request("Invalid input: 'tags' (a list) is the only property")
    for tag in body["tags"]:
        problem = tags.tag_problem(tag)
        if problem is not None:
            raise HTTPFault.bad_request(
                f"Invalid input for field/attribute tags. Value: {tag}. {problem}"
            )
    wanted: list[str] = body["tags"]
    changed = await _change(
        request, who, server, lambda s, m, found: tags.replace(s, m, found, wanted, "update tags")
    )
    return json({"tags": list(changed.tags)})


async def add_tag(request: web.Request) -> web.Response:
    who, server = await _server(request, "update")
    tag = _tag(request)
    existed = tag in server.tags
    await _change(request, who, server, lambda s, m, found: tags.add(s, m, found, tag))
    if existed:
        return web.Response(status=204)
    location = f"{request.url.origin()}/compute/v2.1/servers/{server.id}/tags/{tag}"
    return web.Response(status=201, headers={"Location": location})


async def delete_tag(request: web.Request) -> web.Response:
    who, server = await _server(request, "delete")
    tag = request.match_info["tag"]
    if tag not in server.tags:
        raise HTTPFault.not_found(f"Tag {tag} does not exist for instance {server.id}")
    await _change(request, who, server, lambda s, m, found: tags.remove(s, m, found, tag))
    return web.Response(status=204)


async def delete_all_tags(request: web.Request) -> web.Response:
    who, server = await _server(request, "delete_all")
    await _change(request, who, server, lambda s, m, found: tags.remove(s, m, found, None))
    return web.Response(status=204)
