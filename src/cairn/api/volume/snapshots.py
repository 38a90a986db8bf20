"""``/v3/snapshots``: create, list (summary and detail), show, update, delete, and
their actions (``os-reset_status`` and ``os-force_delete`` for admins)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume import views
from cairn.api.volume.common import (
    bad,
    body_of,
    boolean,
    caller,
    metadata,
    metadata_dict,
    text,
    volumes,
)
from cairn.api.volume.listing import all_tenants, collection, page, parse_dict
from cairn.events import volume as ev
from cairn.projections.volume import Snapshot, VolumeState
from cairn.volume import access
from cairn.volume import snapshots as decide
from cairn.volume.writes import Writes

SORT_KEYS = frozenset(
    {"created_at", "updated_at", "id", "name", "display_name", "size", "status", "volume_id"}
)


def _key(s: Snapshot, name: str) -> object:
    return getattr(s, "name" if name == "display_name" else name)


CREATE_KEYS = frozenset(
    {
        "name",
        "description",
        "display_name",
        "display_description",
        "volume_id",
        "force",
        "metadata",
    }
)


async def create(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    body = await body_of(request, "snapshot")
    unknown = sorted(set(body) - CREATE_KEYS)
    if unknown:
        raise bad(f"Additional properties are not allowed ({', '.join(map(repr, unknown))}).")
    if "volume_id" not in body:
        raise bad("'volume_id' is a required property")
    volume_id = body["volume_id"]
    if volume_id is None:  # Cinder's schema allows null: no such volume
        raise HTTPFault.not_found("Volume None could not be found.")
    if not isinstance(volume_id, str) or not volume_id:
        raise bad("'volume_id' must be a string")
    snapshot_id = str(uuid.uuid4())
    name = text(body.get("name", body.get("display_name")), "name")
    description = text(body.get("description", body.get("display_description")), "description")
    meta = metadata_dict(body.get("metadata") or {})
    force = boolean(body.get("force", False), "force")
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.create(
            state,
            who,
            service.config,
            snapshot_id,
            volume_id,
            w,
            name=name,
            description=description,
            metadata=meta,
            force=force,
        )

    await service.run(metadata(request), command)
    made = service.state.snapshots[snapshot_id]
    return web.json_response({"snapshot": views.snapshot(request, made, detail=False)}, status=202)


def _filtered(request: web.Request, state: VolumeState) -> list[Snapshot]:
    who = caller(request)
    everyone = all_tenants(request, who.is_admin)
    query = request.query
    meta = parse_dict(query["metadata"], "metadata") if "metadata" in query else None
    found = []
    for snap in state.snapshots.values():
        if not everyone and snap.project_id != who.project_id:
            continue
        if everyone and "project_id" in query and snap.project_id != query["project_id"]:
            continue
        if "name" in query and snap.name != query["name"]:
            continue
        if "status" in query and snap.status != query["status"]:
            continue
        if "volume_id" in query and snap.volume_id != query["volume_id"]:
            continue
        if meta is not None and any(snap.metadata.get(k) != str(v) for k, v in meta.items()):
            continue
        found.append(snap)
    return found


async def _list(request: web.Request, detail: bool) -> web.Response:
    service = volumes(request)
    found = _filtered(request, service.state)
    cut, more = page(request, found, lambda s: s.id, _key, SORT_KEYS, service.config.max_page)
    rendered = [views.snapshot(request, s, detail=detail) for s in cut]
    return web.json_response(collection(request, "snapshots", rendered, more, len(found)))


async def index(request: web.Request) -> web.Response:
    return await _list(request, detail=False)


async def detail(request: web.Request) -> web.Response:
    return await _list(request, detail=True)


async def show(request: web.Request) -> web.Response:
    who = caller(request)
    found = access.snapshot(volumes(request).state, who, request.match_info["id"])
    return web.json_response({"snapshot": views.snapshot(request, found)})


async def update(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    body = await body_of(request, "snapshot")
    changes: dict[str, Any] = {}
    for key, field in (
        ("name", "name"),
        ("display_name", "name"),
        ("description", "description"),
        ("display_description", "description"),
    ):
        if key in body:
            changes[field] = text(body[key], field)
    if not changes:
        raise bad("Invalid snapshot update: name or description is expected.")
    snapshot_id = request.match_info["id"]
    event = ev.SnapshotUpdated(snapshot_id=snapshot_id, **changes)
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.update(state, who, snapshot_id, event, w)

    await service.run(metadata(request), command)
    found = service.state.snapshots[snapshot_id]
    return web.json_response({"snapshot": views.snapshot(request, found, detail=False)})


async def delete(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    snapshot_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, who, snapshot_id, w, force=False)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def action(request: web.Request) -> web.Response:
    snapshot_id = request.match_info["id"]
    document = await read_json(request)
    if not isinstance(document, dict) or len(document) != 1:
        raise HTTPFault.bad_request("Malformed request body: one action is expected.")
    ((name, args),) = document.items()
    access.snapshot(volumes(request).state, caller(request), snapshot_id)
    if name == "os-reset_status":
        who = caller(request, admin=True)
        if not isinstance(args, dict) or not isinstance(args.get("status"), str):
            raise bad("'status' is a required property")
        status = args["status"].lower()

        def reset(state: VolumeState, w: Writes) -> None:
            decide.reset_status(state, who, snapshot_id, status, w)

        await volumes(request).run(metadata(request), reset)
        return web.Response(status=202)
    if name == "os-update_snapshot_status":
        member = caller(request, write=True)
        if not isinstance(args, dict) or not isinstance(args.get("status"), str):
            raise bad("'status' is a required property")
        progress = args.get("progress")
        if progress is not None and not isinstance(progress, str):
            raise bad("progress must be a string.")
        new_status = args["status"]

        def update(state: VolumeState, w: Writes) -> None:
            decide.update_status(state, member, snapshot_id, new_status, progress, w)

        await volumes(request).run(metadata(request), update)
        return web.Response(status=202)
    if name == "os-force_delete":
        admin = caller(request, admin=True)

        def force(state: VolumeState, w: Writes) -> None:
            decide.delete(state, admin, snapshot_id, w, force=True)

        await volumes(request).run(metadata(request), force)
        return web.Response(status=202)
    raise HTTPFault.bad_request(f"There is no such action: {name}")
