"""``/v2.0/auto-allocated-topology/{project_id}``: get (making it) or delete a
project's auto-allocated network, as :mod:`cairn.network.topology` decides."""

from __future__ import annotations

from aiohttp import web

from cairn.api.network.common import caller, metadata, networking
from cairn.network import topology
from cairn.network.errors import Forbidden


async def show(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    project = request.match_info["project_id"]
    if project != who.project_id and not who.is_admin:
        raise Forbidden(
            f"(rule:get_auto_allocated_topology) is disallowed by policy for project {project}"
        )
    core = networking(request)
    if "dry-run" in request.query.getall("fields", []):
        return web.json_response({"auto_allocated_topology": {"dry-run": "pass"}})
    network = await core.run(
        metadata(request), lambda plan: topology.ensure(plan, who, core.config, project)
    )
    return web.json_response(
        {"auto_allocated_topology": {"id": network.id, "tenant_id": project, "project_id": project}}
    )


async def delete(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    project = request.match_info["project_id"]
    if project != who.project_id and not who.is_admin:
        raise Forbidden(
            f"(rule:delete_auto_allocated_topology) is disallowed by policy for project {project}"
        )
    core = networking(request)
    await core.run(metadata(request), lambda plan: topology.remove(plan, who, project))
    return web.Response(status=204)
