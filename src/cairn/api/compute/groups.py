"""``/os-server-groups``: affinity and anti-affinity groups for the scheduler."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import allowed, authorize, is_admin, metadata, project_of
from cairn.api.compute.common import body_of, compute, json, page, query_bool, string, v
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import groups
from cairn.events import compute as ev
from cairn.projections.compute import ServerGroup


def _view(request: web.Request, group: ServerGroup) -> dict[str, Any]:
    view: dict[str, Any] = {"id": group.id, "name": group.name, "members": list(group.members)}
    if v(request) >= (2, 64):
        view["policy"] = group.policy
        view["rules"] = dict(group.rules)
    else:
        view["policies"] = [group.policy]
        view["metadata"] = {}
    if v(request) >= (2, 13):
        view["project_id"] = group.project_id
        view["user_id"] = group.user_id
    return view


async def list_groups(request: web.Request) -> web.Response:
    who = caller(request)
    await authorize(
        request, "os_compute_api:os-server-groups:index", {"project_id": who.project_id}
    )
    every = "all_projects" in request.query and query_bool(request, "all_projects")
    if every and not allowed(request, who, "os_compute_api:os-server-groups:index:all_projects"):
        every = False
    found = [
        g for g in compute(request).state.server_groups.values()
        if every or g.project_id == who.project_id
    ]  # fmt: skip
    chosen, _ = page(request, found, lambda g: g.id)
    return json({"server_groups": [_view(request, g) for g in chosen]})


async def show_group(request: web.Request) -> web.Response:
    who = caller(request)
    owner = None if is_admin(who) else who.project_id
    group = groups.find(compute(request).state, request.match_info["group_id"], owner)
    await authorize(
        request, "os_compute_api:os-server-groups:show", {"project_id": group.project_id}
    )
    return json({"server_group": _view(request, group)})


async def create_group(request: web.Request) -> web.Response:
    who = caller(request)
    project_id = project_of(who)
    who = await authorize(
        request, "os_compute_api:os-server-groups:create", {"project_id": project_id}
    )
    data = await body_of(request, "server_group")
    name = string(data, "name", required=True, min_length=1) or ""
    rules: dict[str, int] = {}
    if v(request) >= (2, 64):
        policy = string(data, "policy", required=True) or ""
        raw_rules = data.get("rules", {})
        if not isinstance(raw_rules, dict) or any(
            k != "max_server_per_host" or not isinstance(x, int) or x < 1
            for k, x in raw_rules.items()
        ):
            raise HTTPFault.bad_request("Invalid input for field/attribute rules.")
        rules = dict(raw_rules)
    else:
        policies = data.get("policies")
        if not isinstance(policies, list) or len(policies) != 1 or not isinstance(policies[0], str):
            raise HTTPFault.bad_request("Invalid input for field/attribute policies.")
        policy = policies[0]
    event = ev.ServerGroupCreated(
        group_id=str(uuid.uuid4()), project_id=project_id, user_id=who.user_id, name=name,
        policy=policy, rules=rules,
    )  # fmt: skip
    meta = metadata(request, who)
    service = compute(request)
    await service.execute(lambda s: groups.create(s, meta, event))
    return json({"server_group": _view(request, service.state.server_groups[event.group_id])})


async def delete_group(request: web.Request) -> web.Response:
    who = caller(request)
    owner = None if is_admin(who) else who.project_id
    group = groups.find(compute(request).state, request.match_info["group_id"], owner)
    who = await authorize(
        request, "os_compute_api:os-server-groups:delete", {"project_id": group.project_id}
    )
    meta = metadata(request, who)
    await compute(request).execute(lambda s: groups.delete(s, meta, groups.find(s, group.id, None)))
    return web.Response(status=204)
