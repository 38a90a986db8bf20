"""``/v3/domains`` and ``/v3/projects``."""

from __future__ import annotations

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity import project_tags, render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import (
    Name,
    ShortName,
    Text,
    encode_json,
    filtered,
    identity,
    json,
    path_id,
    query_bool,
    run,
    state,
)
from cairn.events import identity as ev
from cairn.identity import commands
from cairn.identity.decide import find, new_id

UNSET = msgspec.UNSET


class NewDomain(msgspec.Struct):
    name: ShortName
    description: Text | None = None
    enabled: bool = True
    id: Name | None = None


class DomainChange(msgspec.Struct):
    name: ShortName | msgspec.UnsetType = UNSET
    description: Text | msgspec.UnsetType | None = UNSET
    enabled: bool | msgspec.UnsetType = UNSET


class DomainBody(msgspec.Struct):
    domain: NewDomain


class DomainChangeBody(msgspec.Struct):
    domain: DomainChange


async def list_domains(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_domains", {})
    items = filtered(request, state(request).domains.values(), "name", "enabled")
    return json(render.collection(request, "domains", [render.domain(request, d) for d in items]))


async def get_domain(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:get_domain", {"target.domain.id": domain_id})
    domain = find(state(request).domains, domain_id, "domain")
    return json({"domain": render.domain(request, domain)})


async def create_domain(request: web.Request) -> web.Response:
    await authorize(request, "identity:create_domain", {})
    body = (await read_json(request, DomainBody)).domain
    event = ev.DomainCreated(
        domain_id=body.id or new_id(), name=body.name, description=body.description or "",
        enabled=body.enabled,
    )  # fmt: skip
    await run(request, lambda s, m: commands.create_domain(s, m, event))
    return json({"domain": render.domain(request, state(request).domains[event.domain_id])}, 201)


async def update_domain(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:update_domain", {"target.domain.id": domain_id})
    change = (await read_json(request, DomainChangeBody)).domain
    old = find(state(request).domains, domain_id, "domain")
    event = ev.DomainUpdated(
        domain_id=domain_id,
        name=old.name if change.name is UNSET else change.name,
        description=old.description if change.description is UNSET else change.description or "",
        enabled=old.enabled if change.enabled is UNSET else change.enabled,
    )
    await run(request, lambda s, m: commands.update_domain(s, m, event))
    return json({"domain": render.domain(request, state(request).domains[domain_id])})


async def delete_domain(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:delete_domain", {"target.domain.id": domain_id})
    await run(request, lambda s, m: commands.delete_domain(s, m, domain_id))
    return web.Response(status=204)


class NewProject(msgspec.Struct):
    name: ShortName
    domain_id: Name | None = None
    description: Text | None = None
    enabled: bool = True
    parent_id: Name | None = None
    is_domain: bool = False
    tags: list[Name] = []


class ProjectChange(msgspec.Struct):
    name: ShortName | msgspec.UnsetType = UNSET
    description: Text | msgspec.UnsetType | None = UNSET
    enabled: bool | msgspec.UnsetType = UNSET
    tags: list[Name] | msgspec.UnsetType = UNSET
    domain_id: Name | msgspec.UnsetType = UNSET


class ProjectBody(msgspec.Struct):
    project: NewProject


class ProjectChangeBody(msgspec.Struct):
    project: ProjectChange


def _domain_filter(request: web.Request) -> dict[str, str]:
    """The target of a list: the domain it is limited to, if any."""
    domain_id = request.query.get("domain_id")
    return {} if domain_id is None else {"target.domain_id": domain_id}


def _project_target(project_id: str, domain_id: str | None) -> dict[str, str]:
    target = {"target.project.id": project_id}
    if domain_id is not None:
        target["target.project.domain_id"] = domain_id
    return target


async def list_projects(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_projects", _domain_filter(request))

    def encode() -> bytes:
        fields = ("name", "domain_id", "enabled", "parent_id")
        acting = query_bool(request, "is_domain") or False
        items = project_tags.tag_filter(
            request, filtered(request, state(request).projects.values(), *fields)
        )
        # Projects acting as domains are listed only when asked for (Keystone).
        items = [p for p in items if p.is_domain == acting]
        body = render.collection(request, "projects", [render.project(request, p) for p in items])
        return encode_json(body)

    # The answer depends only on the state and the URL (host and query included).
    body = identity(request).memo(("projects", str(request.url)), encode)
    return web.Response(body=body, content_type="application/json")


async def get_project(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    project = state(request).projects.get(project_id)
    domain_id = project.domain_id if project else None
    await authorize(request, "identity:get_project", _project_target(project_id, domain_id))
    project = find(state(request).projects, project_id, "project")
    return json({"project": render.project(request, project)})


async def create_project(request: web.Request) -> web.Response:
    who = await authorize(request, "identity:create_project", {})
    body = (await read_json(request, ProjectBody)).project
    if body.is_domain and (body.parent_id is not None or body.domain_id is not None):
        raise HTTPFault.bad_request("A project acting as a domain has no parent and no domain.")
    domain_id = body.domain_id or who.credentials.project_domain_id or "default"
    if body.parent_id is not None and body.parent_id in state(request).projects:
        domain_id = body.domain_id or state(request).projects[body.parent_id].domain_id
    project_id = new_id()
    if body.is_domain:
        domain_id = project_id
    event = ev.ProjectCreated(
        project_id=project_id, domain_id=domain_id, name=body.name, is_domain=body.is_domain,
        description=body.description or "", enabled=body.enabled, parent_id=body.parent_id,
        tags=project_tags.check_tags(list(body.tags)),
    )  # fmt: skip
    await run(request, lambda s, m: commands.create_project(s, m, event))
    return json(
        {"project": render.project(request, state(request).projects[event.project_id])}, 201
    )


async def update_project(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    project = state(request).projects.get(project_id)
    target = _project_target(project_id, project.domain_id if project else None)
    await authorize(request, "identity:update_project", target)
    change = (await read_json(request, ProjectChangeBody)).project
    old = find(state(request).projects, project_id, "project")
    if change.domain_id is not UNSET and change.domain_id != old.domain_id:
        raise HTTPFault.bad_request("A project's domain cannot be changed.")
    event = ev.ProjectUpdated(
        project_id=project_id,
        name=old.name if change.name is UNSET else change.name,
        description=old.description if change.description is UNSET else change.description or "",
        enabled=old.enabled if change.enabled is UNSET else change.enabled,
        tags=project_tags.check_tags(list(old.tags if change.tags is UNSET else change.tags)),
    )
    await run(request, lambda s, m: commands.update_project(s, m, event))
    return json({"project": render.project(request, state(request).projects[project_id])})


async def delete_project(request: web.Request) -> web.Response:
    project_id = path_id(request, "project_id")
    project = state(request).projects.get(project_id)
    target = _project_target(project_id, project.domain_id if project else None)
    await authorize(request, "identity:delete_project", target)
    await run(request, lambda s, m: commands.delete_project(s, m, project_id))
    return web.Response(status=204)
