"""``/v3/backups``: full and incremental backups, restore (into the volume, or a new
one), update (3.9+), delete, and admins' reset and force delete."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume.common import (
    bad,
    body_of,
    boolean,
    caller,
    links,
    metadata,
    metadata_dict,
    text,
    volumes,
)
from cairn.api.volume.listing import all_tenants, collection, page
from cairn.api.volume.microversions import version
from cairn.api.volume.views import when
from cairn.events import volume as ev
from cairn.projections.volume import Backup, VolumeState
from cairn.volume import backups as decide
from cairn.volume.access import Caller
from cairn.volume.volumes import CreateVolume
from cairn.volume.writes import Writes

SORT_KEYS = frozenset({"created_at", "updated_at", "id", "name", "size", "status", "volume_id"})


def _view(request: web.Request, state: VolumeState, b: Backup) -> dict[str, Any]:
    mv = version(request)
    shown: dict[str, Any] = {
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "status": b.status,
        "size": b.size,
        "volume_id": b.volume_id,
        "availability_zone": b.availability_zone,
        "container": b.container,
        "object_count": 0,
        "fail_reason": b.fail_reason,
        "created_at": when(b.created_at),
        "updated_at": when(b.updated_at),
        "data_timestamp": when(b.data_timestamp or b.created_at),
        "has_dependent_backups": bool(state.dependents_of(b.id)),
        "is_incremental": b.parent_id is not None,
        "snapshot_id": b.snapshot_id,
        "links": links(request, "backups", b.id),
    }
    if mv >= (3, 18):
        shown["os-backup-project-attr:project_id"] = b.project_id
    if mv >= (3, 43):
        shown["metadata"] = dict(b.metadata)
    if mv >= (3, 56):
        shown["user_id"] = b.user_id
    return shown


async def create(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    body = await body_of(request, "backup")
    volume_id = body.get("volume_id")
    if not isinstance(volume_id, str) or not volume_id:
        raise bad("'volume_id' is a required property")
    snapshot_id = body.get("snapshot_id")
    if snapshot_id is not None and not isinstance(snapshot_id, str):
        raise bad("snapshot_id must be a string.")
    backup_id = str(uuid.uuid4())
    name = text(body.get("name"), "name")
    description = text(body.get("description"), "description")
    container = text(body.get("container"), "container")
    incremental = boolean(body.get("incremental", False), "incremental")
    force = boolean(body.get("force", False), "force")
    meta = metadata_dict(body.get("metadata") or {})
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.create(
            state,
            who,
            service.config,
            w,
            backup_id=backup_id,
            volume_id=volume_id,
            name=name,
            description=description,
            incremental=incremental,
            force=force,
            container=container,
            metadata=meta,
            snapshot_id=snapshot_id,
        )

    await service.run(metadata(request), command)
    shown: dict[str, Any] = {
        "id": backup_id,
        "name": name,
        "links": links(request, "backups", backup_id),
    }
    if version(request) >= (3, 43):
        shown["metadata"] = meta
    return web.json_response({"backup": shown}, status=202)


def _listed(request: web.Request, who: Caller) -> list[Backup]:
    everyone = all_tenants(request, who.is_admin)
    query = request.query
    found = []
    for b in volumes(request).state.backups.values():
        if not everyone and b.project_id != who.project_id:
            continue
        if "name" in query and b.name != query["name"]:
            continue
        if "status" in query and b.status != query["status"]:
            continue
        if "volume_id" in query and b.volume_id != query["volume_id"]:
            continue
        found.append(b)
    return found


async def _list(request: web.Request, detail: bool) -> web.Response:
    who = caller(request)
    service = volumes(request)
    found = _listed(request, who)
    cut, more = page(request, found, lambda b: b.id, getattr, SORT_KEYS, service.config.max_page)
    state = service.state
    rendered = [
        _view(request, state, b)
        if detail
        else {"id": b.id, "name": b.name, "links": links(request, "backups", b.id)}
        for b in cut
    ]
    return web.json_response(collection(request, "backups", rendered, more, len(found)))


async def index(request: web.Request) -> web.Response:
    return await _list(request, detail=False)


async def detail(request: web.Request) -> web.Response:
    return await _list(request, detail=True)


async def show(request: web.Request) -> web.Response:
    who = caller(request)
    state = volumes(request).state
    found = decide.find(state, who, request.match_info["id"])
    return web.json_response({"backup": _view(request, state, found)})


async def update(request: web.Request) -> web.Response:
    if version(request) < (3, 9):
        raise HTTPFault(405, "Updating a backup needs microversion 3.9 or later.")
    who = caller(request, write=True)
    body = await body_of(request, "backup")
    changes: dict[str, Any] = {}
    for key in ("name", "description"):
        if key in body:
            changes[key] = text(body[key], key)
    if "metadata" in body:
        changes["metadata"] = metadata_dict(body["metadata"])
    if not changes:
        raise bad("Invalid backup update: name, description or metadata is expected.")
    backup_id = request.match_info["id"]
    event = ev.BackupUpdated(backup_id=backup_id, **changes)
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.update(state, who, backup_id, event, w)

    await service.run(metadata(request), command)
    found = service.state.backups[backup_id]
    return web.json_response(
        {
            "backup": {
                "id": found.id,
                "name": found.name,
                "links": links(request, "backups", found.id),
            }
        }
    )


async def delete(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    backup_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, who, backup_id, w, force=False)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def restore(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    body = await body_of(request, "restore")
    backup_id = request.match_info["id"]
    volume_id = body.get("volume_id")
    name = text(body.get("name"), "name")
    service = volumes(request)
    if volume_id is None:
        made = str(uuid.uuid4())
        wanted = CreateVolume(
            volume_id=made,
            size=None,
            backup_id=backup_id,
            name=name or f"restore_backup_{backup_id}",
        )
        decide.find(service.state, who, backup_id)
        await service.create(who, wanted, metadata(request))
        volume_id = made
    else:
        if not isinstance(volume_id, str):
            raise bad("volume_id must be a string.")

        def command(state: VolumeState, w: Writes) -> None:
            decide.restore(state, who, backup_id, str(volume_id), w)

        await service.run(metadata(request), command)
    volume = service.state.volumes[str(volume_id)]
    return web.json_response(
        {"restore": {"backup_id": backup_id, "volume_id": volume.id, "volume_name": volume.name}},
        status=202,
    )


async def action(request: web.Request) -> web.Response:
    backup_id = request.match_info["id"]
    document = await read_json(request)
    if not isinstance(document, dict) or len(document) != 1:
        raise HTTPFault.bad_request("Malformed request body: one action is expected.")
    ((name, args),) = document.items()
    decide.find(volumes(request).state, caller(request), backup_id)
    who = caller(request, admin=True)
    if name == "os-reset_status":
        if not isinstance(args, dict) or not isinstance(args.get("status"), str):
            raise bad("'status' is a required property")
        status = args["status"].lower()

        def reset(state: VolumeState, w: Writes) -> None:
            decide.reset_status(state, who, backup_id, status, w)

        await volumes(request).run(metadata(request), reset)
        return web.Response(status=202)
    if name == "os-force_delete":

        def force(state: VolumeState, w: Writes) -> None:
            decide.delete(state, who, backup_id, w, force=True)

        await volumes(request).run(metadata(request), force)
        return web.Response(status=202)
    raise HTTPFault.bad_request(f"There is no such action: {name}")


async def export_record(request: web.Request) -> web.Response:
    who = caller(request, admin=True)
    record = decide.export_record(volumes(request).state, who, request.match_info["id"])
    url = base64.b64encode(json.dumps(record).encode()).decode()
    return web.json_response(
        {"backup-record": {"backup_service": decide.BACKUP_SERVICE, "backup_url": url}}
    )


async def import_record(request: web.Request) -> web.Response:
    who = caller(request, admin=True)
    body = await body_of(request, "backup-record")
    service_name, url = body.get("backup_service"), body.get("backup_url")
    if service_name != decide.BACKUP_SERVICE:
        raise bad(f"Unsupported backup service {service_name!r}.")
    if not isinstance(url, str):
        raise bad("'backup_url' is a required property")
    try:
        record = json.loads(base64.b64decode(url, validate=True))
    except (binascii.Error, ValueError):
        raise bad("the backup_url is not an exported backup record.") from None
    if not isinstance(record, dict):
        raise bad("the backup_url is not an exported backup record.")
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> str:
        return decide.import_record(state, who, record, w)

    backup_id = await service.run(metadata(request), command)
    shown = {"id": backup_id, "name": service.state.backups[backup_id].name}
    return web.json_response(
        {"backup": {**shown, "links": links(request, "backups", backup_id)}}, status=201
    )
