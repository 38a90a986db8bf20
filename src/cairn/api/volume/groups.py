"""``/v3/groups`` (3.13+): generic volume groups, their volumes, delete and reset."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume.common import bad, body_of, boolean, caller, links, metadata, text, volumes
from cairn.api.volume.microversions import version
from cairn.api.volume.views import when
from cairn.events import volume as ev
from cairn.projections.volume import Group, VolumeState
from cairn.volume import groups as decide
from cairn.volume.access import Caller
from cairn.volume.writes import Writes


def _check(request: web.Request, *, write: bool = False, admin: bool = False) -> Caller:
    if version(request) < (3, 13):
        raise HTTPFault.not_found("The resource could not be found.")
    return caller(request, write=write, admin=admin)


def _view(request: web.Request, state: VolumeState, g: Group) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "status": g.status,
        "availability_zone": g.availability_zone,
        "created_at": when(g.created_at),
        "group_type": g.group_type_id,
        "volume_types": list(g.volume_type_ids),
        "group_snapshot_id": None,
        "source_group_id": None,
    }
    if version(request) >= (3, 25):
        shown["volumes"] = decide.members(state, g.id)
    if version(request) >= (3, 38):
        shown["replication_status"] = "disabled"
    return shown


def _ids(value: Any, field: str) -> list[str]:
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise bad(f"{field} must be a comma-separated string of volume ids.")
    return [part.strip() for part in value.split(",") if part.strip()]


async def create(request: web.Request) -> web.Response:
    who = _check(request, write=True)
    body = await body_of(request, "group")
    group_type = body.get("group_type")
    if not isinstance(group_type, str) or not group_type:
        raise bad("'group_type' is a required property")
    wanted_types = body.get("volume_types")
    if not isinstance(wanted_types, list) or not all(isinstance(t, str) for t in wanted_types):
        raise bad("'volume_types' must be a list of volume type ids or names.")
    zone = body.get("availability_zone") or volumes(request).config.availability_zone
    if zone != volumes(request).config.availability_zone:
        raise bad(f"Availability zone '{zone}' is invalid.")
    group_id = str(uuid.uuid4())
    name = text(body.get("name"), "name")
    description = text(body.get("description"), "description")
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.create(
            state,
            who,
            w,
            group_id=group_id,
            name=name,
            description=description,
            group_type=group_type,
            volume_types=wanted_types,
            zone=str(zone),
        )

    await service.run(metadata(request), command)
    shown = {"id": group_id, "name": name}
    return web.json_response({"group": shown}, status=202)


def _listed(request: web.Request, who: Caller) -> list[Group]:
    everyone = who.is_admin and request.query.get("all_tenants", "") not in ("", "0", "false")
    return sorted(
        (
            g
            for g in volumes(request).state.groups.values()
            if everyone or g.project_id == who.project_id
        ),
        key=lambda g: g.created_at,
    )


async def index(request: web.Request) -> web.Response:
    who = _check(request)
    shown = [
        {"id": g.id, "name": g.name, "links": links(request, "groups", g.id)}
        for g in _listed(request, who)
    ]
    return web.json_response({"groups": shown})


async def detail(request: web.Request) -> web.Response:
    who = _check(request)
    state = volumes(request).state
    return web.json_response({"groups": [_view(request, state, g) for g in _listed(request, who)]})


async def show(request: web.Request) -> web.Response:
    who = _check(request)
    state = volumes(request).state
    found = decide.find(state, who, request.match_info["id"])
    return web.json_response({"group": _view(request, state, found)})


async def update(request: web.Request) -> web.Response:
    who = _check(request, write=True)
    body = await body_of(request, "group")
    group_id = request.match_info["id"]
    changes: dict[str, Any] = {}
    for key in ("name", "description"):
        if key in body:
            changes[key] = text(body[key], key)
    add, remove = (
        _ids(body.get("add_volumes"), "add_volumes"),
        _ids(body.get("remove_volumes"), "remove_volumes"),
    )
    if not (changes or add or remove):
        raise bad("Name, description, add_volumes and remove_volumes can not be all empty.")
    event = ev.VolumeGroupUpdated(group_id=group_id, **changes)

    def command(state: VolumeState, w: Writes) -> None:
        decide.update(state, who, group_id, w, changes=event, add=add, remove=remove)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def action(request: web.Request) -> web.Response:
    who = _check(request, write=True)
    group_id = request.match_info["id"]
    document = await read_json(request)
    if not isinstance(document, dict) or len(document) != 1:
        raise HTTPFault.bad_request("Malformed request body: one action is expected.")
    ((name, args),) = document.items()
    if not isinstance(args, dict):
        raise bad(f"{name} needs an object.")
    decide.find(volumes(request).state, who, group_id)
    if name == "delete":
        with_volumes = boolean(args.get("delete-volumes", False), "delete-volumes")

        def remove(state: VolumeState, w: Writes) -> None:
            decide.delete(state, who, group_id, w, with_volumes=with_volumes)

        await volumes(request).run(metadata(request), remove)
        return web.Response(status=202)
    if name == "reset_status":
        admin = _check(request, admin=True)
        if version(request) < (3, 20):
            raise HTTPFault.not_found("The resource could not be found.")
        status = args.get("status")
        if not isinstance(status, str):
            raise bad("'status' is a required property")

        def reset(state: VolumeState, w: Writes) -> None:
            decide.reset_status(state, admin, group_id, status.lower(), w)

        await volumes(request).run(metadata(request), reset)
        return web.Response(status=202)
    raise HTTPFault.bad_request(f"There is no such action: {name}")
