"""What admins see of the backends: ``/os-services``, ``/os-hosts``,
``/scheduler-stats/get_pools`` and ``/capabilities/{host}``, from the volume
agents' registrations and heartbeats (a backend is ``up`` while its heartbeats
arrive, as Cinder's service_down_time judges it). Cinder's scheduler is this
API process (its deciders place every volume): it is listed as
``cinder-scheduler``, up as long as it answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume.common import caller, metadata, volumes
from cairn.api.volume.views import when
from cairn.projections.volume import Backend, VolumeState
from cairn.volume import scheduler
from cairn.volume import services as admin
from cairn.volume.writes import Writes

#: missed heartbeats before a backend is shown ``down``
MISSED = 3


def _up(backend: Backend) -> bool:
    if not backend.running:
        return False
    age = dt.datetime.now(dt.UTC) - backend.last_seen
    return age.total_seconds() < MISSED * backend.heartbeat_interval


def _service_host(backend: Backend) -> str:
    return admin.service_host(backend)


def _scheduler(request: web.Request) -> dict[str, Any]:
    """This process, as Cinder's scheduler service (it answers, so it is up)."""
    config = volumes(request).config
    return {
        "binary": "cinder-scheduler",
        "host": config.backend_host.split("@", 1)[0],
        "zone": config.availability_zone,
        "updated_at": when(dt.datetime.now(dt.UTC)),
    }


def _backends(request: web.Request) -> list[Backend]:
    caller(request, admin=True)
    return sorted(volumes(request).state.backends.values(), key=lambda b: b.host)


async def services(request: web.Request) -> web.Response:
    query = request.query
    found = [{**_scheduler(request), "state": "up"}] + [
        {
            "binary": "cinder-volume",
            "host": _service_host(backend),
            "zone": backend.availability_zone,
            "state": "up" if _up(backend) else "down",
            "updated_at": when(backend.last_seen),
            "status": "disabled" if backend.disabled else "enabled",
            "disabled_reason": backend.disabled_reason,
            "frozen": backend.frozen,
        }
        for backend in _backends(request)
    ]
    listed = []
    for service in found:
        if "binary" in query and query["binary"] != service["binary"]:
            continue
        if "host" in query and query["host"] not in (
            service["host"],
            service["host"].split("@")[0],
        ):
            continue
        listed.append(
            {
                "status": "enabled",
                "disabled_reason": None,
                "frozen": False,
                **service,
                "replication_status": "disabled",
                "active_backend_id": None,
            }
        )
    return web.json_response({"services": listed})


async def hosts(request: web.Request) -> web.Response:
    this = _scheduler(request)
    listed = [
        {
            "service-status": "available",
            "service": "cinder-scheduler",
            "zone": this["zone"],
            "service-state": "enabled",
            "host_name": this["host"],
            "last-update": this["updated_at"],
        }
    ] + [
        {
            "service-status": "available" if _up(b) else "unavailable",
            "service": "cinder-volume",
            "zone": b.availability_zone,
            "service-state": "disabled" if b.disabled else "enabled",
            "host_name": _service_host(b),
            "last-update": when(b.last_seen),
        }
        for b in _backends(request)
    ]
    return web.json_response({"hosts": listed})


def _capabilities(backend: Backend) -> dict[str, Any]:
    caps = scheduler.capabilities(backend)  # what the scheduler matches types against
    return {
        "volume_backend_name": caps["volume_backend_name"],
        "vendor_name": caps["vendor_name"],
        "driver_version": caps["driver_version"],
        "storage_protocol": caps["storage_protocol"],
        "total_capacity_gb": backend.total_capacity_gb,
        "free_capacity_gb": backend.free_capacity_gb,
        "reserved_percentage": 0,
        "QoS_support": False,
        "timestamp": when(backend.last_seen),
    }


async def pools(request: web.Request) -> web.Response:
    detail = request.query.get("detail", "").lower() in ("true", "1", "yes")
    listed = []
    for backend in _backends(request):
        pool: dict[str, Any] = {"name": backend.host}
        if detail:
            pool["capabilities"] = _capabilities(backend)
        listed.append(pool)
    return web.json_response({"pools": listed})


