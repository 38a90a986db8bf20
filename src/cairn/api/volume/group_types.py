"""``/v3/group_types`` (3.11+, admins change them): group types and their group specs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume.common import bad, body_of, boolean, caller, metadata, text, volumes
from cairn.api.volume.listing import sort_keys
from cairn.api.volume.microversions import version
from cairn.events import volume as ev
from cairn.projections.volume import GroupType, VolumeState
from cairn.volume import group_types as decide
from cairn.volume.access import Caller
from cairn.volume.writes import Writes

SORT_KEYS = frozenset({"id", "name", "created_at", "is_public", "description"})


def _check(request: web.Request, *, admin: bool = False) -> Caller:
    if version(request) < (3, 11):
        raise HTTPFault.not_found("The resource could not be found.")
    return caller(request, admin=admin)


def _view(t: GroupType) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "group_specs": dict(t.group_specs),
    }


def _visible(who: Caller, t: GroupType) -> GroupType:
    if not (t.is_public or who.is_admin):
        raise HTTPFault.not_found(f"Group type {t.id} could not be found.")
    return t


def _specs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad("group_specs must be an object of strings.")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise bad("group_specs keys must be strings of 1 to 255 characters.")
        if not isinstance(item, str) or len(item) > 255:
            raise bad("group_specs values must be strings of at most 255 characters.")
    return dict(value)


async def index(request: web.Request) -> web.Response:
    who = _check(request)
    raw = request.query.get("is_public")
    # Cinder: public ones by default; "None" lists all (admins), else that visibility
    wanted = True if raw is None else None if raw.lower() == "none" else boolean(raw, "is_public")
    found = [
        t
        for t in volumes(request).state.group_types.values()
        if (t.is_public or who.is_admin) and (wanted is None or t.is_public == wanted)
    ]
    for name, descending in reversed(sort_keys(request, SORT_KEYS)):
        found.sort(key=lambda t: str(getattr(t, name)), reverse=descending)
    return web.json_response({"group_types": [_view(t) for t in found]})


async def show(request: web.Request) -> web.Response:
    who = _check(request)
    found = _visible(who, decide.find(volumes(request).state, request.match_info["id"]))
    return web.json_response({"group_type": _view(found)})


async def create(request: web.Request) -> web.Response:
    _check(request, admin=True)
    body = await body_of(request, "group_type")
    name = text(body.get("name"), "name", nullable=False)
    if not name or not name.strip():
        raise bad("name must not be empty.")
    description = text(body.get("description"), "description")
    is_public = boolean(body.get("is_public", True), "is_public")
    specs = _specs(body.get("group_specs") or {})
    type_id = str(uuid.uuid4())
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.create(
            state,
            type_id,
            name,
            w,
            description=description,
            is_public=is_public,
            group_specs=specs,
        )

    await service.run(metadata(request), command)
    made = service.state.group_types[type_id]
    return web.json_response({"group_type": _view(made)}, status=202)


async def update(request: web.Request) -> web.Response:
    _check(request, admin=True)
    body = await body_of(request, "group_type")
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = text(body["name"], "name", nullable=False)
    if "description" in body:
        changes["description"] = text(body["description"], "description")
    if "is_public" in body:
        changes["is_public"] = boolean(body["is_public"], "is_public")
    if not changes:
        raise bad("Specify group type name, description or is_public.")
    type_id = request.match_info["id"]
    event = ev.GroupTypeUpdated(type_id=type_id, **changes)
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.update(state, type_id, event, w)

    await service.run(metadata(request), command)
    return web.json_response({"group_type": _view(service.state.group_types[type_id])})


async def delete(request: web.Request) -> web.Response:
    _check(request, admin=True)
    type_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, type_id, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def _change(
    request: web.Request, change: Callable[[dict[str, str]], dict[str, str]]
) -> dict[str, str]:
    type_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> dict[str, str]:
        found = decide.find(state, type_id)
        after = change(dict(found.group_specs))
        event = ev.GroupTypeUpdated(type_id=type_id, group_specs=after)
        decide.update(state, type_id, event, w)
        return after

    return await volumes(request).run(metadata(request), command)


async def list_specs(request: web.Request) -> web.Response:
    _check(request, admin=True)
    found = decide.find(volumes(request).state, request.match_info["id"])
    return web.json_response({"group_specs": dict(found.group_specs)})


async def create_specs(request: web.Request) -> web.Response:
    _check(request, admin=True)
    specs = _specs(await body_of(request, "group_specs"))
    await _change(request, lambda now: {**now, **specs})
    return web.json_response({"group_specs": specs}, status=202)


async def show_spec(request: web.Request) -> web.Response:
    _check(request, admin=True)
    found = decide.find(volumes(request).state, request.match_info["id"])
    key = request.match_info["key"]
    if key not in found.group_specs:
        raise HTTPFault.not_found(f"Group Type {found.id} has no specs with key {key}.")
    return web.json_response({key: found.group_specs[key]})


async def update_spec(request: web.Request) -> web.Response:
    _check(request, admin=True)
    key = request.match_info["key"]
    document = await read_json(request)
    specs = _specs(document)
    if key not in specs:
        raise HTTPFault.bad_request("Request body and URI mismatch")
    if len(specs) > 1:
        raise HTTPFault.bad_request("Request body contains too many items.")
    await _change(request, lambda now: {**now, **specs})
    return web.json_response(specs)


async def delete_spec(request: web.Request) -> web.Response:
    _check(request, admin=True)
    key = request.match_info["key"]

    def without(now: dict[str, str]) -> dict[str, str]:
        if key not in now:
            raise HTTPFault.not_found(f"Group Type has no specs with key {key}.")
        return {k: v for k, v in now.items() if k != key}

    await _change(request, without)
    return web.Response(status=202)
