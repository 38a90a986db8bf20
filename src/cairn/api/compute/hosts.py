"""Hosts as the operator sees them: ``/os-hypervisors``, ``/os-services``,
``/os-availability-zone``. Every compute host is one hypervisor and one
``nova-compute`` service; since 2.53 both are named by a UUID derived from the
host's name (stable across restarts), before it by a number (registration order).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import compute, json, now, string, v
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import hosts
from cairn.projections.compute import Host

NAMESPACE = uuid.UUID("6c6f7e1a-3f1e-4f4c-9c39-63616972e001")
BINARY = "nova-compute"


def host_uuid(host: Host) -> str:
    return str(uuid.uuid5(NAMESPACE, host.host))


def _ident(request: web.Request, host: Host) -> str | int:
    if v(request) >= (2, 53):
        return host_uuid(host)
    return list(compute(request).state.hosts).index(host.host) + 1


def _by_ident(request: web.Request, ident: str, kind: str) -> Host:
    for host in compute(request).state.hosts.values():
        if str(_ident(request, host)) == ident:
            return host
    raise HTTPFault.not_found(f"{kind} with ID {ident} could not be found.")


# -- hypervisors ---------------------------------------------------------------------


def _hypervisor(request: web.Request, host: Host, *, detail: bool) -> dict[str, Any]:
    up = host.is_up(now())
    view: dict[str, Any] = {
        "id": _ident(request, host),
        "hypervisor_hostname": host.host,
        "state": "up" if up else "down",
        "status": "enabled" if host.enabled else "disabled",
    }
    if not detail:
        return view
    view.update({
        "host_ip": "127.0.0.1", "hypervisor_type": host.hypervisor_type,
        "hypervisor_version": host.hypervisor_version,
        "service": {"host": host.host, "id": _ident(request, host),
                    "disabled_reason": host.disabled_reason},
    })  # fmt: skip
    if v(request) >= (2, 88):
        view["uptime"] = None
        return view
    memory, disk = host.capacity.memory_mb, host.capacity.disk_gb
    view.update({
        "vcpus": host.capacity.vcpus, "memory_mb": memory, "local_gb": disk,
        "vcpus_used": host.used_vcpus, "memory_mb_used": host.used_memory_mb,
        "local_gb_used": host.used_disk_gb, "free_ram_mb": memory - host.used_memory_mb,
        "free_disk_gb": disk - host.used_disk_gb, "current_workload": 0,
        "running_vms": len(host.claims), "disk_available_least": disk - host.used_disk_gb,
        "cpu_info": f'{{"arch": "{host.architecture}"}}',
    })  # fmt: skip
    return view


async def list_hypervisors(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-hypervisors:list")
    found = list(compute(request).state.hosts.values())
    pattern = request.query.get("hypervisor_hostname_pattern")
    if pattern:
        found = [h for h in found if pattern in h.host]
    return json({"hypervisors": [_hypervisor(request, h, detail=False) for h in found]})


async def list_hypervisors_detail(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-hypervisors:list-detail")
    found = compute(request).state.hosts.values()
    return json({"hypervisors": [_hypervisor(request, h, detail=True) for h in found]})


async def show_hypervisor(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-hypervisors:show")
    host = _by_ident(request, request.match_info["hypervisor_id"], "Hypervisor")
    return json({"hypervisor": _hypervisor(request, host, detail=True)})


async def hypervisor_statistics(request: web.Request) -> web.Response:
    if v(request) >= (2, 88):
        raise HTTPFault.not_found("The resource could not be found.")
    await authorize(request, "os_compute_api:os-hypervisors:statistics")
    totals = dict.fromkeys(
        ("count", "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
         "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
         "disk_available_least"), 0,
    )  # fmt: skip
    for host in compute(request).state.hosts.values():
        view = _hypervisor(request, host, detail=True)
        totals["count"] += 1
        for key in totals:
            if key != "count" and isinstance(view.get(key), int):
                totals[key] += view[key]
    return json({"hypervisor_statistics": totals})


# -- services --------------------------------------------------------------------------


def _service(request: web.Request, host: Host) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": _ident(request, host),
        "binary": BINARY,
        "host": host.host,
        "zone": host.availability_zone,
        "status": "enabled" if host.enabled else "disabled",
        "state": "up" if host.is_up(now()) else "down",
        "updated_at": host.updated_at,
        "disabled_reason": host.disabled_reason,
    }
    if v(request) >= (2, 11):
        view["forced_down"] = False
    return view


async def list_services(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-services:list")
    query = request.query
    found = [
        _service(request, h)
        for h in compute(request).state.hosts.values()
        if query.get("host") in (None, h.host) and query.get("binary") in (None, BINARY)
    ]
    return json({"services": found})


async def _set_enabled(request: web.Request, host: Host, enabled: bool, reason: str | None) -> None:
    who = caller(request)
    meta = metadata(request, who)
    name = host.host
    await compute(request).execute(lambda s: hosts.set_enabled(s, meta, name, enabled, reason))


LEGACY_ACTIONS = ("enable", "disable", "disable-log-reason")


async def put_service(request: web.Request) -> web.Response:
    """``PUT /os-services/{id}`` from 2.53; before it the same path's last part is
    an action (``enable``, ``disable``, ``disable-log-reason``) on a host."""
    ident = request.match_info["service_id"]
    if v(request) < (2, 53):
        if ident not in LEGACY_ACTIONS:
            raise HTTPFault.not_found("The resource could not be found.")
        return await legacy_service_action(request, ident)
    return await update_service(request)


async def update_service(request: web.Request) -> web.Response:
    """``PUT /os-services/{id}`` (2.53+)."""
    await authorize(request, "os_compute_api:os-services:update")
    host = _by_ident(request, request.match_info["service_id"], "Service")
    body = await read_json(request)
    if not isinstance(body, dict) or not body:
        raise HTTPFault.bad_request("Invalid input: status, disabled_reason or forced_down")
    wanted = body.get("status")
    reason = string(body, "disabled_reason", nullable=True)
    if wanted not in (None, "enabled", "disabled"):
        raise HTTPFault.bad_request(f"Invalid input for field/attribute status. Value: {wanted}.")
    if reason and wanted != "disabled":
        raise HTTPFault.bad_request(
            "Specifying 'disabled_reason' with status 'enabled' is invalid."
        )
    if wanted is not None:
        await _set_enabled(request, host, wanted == "enabled", reason)
    updated = compute(request).state.hosts[host.host]
    return json({"service": _service(request, updated)})


async def legacy_service_action(request: web.Request, action: str) -> web.Response:
    """``PUT /os-services/{enable,disable,disable-log-reason}`` (before 2.53)."""
    await authorize(request, "os_compute_api:os-services:update")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise HTTPFault.bad_request("Invalid input: 'host' is a required property")
    name = string(body, "host", required=True) or ""
    reason = string(body, "disabled_reason") if action == "disable-log-reason" else None
    host = compute(request).state.hosts.get(name)
    if host is None:
        raise HTTPFault.not_found(f"Compute host {name} could not be found.")
    await _set_enabled(request, host, action == "enable", reason)
    view: dict[str, Any] = {"host": name, "binary": BINARY,
                            "status": "enabled" if action == "enable" else "disabled"}  # fmt: skip
    if reason:
        view["disabled_reason"] = reason
    return json({"service": view})


# -- availability zones ----------------------------------------------------------------


async def availability_zones(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-availability-zone:list")
    zones: dict[str, bool] = {}
    for host in compute(request).state.hosts.values():
        usable = host.enabled and host.is_up(now())
        zones[host.availability_zone] = zones.get(host.availability_zone, False) or usable
    info = [
        {"zoneName": zone, "zoneState": {"available": up}, "hosts": None}
        for zone, up in sorted(zones.items())
    ]
    return json({"availabilityZoneInfo": info})


async def availability_zones_detail(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-availability-zone:detail")
    zones: dict[str, dict[str, Any]] = {}
    for host in compute(request).state.hosts.values():
        up = host.is_up(now())
        zone = zones.setdefault(host.availability_zone, {"available": False, "hosts": {}})
        zone["available"] = zone["available"] or (host.enabled and up)
        zone["hosts"][host.host] = {
            BINARY: {"available": up, "active": host.enabled, "updated_at": host.updated_at}
        }
    info = [
        {"zoneName": name, "zoneState": {"available": z["available"]}, "hosts": z["hosts"]}
        for name, z in sorted(zones.items())
    ]
    return json({"availabilityZoneInfo": info})