async def capabilities(request: web.Request) -> web.Response:
    wanted = request.match_info["host"]
    for backend in _backends(request):
        if wanted in (backend.host, _service_host(backend)):
            caps = _capabilities(backend)
            return web.json_response(
                {
                    "namespace": f"OS::Storage::Capabilities::{_service_host(backend)}",
                    "vendor_name": caps["vendor_name"],
                    "volume_backend_name": caps["volume_backend_name"],
                    "pool_name": None,
                    "driver_version": caps["driver_version"],
                    "storage_protocol": caps["storage_protocol"],
                    "display_name": None,
                    "description": None,
                    "visibility": None,
                    "replication_targets": [],
                    "properties": {},
                }
            )
    raise HTTPFault.not_found(f"Host {wanted} could not be found.")


async def show_host(request: web.Request) -> web.Response:
    """What a backend holds: the totals, then each project's share (Cinder's shape,
    every figure a string)."""
    wanted = request.match_info["host"]
    backends = [b for b in _backends(request) if wanted in (b.host, _service_host(b))]
    if not backends:
        raise HTTPFault.not_found(f"Host {wanted} could not be found.")
    state = volumes(request).state
    hosts = {b.host for b in backends}
    projects: dict[str, list[int]] = {}
    for volume in state.volumes.values():
        if volume.host in hosts:
            figures = projects.setdefault(volume.project_id, [0, 0, 0, 0])
            figures[0] += 1
            figures[1] += volume.size
    for snapshot in state.snapshots.values():
        parent = state.volumes.get(snapshot.volume_id)
        if parent is not None and parent.host in hosts:
            figures = projects.setdefault(snapshot.project_id, [0, 0, 0, 0])
            figures[2] += 1
            figures[3] += snapshot.size

    def resource(project: str, figures: list[int]) -> dict[str, Any]:
        return {
            "resource": {
                "host": wanted,
                "project": project,
                "volume_count": str(figures[0]),
                "total_volume_gb": str(figures[1]),
                "snapshot_count": str(figures[2]),
                "total_snapshot_gb": str(figures[3]),
            }
        }

    total = [sum(f[i] for f in projects.values()) for i in range(4)]
    listed = [resource("(total)", total)] + [
        resource(project, figures) for project, figures in sorted(projects.items())
    ]
    return web.json_response({"host": listed})


async def update_service(request: web.Request) -> web.Response:
    """``PUT /os-services/{enable,disable,disable-log-reason,freeze,thaw}``."""
    caller(request, admin=True)
    action = request.match_info["action"]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise HTTPFault.bad_request("Invalid input received: the body must be an object.")
    host, binary = body.get("host"), body.get("binary", admin.BINARY)
    if not isinstance(host, str) or not host:
        raise HTTPFault.bad_request("Invalid input received: 'host' is a required property")
    service = volumes(request)
    if action in ("freeze", "thaw"):

        def freeze(state: VolumeState, w: Writes) -> None:
            admin.set_frozen(state, host, w, frozen=action == "freeze")

        await service.run(metadata(request), freeze)
        return web.Response(status=200)
    if action not in ("enable", "disable", "disable-log-reason"):
        raise HTTPFault.not_found(f"Unknown action {action}.")
    reason = body.get("disabled_reason")
    if action == "disable-log-reason" and (not isinstance(reason, str) or not reason.strip()):
        raise HTTPFault.bad_request(
            "Invalid input received: Disabled reason contains invalid characters or is too long"
        )
    disabled = action != "enable"

    def command(state: VolumeState, w: Writes) -> Backend:
        return admin.set_status(
            state, host, str(binary), w, disabled=disabled, reason=reason if disabled else None
        )

    backend = await service.run(metadata(request), command)
    shown: dict[str, Any] = {
        "host": admin.service_host(backend),
        "service": admin.BINARY,
        "binary": admin.BINARY,
        "status": "disabled" if disabled else "enabled",
        "disabled": disabled,
    }
    if action != "disable":
        shown["disabled_reason"] = reason if disabled else None
    return web.json_response(shown)
