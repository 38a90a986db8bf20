"""``/v3/types``: volume types (everyone lists the public ones; admins make, change
and delete them, with their extra specs)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume import views
from cairn.api.volume.common import bad, body_of, boolean, caller, metadata, text, volumes
from cairn.events import volume as ev
from cairn.projections.volume import VolumeState, VolumeType
from cairn.volume import types as decide
from cairn.volume.access import Caller
from cairn.volume.config import DEFAULT_TYPE
from cairn.volume.writes import Writes


def _find(state: VolumeState, who: Caller, ident: str) -> VolumeType:
    found = state.types.get(ident)
    if found is None or not found.usable_by(who.project_id, who.is_admin):
        raise HTTPFault.not_found(f"Volume type {ident} could not be found.")
    return found


def _specs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad("extra_specs must be an object of strings.")
    specs = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise bad("extra_specs keys must be strings of 1 to 255 characters.")
        if isinstance(item, bool):
            item = str(item)
        if not isinstance(item, (str, int, float)) or len(str(item)) > 255:
            raise bad("extra_specs values must be strings of at most 255 characters.")
        specs[key] = str(item)
    return specs


async def index(request: web.Request) -> web.Response:
    who = caller(request)
    state = volumes(request).state
    raw = request.query.get("is_public")
    # Cinder: admins see the public types unless they ask (is_public=None: all);
    # others see the public ones and the private ones shared with their project
    wanted = True if raw is None else None if raw.lower() == "none" else boolean(raw, "is_public")
    shown = []
    for t in sorted(state.types.values(), key=lambda t: t.name):
        if not who.is_admin:
            if t.usable_by(who.project_id, False):
                shown.append(views.volume_type(who, t))
            continue
        if wanted is None or t.is_public == wanted:
            shown.append(views.volume_type(who, t))
    return web.json_response({"volume_types": shown})


async def show(request: web.Request) -> web.Response:
    who = caller(request)
    state = volumes(request).state
    ident = request.match_info["id"]
    if ident == "default":
        found = state.type_named(DEFAULT_TYPE)
        if found is None:
            raise HTTPFault.not_found("Default volume type could not be found.")
    else:
        found = _find(state, who, ident)
    return web.json_response({"volume_type": views.volume_type(who, found)})


async def create(request: web.Request) -> web.Response:
    who = caller(request, admin=True)
    body = await body_of(request, "volume_type")
    name = text(body.get("name"), "name", nullable=False)
    assert name is not None
    if not name.strip():
        raise bad("name must not be empty.")
    description = text(body.get("description"), "description")
    is_public = boolean(
        body.get("os-volume-type-access:is_public", body.get("is_public", True)), "is_public"
    )
    specs = _specs(body.get("extra_specs") or {})
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
            extra_specs=specs,
        )

    await service.run(metadata(request), command)
    made = service.state.types[type_id]
    return web.json_response({"volume_type": views.volume_type(who, made, answer="create")})


async def update(request: web.Request) -> web.Response:
    who = caller(request, admin=True)
    body = await body_of(request, "volume_type")
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = text(body["name"], "name", nullable=False)
    if "description" in body:
        changes["description"] = text(body["description"], "description")
    if "is_public" in body:
        changes["is_public"] = boolean(body["is_public"], "is_public")
    if not changes:
        raise bad("Specify volume type name, description, is_public or a combination thereof.")
    type_id = request.match_info["id"]
    event = ev.VolumeTypeUpdated(type_id=type_id, **changes)
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.update(state, type_id, event, w)

    await service.run(metadata(request), command)
    changed = service.state.types[type_id]
    return web.json_response({"volume_type": views.volume_type(who, changed, answer="update")})


async def delete(request: web.Request) -> web.Response:
    caller(request, admin=True)
    type_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, type_id, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


# -- extra specs ---------------------------------------------------------------------


async def _change_specs(request: web.Request, change: Any) -> dict[str, str]:
    caller(request, admin=True)
    type_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> dict[str, str]:
        found = state.types.get(type_id)
        if found is None:
            raise HTTPFault.not_found(f"Volume type {type_id} could not be found.")
        after: dict[str, str] = change(dict(found.extra_specs))
        decide.update(state, type_id, ev.VolumeTypeUpdated(type_id=type_id, extra_specs=after), w)
        return after

    return await volumes(request).run(metadata(request), command)


async def list_specs(request: web.Request) -> web.Response:
    who = caller(request, admin=True)
    found = _find(volumes(request).state, who, request.match_info["id"])
    return web.json_response({"extra_specs": dict(found.extra_specs)})


async def create_specs(request: web.Request) -> web.Response:
    specs = _specs(await body_of(request, "extra_specs"))
    await _change_specs(request, lambda now: {**now, **specs})
    return web.json_response({"extra_specs": specs})


async def show_spec(request: web.Request) -> web.Response:
    who = caller(request, admin=True)
    found = _find(volumes(request).state, who, request.match_info["id"])
    key = request.match_info["key"]
    if key not in found.extra_specs:
        raise HTTPFault.not_found(f"Volume Type {found.id} has no extra specs with key {key}.")
    return web.json_response({key: found.extra_specs[key]})


async def update_spec(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    document = await read_json(request)
    if not isinstance(document, dict):
        raise bad("the body must be an object.")
    specs = _specs(document)
    if key not in specs:
        raise HTTPFault.bad_request("Request body and URI mismatch")
    if len(specs) > 1:
        raise HTTPFault.bad_request("Request body contains too many items.")
    await _change_specs(request, lambda now: {**now, **specs})
    return web.json_response(specs)


async def delete_spec(request: web.Request) -> web.Response:
    key = request.match_info["key"]

    def without(now: dict[str, str]) -> dict[str, str]:
        if key not in now:
            raise HTTPFault.not_found(f"Volume Type has no extra specs with key {key}.")
        return {k: v for k, v in now.items() if k != key}

    await _change_specs(request, without)
    return web.Response(status=202)


# -- access to private types ---------------------------------------------------------


async def list_access(request: web.Request) -> web.Response:
    caller(request, admin=True)
    type_id = request.match_info["id"]
    found = volumes(request).state.types.get(type_id)
    if found is None:
        raise HTTPFault.not_found(f"Volume type {type_id} could not be found.")
    if found.is_public:
        raise HTTPFault.not_found("Access list not available for public volume types.")
    listed = [{"volume_type_id": type_id, "project_id": p} for p in found.projects]
    return web.json_response({"volume_type_access": listed})


async def action(request: web.Request) -> web.Response:
    caller(request, admin=True)
    type_id = request.match_info["id"]
    document = await read_json(request)
    if not isinstance(document, dict) or len(document) != 1:
        raise HTTPFault.bad_request("Malformed request body: one action is expected.")
    ((name, args),) = document.items()
    change = {"addProjectAccess": decide.add_access, "removeProjectAccess": decide.remove_access}
    if name not in change:
        raise HTTPFault.bad_request(f"There is no such action: {name}")
    if not isinstance(args, dict) or not isinstance(args.get("project"), str):
        raise bad("'project' is a required property")
    project = args["project"]

    def command(state: VolumeState, w: Writes) -> None:
        change[name](state, type_id, project, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)
