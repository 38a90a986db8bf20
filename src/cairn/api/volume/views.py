"""How volumes, snapshots and volume types look in Cinder's API, per microversion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from cairn.api.volume.common import links
from cairn.api.volume.microversions import version
from cairn.projections.volume import Snapshot, Volume, VolumeType
from cairn.volume.access import Caller


def when(value: datetime | None) -> str | None:
    """Cinder's times: ISO 8601 with microseconds, UTC, no offset."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _metadata(v: Volume) -> dict[str, str]:
    """The volume's metadata, with Cinder's admin metadata ``readonly`` once it was set."""
    shown = dict(v.metadata)
    if v.readonly is not None:
        shown["readonly"] = "True" if v.readonly else "False"
    return shown


def volume_summary(request: web.Request, volume: Volume) -> dict[str, Any]:
    return {"id": volume.id, "name": volume.name, "links": links(request, "volumes", volume.id)}


def volume(request: web.Request, caller: Caller, v: Volume, *, full: bool = True) -> dict[str, Any]:
    """A volume as show and detail give it; ``full=False`` is what a create or an
    update answers (Cinder's extension attributes are added to reads only)."""
    mv = version(request)
    shown: dict[str, Any] = {
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": when(v.created_at),
        "updated_at": when(v.updated_at),
        "bootable": "true" if v.bootable else "false",
        "encrypted": False,
        "multiattach": v.multiattach,
        "metadata": _metadata(v),
        "volume_type": v.volume_type,
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "user_id": v.user_id,
        "attachments": [
            {
                "id": v.id,
                "attachment_id": a.id,
                "volume_id": v.id,
                "server_id": a.server_id,
                "host_name": a.host_name,
                "device": a.device,
                "attached_at": when(a.attached_at),
            }
            for a in v.attachments
        ],
        "links": links(request, "volumes", v.id),
        "replication_status": None,
        "consistencygroup_id": None,
        "migration_status": v.migration_status,
    }
    if full:
        shown["os-vol-tenant-attr:tenant_id"] = v.project_id
    if full and v.image_metadata:
        shown["volume_image_metadata"] = dict(v.image_metadata)
    if full and caller.is_admin:
        shown["os-vol-host-attr:host"] = v.host
        shown["os-vol-mig-status-attr:migstat"] = v.migration_status
        shown["os-vol-mig-status-attr:name_id"] = None
    if mv >= (3, 13):
        shown["group_id"] = v.group_id
    if mv >= (3, 21) and caller.is_admin:
        shown["provider_id"] = None
    if mv >= (3, 48):
        shown["shared_targets"] = False
        shown["service_uuid"] = None
    if mv >= (3, 61) and caller.is_admin:
        shown["cluster_name"] = None
    if mv >= (3, 63):
        shown["volume_type_id"] = v.volume_type_id
    if mv >= (3, 64):
        shown["encryption_key_id"] = None
    if mv >= (3, 65):
        shown["consumes_quota"] = True
    return shown


def snapshot(request: web.Request, s: Snapshot, *, detail: bool = True) -> dict[str, Any]:
    mv = version(request)
    shown: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "status": s.status,
        "size": s.size,
        "volume_id": s.volume_id,
        "metadata": dict(s.metadata),
        "created_at": when(s.created_at),
        "updated_at": when(s.updated_at),
    }
    if detail:
        shown["os-extended-snapshot-attributes:progress"] = s.progress or (
            "100%" if s.status == "available" else "0%"
        )
        shown["os-extended-snapshot-attributes:project_id"] = s.project_id
    if mv >= (3, 14):
        shown["group_snapshot_id"] = s.group_snapshot_id
    if mv >= (3, 41):
        shown["user_id"] = s.user_id
    if mv >= (3, 65):
        shown["consumes_quota"] = True
    return shown


def volume_type(caller: Caller, t: VolumeType, *, answer: str = "show") -> dict[str, Any]:
    """A volume type as a show or listing gives it; a create's answer has no
    ``qos_specs_id``, an update's not the access attribute either (as Cinder)."""
    shown: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
    }
    if answer != "update":
        shown["os-volume-type-access:is_public"] = t.is_public
    if answer == "show" and caller.is_admin:
        shown["qos_specs_id"] = t.qos_specs_id
    if caller.is_admin:
        shown["extra_specs"] = dict(t.extra_specs)
    return shown
