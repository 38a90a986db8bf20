"""``/servers/{id}/os-instance-actions``: what was done to a server, from the log.

Answered for deleted servers too (Nova: since 2.21): the projection keeps every
server it ever saw, with the actions folded from its stream's events.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.compute.auth import allowed, authorize, is_admin
from cairn.api.compute.common import compute, json, v
from cairn.api.compute.views import host_id
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.projections.compute import InstanceAction, Server


def _server(request: web.Request) -> Server:
    who = caller(request)
    server_id = request.match_info["server_id"]
    server = compute(request).state.servers.get(server_id)
    if server is None or (not is_admin(who) and server.project_id != who.project_id):
        raise HTTPFault.not_found(f"Instance {server_id} could not be found.")
    if server.deleted and v(request) < (2, 21):
        raise HTTPFault.not_found(f"Instance {server_id} could not be found.")
    return server


def _action(server: Server, action: InstanceAction, version: tuple[int, int]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "action": action.action,
        "instance_uuid": server.id,
        "message": action.message,
        "project_id": action.project_id,
        "request_id": action.request_id,
        "start_time": action.start_time,
        "user_id": action.user_id,
    }
    if version >= (2, 58):
        view["updated_at"] = action.updated_at
    return view


async def list_actions(request: web.Request) -> web.Response:
    server = _server(request)
    await authorize(
        request, "os_compute_api:os-instance-actions:list", {"project_id": server.project_id}
    )
    version = v(request)
    actions = [_action(server, a, version) for a in reversed(server.actions)]
    return json({"instanceActions": actions})


async def show_action(request: web.Request) -> web.Response:
    server = _server(request)
    who = await authorize(
        request, "os_compute_api:os-instance-actions:show", {"project_id": server.project_id}
    )
    request_id = request.match_info["request_id"]
    found = next((a for a in reversed(server.actions) if a.request_id == request_id), None)
    if found is None:
        raise HTTPFault.not_found(
            f"Action for request_id {request_id} on instance {server.id} not found"
        )
    version = v(request)
    view = _action(server, found, version)
    admin_events = allowed(
        request, who, "os_compute_api:os-instance-actions:events", {"project_id": server.project_id}
    )
    if admin_events or version >= (2, 51):
        events = []
        for step in found.events:
            event: dict[str, Any] = {
                "event": step.event,
                "start_time": step.start_time,
                "finish_time": step.finish_time,
                "result": step.result,
            }
            if admin_events:
                event["traceback"] = None
            if version >= (2, 62):
                event["hostId"] = host_id(server.project_id, step.host)
                if admin_events:
                    event["host"] = step.host or ""
            if version >= (2, 84) and admin_events:
                event["details"] = step.details
            events.append(event)
        view["events"] = events
    return json({"instanceAction": view})
