"""``/v3/volumes``: create, list (summary and detail), show, update, delete, summary."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.volume import views
from cairn.api.volume.common import (
    bad,
    body_of,
    boolean,
    caller,
    metadata,
    metadata_dict,
    size,
    text,
    token,
    volumes,
)
from cairn.api.volume.keys import IMAGE_LOOKUP
from cairn.api.volume.listing import all_tenants, collection, page, parse_dict
from cairn.api.volume.microversions import version
from cairn.events import volume as ev
from cairn.projections.volume import Volume, VolumeState
from cairn.volume import access
from cairn.volume import volumes as decide
from cairn.volume.access import Caller
from cairn.volume.volumes import CreateVolume
from cairn.volume.writes import Writes

SORT_KEYS = frozenset(
    {
        "created_at",
        "updated_at",
        "id",
        "name",
        "display_name",
        "size",
        "status",
        "availability_zone",
        "bootable",
    }
)
#: body keys Cinder's create schema knows; the rest are a 400
CREATE_KEYS = frozenset(
    {
        "name",
        "description",
        "display_name",
        "display_description",
        "size",
        "volume_type",
        "availability_zone",
        "metadata",
        "snapshot_id",
        "source_volid",
        "imageRef",
        "image_id",
        "multiattach",
        "consistencygroup_id",
        "group_id",
        "backup_id",
        "scheduler_hints",
        "source_replica",
        "OS-SCH-HNT:scheduler_hints",
    }
)


def _uuid_or_none(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise bad(f"{field} must be a string.")
    return value


def _group_id(request: web.Request, body: dict[str, Any]) -> str | None:
    group_id = _uuid_or_none(body.get("group_id"), "group_id")
    if group_id is not None and version(request) < (3, 13):
        raise bad("group_id needs microversion 3.13 or later.")
    return group_id


async def create(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    body = await body_of(request, "volume")
    unknown = sorted(set(body) - CREATE_KEYS)
    if unknown:
        raise bad(f"Additional properties are not allowed ({', '.join(map(repr, unknown))}).")
    backup_id = _uuid_or_none(body.get("backup_id"), "backup_id")
    if backup_id is not None and version(request) < (3, 47):
        raise bad("backup_id needs microversion 3.47 or later.")
    image_id = _uuid_or_none(body.get("imageRef", body.get("image_id")), "imageRef")
    image = None
    if image_id is not None:
        image = await request.config_dict[IMAGE_LOOKUP].get(image_id, token(request))
    raw_size = body.get("size")
    wanted = CreateVolume(
        volume_id=str(uuid.uuid4()),
        size=None if raw_size is None else size(raw_size),
        name=text(body.get("name", body.get("display_name")), "name"),
        description=text(body.get("description", body.get("display_description")), "description"),
        volume_type=text(body.get("volume_type"), "volume_type"),
        availability_zone=text(body.get("availability_zone"), "availability_zone"),
        metadata=metadata_dict(body.get("metadata") or {}),
        snapshot_id=_uuid_or_none(body.get("snapshot_id"), "snapshot_id"),
        source_volid=_uuid_or_none(body.get("source_volid"), "source_volid"),
        image=image,
        multiattach=boolean(body.get("multiattach", False), "multiattach"),
        group_id=_group_id(request, body),
        backup_id=backup_id,
    )
    service = volumes(request)
    await service.create(who, wanted, metadata(request))
    made = service.state.volumes[wanted.volume_id]
    return web.json_response({"volume": views.volume(request, who, made, full=False)}, status=202)


def _filtered(request: web.Request, who: Caller, state: VolumeState) -> list[Volume]:
    everyone = all_tenants(request, who.is_admin)
    query = request.query
    wanted_project = query.get("project_id") if everyone else None
    found = []
    meta = parse_dict(query["metadata"], "metadata") if "metadata" in query else None
    for volume in state.volumes.values():
        if not everyone and volume.project_id != who.project_id:
            continue
        if wanted_project and volume.project_id != wanted_project:
            continue
        if not _matches(request, volume, meta):
            continue
        found.append(volume)
    return found


def _matches(request: web.Request, v: Volume, meta: dict[str, Any] | None) -> bool:
    query = request.query
    if "name" in query and v.name != query["name"]:
        return False
    if "name~" in query and query["name~"].lower() not in (v.name or "").lower():
        return False
    if "status" in query and v.status != query["status"]:
        return False
    if "availability_zone" in query and v.availability_zone != query["availability_zone"]:
        return False
    if "bootable" in query and v.bootable != boolean(query["bootable"], "bootable"):
        return False
    if "volume_type" in query and query["volume_type"] not in (v.volume_type, v.volume_type_id):
        return False
    if "size" in query and str(v.size) != query["size"]:
        return False
    return meta is None or all(v.metadata.get(k) == str(val) for k, val in meta.items())


def _key(v: Volume, name: str) -> Any:
    return getattr(v, "name" if name == "display_name" else name)


async def _list(request: web.Request, detail: bool) -> web.Response:
    who = caller(request)
    service = volumes(request)
    found = _filtered(request, who, service.state)
    cut, more = page(request, found, lambda v: v.id, _key, SORT_KEYS, service.config.max_page)
    rendered = [
        views.volume(request, who, v) if detail else views.volume_summary(request, v) for v in cut
    ]
    return web.json_response(collection(request, "volumes", rendered, more, len(found)))


async def index(request: web.Request) -> web.Response:
    return await _list(request, detail=False)


async def detail(request: web.Request) -> web.Response:
    return await _list(request, detail=True)


async def show(request: web.Request) -> web.Response:
    who = caller(request)
    service = volumes(request)
    found = access.volume(service.state, who, request.match_info["id"])
    return web.json_response({"volume": views.volume(request, who, found)})


async def update(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    body = await body_of(request, "volume")
    changes: dict[str, Any] = {}
    for key, field in (
        ("name", "name"),
        ("display_name", "name"),
        ("description", "description"),
        ("display_description", "description"),
    ):
        if key in body:
            changes[field] = text(body[key], field)
    if "metadata" in body:
        changes["metadata"] = metadata_dict(body["metadata"])
    unknown = sorted(
        set(body) - {"name", "display_name", "description", "display_description", "metadata"}
    )
    if unknown or not body:
        raise bad(f"Invalid volume update: {', '.join(unknown) or 'nothing to update'}.")
    volume_id = request.match_info["id"]
    service = volumes(request)
    event = ev.VolumeUpdated(volume_id=volume_id, **changes)

    def command(state: VolumeState, w: Writes) -> None:
        decide.update(state, who, volume_id, event, w)

    await service.run(metadata(request), command)
    found = service.state.volumes[volume_id]
    return web.json_response({"volume": views.volume(request, who, found, full=False)})


async def delete(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    query = request.query
    cascade = boolean(query.get("cascade", "false"), "cascade")
    force = boolean(query.get("force", "false"), "force")
    if force and not who.is_admin:
        raise HTTPFault(403, "Policy doesn't allow volume:force_delete to be performed.")
    volume_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, who, volume_id, w, cascade=cascade, force=force)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def summary(request: web.Request) -> web.Response:
    who = caller(request)
    service = volumes(request)
    found = _filtered(request, who, service.state)
    document: dict[str, Any] = {
        "total_size": sum(v.size for v in found),
        "total_count": len(found),
    }
    if version(request) >= (3, 36):
        merged: dict[str, list[str]] = {}
        for v in found:
            for key, value in v.metadata.items():
                if value not in merged.setdefault(key, []):
                    merged[key].append(value)
        document["metadata"] = merged
    return web.json_response({"volume-summary": document})
