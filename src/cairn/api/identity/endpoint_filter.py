"""``/v3/OS-EP-FILTER``: endpoint groups, and which endpoints a project's catalog has.

An endpoint group is a named filter (``service_id``, ``region_id``,
``interface``) over the catalog's endpoints. Endpoints and endpoint groups are
associated with projects; once a project has any association, the catalog of
its tokens holds only the endpoints associated with it (directly or through a
group), as Keystone's endpoint filter does; a project with none sees them all.
Associations live on the project's ``epfilter-<project id>`` stream.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.identity import render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import Name, Text, json, path_id, run, state
from cairn.events import DomainEvent, Metadata
from cairn.events import identity as ev
from cairn.identity.decide import change, create, find, new_id
from cairn.identity.errors import NotFound
from cairn.projections.identity import EndpointGroup, IdentityState
from cairn.store.port import StreamWrite

BASE = "/OS-EP-FILTER"
FilterKey = Literal["service_id", "region_id", "interface"]


class NewGroup(msgspec.Struct):
    name: Name
    filters: dict[FilterKey, Name]
    description: Text | None = None


class GroupBody(msgspec.Struct):
    endpoint_group: NewGroup


class GroupChange(msgspec.Struct):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    filters: dict[FilterKey, Name] | msgspec.UnsetType = msgspec.UNSET
    description: Text | msgspec.UnsetType | None = msgspec.UNSET


class GroupChangeBody(msgspec.Struct):
    endpoint_group: GroupChange


def _group(request: web.Request, g: EndpointGroup) -> render.Json:
    return {
        "id": g.id, "name": g.name, "description": g.description, "filters": dict(g.filters),
        "links": {"self": render.v3_url(request, f"{BASE}/endpoint_groups/{g.id}")},
    }  # fmt: skip


# -- endpoint groups ---------------------------------------------------------------------


async def list_groups(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_endpoint_groups", {})
    items = [g for g in state(request).endpoint_groups.values()
             if "name" not in request.query or g.name == request.query["name"]]  # fmt: skip
    return json(render.collection(request, "endpoint_groups", [_group(request, g) for g in items]))


async def create_group(request: web.Request) -> web.Response:
    await authorize(request, "identity:create_endpoint_group", {})
    body = (await read_json(request, GroupBody)).endpoint_group
    event = ev.EndpointGroupCreated(
        endpoint_group_id=new_id(), name=body.name, description=body.description or "",
        filters={str(k): v for k, v in body.filters.items()},
    )  # fmt: skip
    await run(request, lambda s, m: [create("endpointgroup", event.endpoint_group_id, m, event)])
    group = state(request).endpoint_groups[event.endpoint_group_id]
    return json({"endpoint_group": _group(request, group)}, 201)


async def get_group(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    await authorize(request, "identity:get_endpoint_group", {})
    group = find(state(request).endpoint_groups, group_id, "endpoint group")
    return json({"endpoint_group": _group(request, group)})


async def update_group(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    await authorize(request, "identity:update_endpoint_group", {})
    c = (await read_json(request, GroupChangeBody)).endpoint_group
    old = find(state(request).endpoint_groups, group_id, "endpoint group")
    event = ev.EndpointGroupUpdated(
        endpoint_group_id=group_id,
        name=old.name if c.name is msgspec.UNSET else c.name,
        description=old.description if c.description is msgspec.UNSET else c.description or "",
        filters=dict(old.filters)
        if c.filters is msgspec.UNSET
        else {str(k): v for k, v in c.filters.items()},
    )

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.endpoint_groups, group_id, "endpoint group")
        return [change(s, "endpointgroup", group_id, m, event)]

    await run(request, decide)
    return json({"endpoint_group": _group(request, state(request).endpoint_groups[group_id])})


async def delete_group(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    await authorize(request, "identity:delete_endpoint_group", {})

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.endpoint_groups, group_id, "endpoint group")
        event = ev.EndpointGroupDeleted(endpoint_group_id=group_id)
        return [change(s, "endpointgroup", group_id, m, event)]

    await run(request, decide)
    return web.Response(status=204)


async def group_endpoints(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    await authorize(request, "identity:list_endpoints_associated_with_endpoint_group", {})
    s = state(request)
    group = find(s.endpoint_groups, group_id, "endpoint group")
    items = [render.endpoint(request, e) for e in s.endpoints.values() if group.matches(e)]
    return json(render.collection(request, "endpoints", items))


async def group_projects(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    await authorize(request, "identity:list_projects_associated_with_endpoint_group", {})
    s = state(request)
    find(s.endpoint_groups, group_id, "endpoint group")
    items = [render.project(request, s.projects[p])
             for p, groups in s.project_endpoint_groups.items()
             if group_id in groups and p in s.projects]  # fmt: skip
    return json(render.collection(request, "projects", items))


# -- associations with projects ------------------------------------------------------------


async def _associate(request: web.Request, project_id: str, event: DomainEvent) -> None:
    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.projects, project_id, "project")
        return [change(s, "epfilter", project_id, m, event)]

    await run(request, decide)


def _ids(request: web.Request, *names: str) -> list[str]:
    return [path_id(request, n) for n in names]


async def add_project_endpoint(request: web.Request) -> web.Response:
    project_id, endpoint_id = _ids(request, "project_id", "endpoint_id")
    await authorize(request, "identity:add_endpoint_to_project", {})
    find(state(request).endpoints, endpoint_id, "endpoint")
    if endpoint_id not in state(request).project_endpoints.get(project_id, set()):
        event = ev.ProjectEndpointAdded(project_id=project_id, endpoint_id=endpoint_id)
        await _associate(request, project_id, event)
    return web.Response(status=204)


async def check_project_endpoint(request: web.Request) -> web.Response:
    project_id, endpoint_id = _ids(request, "project_id", "endpoint_id")
    await authorize(request, "identity:check_endpoint_in_project", {})
    s = state(request)
    find(s.projects, project_id, "project")
    find(s.endpoints, endpoint_id, "endpoint")
    if endpoint_id not in s.project_endpoints.get(project_id, set()):
        raise NotFound("endpoint in project", f"{endpoint_id} in {project_id}")
    return web.Response(status=204)


async def remove_project_endpoint(request: web.Request) -> web.Response:
    project_id, endpoint_id = _ids(request, "project_id", "endpoint_id")
    await authorize(request, "identity:remove_endpoint_from_project", {})
    if endpoint_id not in state(request).project_endpoints.get(project_id, set()):
        raise NotFound("endpoint in project", f"{endpoint_id} in {project_id}")
    event = ev.ProjectEndpointRemoved(project_id=project_id, endpoint_id=endpoint_id)
    await _associate(request, project_id, event)
    return web.Response(status=204)


async def project_endpoints(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    await authorize(request, "identity:list_endpoints_for_project", {})
    s = state(request)
    find(s.projects, project_id, "project")
    direct = s.project_endpoints.get(project_id, set())
    groups = [s.endpoint_groups[g] for g in s.project_endpoint_groups.get(project_id, ())
              if g in s.endpoint_groups]  # fmt: skip
    items = [render.endpoint(request, e) for e in s.endpoints.values()
             if e.id in direct or any(g.matches(e) for g in groups)]  # fmt: skip
    return json(render.collection(request, "endpoints", items))


async def endpoint_projects(request: web.Request) -> web.Response:
    endpoint_id = path_id(request, "endpoint_id")
    await authorize(request, "identity:list_projects_for_endpoint", {})
    s = state(request)
    find(s.endpoints, endpoint_id, "endpoint")
    items = [render.project(request, s.projects[p])
             for p, endpoints in s.project_endpoints.items()
             if endpoint_id in endpoints and p in s.projects]  # fmt: skip
    return json(render.collection(request, "projects", items))


async def add_project_group(request: web.Request) -> web.Response:
    group_id, project_id = _ids(request, "group_id", "project_id")
    await authorize(request, "identity:add_endpoint_group_to_project", {})
    find(state(request).endpoint_groups, group_id, "endpoint group")
    if group_id not in state(request).project_endpoint_groups.get(project_id, set()):
        event = ev.ProjectEndpointGroupAdded(project_id=project_id, endpoint_group_id=group_id)
        await _associate(request, project_id, event)
    return web.Response(status=204)


async def check_project_group(request: web.Request) -> web.Response:
    group_id, project_id = _ids(request, "group_id", "project_id")
    await authorize(request, "identity:get_endpoint_group_in_project", {})
    s = state(request)
    find(s.endpoint_groups, group_id, "endpoint group")
    project = find(s.projects, project_id, "project")
    if group_id not in s.project_endpoint_groups.get(project_id, set()):
        raise NotFound("endpoint group in project", f"{group_id} in {project_id}")
    return json({"project": render.project(request, project)})


async def remove_project_group(request: web.Request) -> web.Response:
    group_id, project_id = _ids(request, "group_id", "project_id")
    await authorize(request, "identity:remove_endpoint_group_from_project", {})
    if group_id not in state(request).project_endpoint_groups.get(project_id, set()):
        raise NotFound("endpoint group in project", f"{group_id} in {project_id}")
    event = ev.ProjectEndpointGroupRemoved(project_id=project_id, endpoint_group_id=group_id)
    await _associate(request, project_id, event)
    return web.Response(status=204)


async def project_groups(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    await authorize(request, "identity:list_endpoint_groups_for_project", {})
    s = state(request)
    find(s.projects, project_id, "project")
    items = [_group(request, s.endpoint_groups[g])
             for g in sorted(s.project_endpoint_groups.get(project_id, ()))
             if g in s.endpoint_groups]  # fmt: skip
    return json(render.collection(request, "endpoint_groups", items))
