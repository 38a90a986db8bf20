"""Networking quotas: ``/v2.0/quotas``, per project, its defaults and its details
(used, limit, reserved), as Neutron's ``quotas`` and ``quota_details`` extensions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.network.attributes import integer
from cairn.api.network.common import body, caller, metadata, networking
from cairn.network import quota
from cairn.network.access import Caller
from cairn.network.errors import Forbidden, Invalid


def _project(request: web.Request, who: Caller) -> str:
    project = request.match_info.get("project_id", "tenant")
    if project == "tenant":
        return who.project_id
    if project != who.project_id and not who.is_admin:
        raise Forbidden(f"(rule:get_quota) is disallowed by policy for project {project}")
    return project


async def list_quotas(request: web.Request) -> web.Response:
    who = caller(request)
    if not who.is_admin:
        raise Forbidden("(rule:get_quota) is disallowed by policy")
    core = networking(request)
    found = [
        {
            **quota.limits(core.state, core.config.quotas, project),
            "project_id": project,
            "tenant_id": project,
        }
        for project in sorted(core.state.quotas)
    ]
    return web.json_response({"quotas": found})


async def show_quota(request: web.Request) -> web.Response:
    who = caller(request)
    core = networking(request)
    project = _project(request, who)
    return web.json_response({"quota": quota.limits(core.state, core.config.quotas, project)})


async def show_default(request: web.Request) -> web.Response:
    who = caller(request)
    _project(request, who)
    return web.json_response({"quota": dict(networking(request).config.quotas)})


async def show_details(request: web.Request) -> web.Response:
    who = caller(request)
    core = networking(request)
    project = _project(request, who)
    limits = quota.limits(core.state, core.config.quotas, project)
    used = quota.used(core.state, project)
    return web.json_response(
        {
            "quota": {
                name: {"limit": limits[name], "used": used.get(name, 0), "reserved": 0}
                for name in limits
            }
        }
    )


def _limits(data: Any) -> dict[str, int]:
    if not isinstance(data, dict) or set(data) != {"quota"} or not isinstance(data["quota"], dict):
        raise Invalid('Invalid input: the body must be {"quota": {...}}.', "HTTPBadRequest")
    changes = {}
    for name, value in data["quota"].items():
        if name not in quota.RESOURCES:
            raise Invalid(f"Unrecognized attribute(s) '{name}'", "HTTPBadRequest")
        changes[name] = integer(-1)(name, value)
    return changes


async def update_quota(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    if not who.is_admin:
        raise Forbidden("(rule:update_quota) is disallowed by policy")
    core = networking(request)
    project = request.match_info["project_id"]
    changes = _limits(await body(request))
    await core.run(metadata(request), lambda plan: quota.set_limits(plan, project, changes))
    return web.json_response({"quota": quota.limits(core.state, core.config.quotas, project)})


async def delete_quota(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    if not who.is_admin:
        raise Forbidden("(rule:delete_quota) is disallowed by policy")
    core = networking(request)
    project = request.match_info["project_id"]
    if project in core.state.quotas:
        await core.run(metadata(request), lambda plan: quota.reset(plan, project))
    return web.Response(status=204)
