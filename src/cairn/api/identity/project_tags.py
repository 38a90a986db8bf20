"""``/v3/projects/{id}/tags``: a project's tags, one by one or as a whole list.

Tags are the project's own attribute (``ProjectUpdated`` carries them), so a
change here is the same event as a ``PATCH`` of ``tags``. As in Keystone: at
most 80 tags a project, each 1 to 255 characters without ``/`` or ``,``,
no duplicates; ``PUT`` of one tag answers 201, of the list 200.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import json, path_id, run, state
from cairn.events import identity as ev
from cairn.identity import commands
from cairn.identity.decide import find
from cairn.projections.identity import Project

MAX_TAGS = 80
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^[^/,]+$")]


class TagsBody(msgspec.Struct):
    tags: list[Tag]


def check_tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise HTTPFault.bad_request(f"A project has at most {MAX_TAGS} tags.")
    for tag in tags:
        if not tag or len(tag) > 255 or "/" in tag or "," in tag:
            raise HTTPFault.bad_request(f"Invalid tag {tag!r}: 1-255 characters, no '/' or ','.")
    return list(dict.fromkeys(tags))


def _target(request: web.Request) -> tuple[str, dict[str, str]]:
    project_id = path_id(request, "project_id")
    project = state(request).projects.get(project_id)
    target = {"target.project.id": project_id}
    if project is not None:
        target["target.project.domain_id"] = project.domain_id
    return project_id, target


async def _save(request: web.Request, project_id: str, tags: list[str]) -> Project:
    old = find(state(request).projects, project_id, "project")
    event = ev.ProjectUpdated(
        project_id=project_id, name=old.name, description=old.description,
        enabled=old.enabled, tags=check_tags(tags),
    )  # fmt: skip
    await run(request, lambda s, m: commands.update_project(s, m, event))
    return state(request).projects[project_id]


async def list_tags(request: web.Request) -> web.Response:
    project_id, target = _target(request)
    await authorize(request, "identity:get_project_tags", target)
    return json({"tags": list(find(state(request).projects, project_id, "project").tags)})


async def replace_tags(request: web.Request) -> web.Response:
    project_id, target = _target(request)
    await authorize(request, "identity:update_project_tags", target)
    body = await read_json(request, TagsBody)
    project = await _save(request, project_id, body.tags)
    return json({"tags": list(project.tags)})


async def delete_tags(request: web.Request) -> web.Response:
    project_id, target = _target(request)
    await authorize(request, "identity:delete_project_tags", target)
    await _save(request, project_id, [])
    return web.Response(status=204)


async def check_tag(request: web.Request) -> web.Response:
    project_id, target = _target(request)
    await authorize(request, "identity:get_project_tag", target)
    tag = request.match_info["tag"]
    if tag not in find(state(request).projects, project_id, "project").tags:
        raise HTTPFault.not_found(f"Tag {tag} not found on project {project_id}.")
    return web.Response(status=204)


async def add_tag(request: web.Request) -> web.Response:
    project_id, target = _target(request)
    await authorize(request, "identity:create_project_tag", target)
    tag = request.match_info["tag"]
    project = find(state(request).projects, project_id, "project")
    if tag not in project.tags:
        await _save(request, project_id, [*project.tags, tag])
    location = str(request.url)
    return web.Response(status=201, headers={"Location": location})


async def delete_tag(request: web.Request) -> web.Response:
    project_id, target = _target(request)
    await authorize(request, "identity:delete_project_tag", target)
    tag = request.match_info["tag"]
    project = find(state(request).projects, project_id, "project")
    if tag not in project.tags:
        raise HTTPFault.not_found(f"Tag {tag} not found on project {project_id}.")
    await _save(request, project_id, [t for t in project.tags if t != tag])
    return web.Response(status=204)


def tag_filter(request: web.Request, projects: list[Project]) -> list[Project]:
    """``tags`` (all of), ``tags-any``, ``not-tags`` (not all of), ``not-tags-any``."""

    def wanted(name: str) -> set[str] | None:
        raw = request.query.get(name)
        return None if raw is None else {t for t in raw.split(",") if t}

    every, some = wanted("tags"), wanted("tags-any")
    not_every, not_any = wanted("not-tags"), wanted("not-tags-any")
    kept = []
    for project in projects:
        have = set(project.tags)
        if every is not None and not every <= have:
            continue
        if some is not None and not some & have:
            continue
        if not_every is not None and not_every and not_every <= have:
            continue
        if not_any is not None and not_any & have:
            continue
        kept.append(project)
    return kept
