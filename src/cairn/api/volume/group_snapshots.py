"""``/v3/group_snapshots`` (3.14+) and ``POST /v3/groups/action`` (``create-from-src``)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume.common import bad, body_of, caller, links, metadata, text, volumes
from cairn.api.volume.microversions import version
from cairn.api.volume.views import when
from cairn.projections.volume import GroupSnapshot, VolumeState
from cairn.volume import group_snapshots as decide
from cairn.volume.access import Caller
from cairn.volume.writes import Writes


def _check(request: web.Request, minimum: tuple[int, int] = (3, 14), **kw: bool) -> Caller:
    if version(request) < minimum:
        raise HTTPFault.not_found("The resource could not be found.")
    return caller(request, **kw)


def _view(state: VolumeState, g: GroupSnapshot) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "status": state.group_snapshot_status(g),
        "group_id": g.group_id,
        "group_type_id": g.group_type_id,
        "created_at": when(g.created_at),
    }


async def create(request: web.Request) -> web.Response:
    who = _check(request, write=True)
    body = await body_of(request, "group_snapshot")
    group_id = body.get("group_id")
    if not isinstance(group_id, str) or not group_id:
        raise bad("'group_id' is a required property")
    name = text(body.get("name"), "name")
    description = text(body.get("description"), "description")
    group_snapshot_id = str(uuid.uuid4())
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.create(
            state,
            who,
            service.config,
            w,
            group_snapshot_id=group_snapshot_id,
            group_id=group_id,
            name=name,
            description=description,
        )

    await service.run(metadata(request), command)
    made = service.state.group_snapshots[group_snapshot_id]
    shown = {"id": made.id, "name": made.name, "group_type_id": made.group_type_id}
    return web.json_response({"group_snapshot": shown}, status=202)


def _listed(request: web.Request, who: Caller) -> list[GroupSnapshot]:
    everyone = who.is_admin and request.query.get("all_tenants", "") not in ("", "0", "false")
    return sorted(
        (
            g
            for g in volumes(request).state.group_snapshots.values()
            if everyone or g.project_id == who.project_id
        ),
        key=lambda g: g.created_at,
    )


async def index(request: web.Request) -> web.Response:
    who = _check(request)
    shown = [
        {"id": g.id, "name": g.name, "links": links(request, "group_snapshots", g.id)}
        for g in _listed(request, who)
    ]
    return web.json_response({"group_snapshots": shown})


async def detail(request: web.Request) -> web.Response:
    who = _check(request)
    state = volumes(request).state
    return web.json_response({"group_snapshots": [_view(state, g) for g in _listed(request, who)]})


async def show(request: web.Request) -> web.Response:
    who = _check(request)
    state = volumes(request).state
    found = decide.find(state, who, request.match_info["id"])
    return web.json_response({"group_snapshot": _view(state, found)})


async def delete(request: web.Request) -> web.Response:
    who = _check(request, write=True)
    group_snapshot_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, who, group_snapshot_id, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def action(request: web.Request) -> web.Response:
    who = _check(request, (3, 19), admin=True)
    group_snapshot_id = request.match_info["id"]
    document = await read_json(request)
    if not isinstance(document, dict) or len(document) != 1:
        raise HTTPFault.bad_request("Malformed request body: one action is expected.")
    ((name, args),) = document.items()
    if name != "reset_status":
        raise HTTPFault.bad_request(f"There is no such action: {name}")
    if not isinstance(args, dict) or not isinstance(args.get("status"), str):
        raise bad("'status' is a required property")
    status = args["status"].lower()

    def command(state: VolumeState, w: Writes) -> None:
        decide.reset_status(state, who, group_snapshot_id, status, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def create_group_from_source(request: web.Request) -> web.Response:
    who = _check(request, write=True)
    body = await body_of(request, "create-from-src")
    snapshot_id, source_id = body.get("group_snapshot_id"), body.get("source_group_id")
    for value, field in ((snapshot_id, "group_snapshot_id"), (source_id, "source_group_id")):
        if value is not None and not isinstance(value, str):
            raise bad(f"{field} must be a string.")
    name = text(body.get("name"), "name")
    description = text(body.get("description"), "description")
    group_id = str(uuid.uuid4())
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.create_group_from_source(
            state,
            who,
            service.config,
            w,
            group_id=group_id,
            name=name,
            description=description,
            group_snapshot_id=snapshot_id,
            source_group_id=source_id,
        )

    await service.run(metadata(request), command)
    return web.json_response({"group": {"id": group_id, "name": name}}, status=202)
