"""Hosts as the operator sees them: ``/os-hypervisors``, ``/os-services``,
``/os-availability-zone``. Every compute host is one hypervisor and one
``nova-compute`` service; since 2.53 both are named by a UUID derived from the
host's name (stable across restarts), before it by a number (registration order).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import compute, json, now, query_bool, string, v
from cairn.api.compute.nova_types import body_boolean
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import hosts
from cairn.projections.compute import Host, Server


def json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


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
        "host_ip": host.host_ip or None, "hypervisor_type": host.hypervisor_type,
        "hypervisor_version": host.hypervisor_version,
        "service": {"host": host.host, "id": _ident(request, host),
                    "disabled_reason": host.disabled_reason},
    })  # fmt: skip
    if v(request) >= (2, 88):
        view["uptime"] = uptime(host, now())
        return view
    cpu_info: dict[str, Any] = {"arch": host.architecture}
    memory, disk = host.capacity.memory_mb, host.capacity.disk_gb
    view.update({
        "vcpus": host.capacity.vcpus, "memory_mb": memory, "local_gb": disk,
        "vcpus_used": host.used_vcpus, "memory_mb_used": host.used_memory_mb,
        "local_gb_used": host.used_disk_gb, "free_ram_mb": memory - host.used_memory_mb,
        "free_disk_gb": disk - host.used_disk_gb,
        "current_workload": _workload(request, host),
        "running_vms": len(host.claims), "disk_available_least": disk - host.used_disk_gb,
        # a JSON text before 2.28, the object itself from then on
        "cpu_info": cpu_info if v(request) >= (2, 28) else json_text(cpu_info),
    })  # fmt: skip
    return view


def _servers_on(request: web.Request, host: Host) -> list[Server]:
    state = compute(request).state
    return [s for s in state.servers.values() if s.host == host.host and not s.deleted]


def _workload(request: web.Request, host: Host) -> int:
    """Nova's ``current_workload``: the host's servers with an operation under way."""
    return sum(1 for s in _servers_on(request, host) if s.task_state is not None)


def uptime(host: Host, at: float) -> str | None:
    """The host's uptime as ``uptime(1)`` words it (Nova's libvirt driver answers that
    command's output), from the boot time and load its agent reported; None when
    its agent did not say when the host booted."""
    if not host.booted_at:
        return None
    minutes = max(0, int(at - host.booted_at)) // 60
    days, minutes = divmod(minutes, 24 * 60)
    clock = time.strftime("%H:%M:%S", time.gmtime(at))
    since = f"{days} day{'s' if days != 1 else ''}, " if days else ""
    load = ", ".join(f"{x:.2f}" for x in host.load_average) or "unknown"
    return f" {clock} up {since}{minutes // 60:2d}:{minutes % 60:02d},  load average: {load}"


def _matching(request: web.Request, pattern: str) -> list[Host]:
    found = [h for h in compute(request).state.hosts.values() if pattern in h.host]
    if not found:
        raise HTTPFault.not_found(f"No hypervisor matching '{pattern}' could be found.")
    return found


def _with_servers(request: web.Request, host: Host) -> dict[str, Any]:
    view = _hypervisor(request, host, detail=False)
    on_host = _servers_on(request, host)
    if on_host:  # Nova leaves the key out for a hypervisor without servers
        view["servers"] = [{"uuid": s.id, "name": s.instance_name} for s in on_host]
    return view


def _listed(request: web.Request) -> list[Host]:
    found = list(compute(request).state.hosts.values())
    pattern = request.query.get("hypervisor_hostname_pattern")
    if pattern is not None and v(request) >= (2, 53):
        return _matching(request, pattern)
    return found


def _servers_asked(request: web.Request) -> bool:
    """``with_servers`` (2.53+): each hypervisor's servers in the answer."""
    return v(request) >= (2, 53) and query_bool(request, "with_servers")


def _shown(request: web.Request, host: Host, *, detail: bool) -> dict[str, Any]:
    view = _hypervisor(request, host, detail=detail)
    if _servers_asked(request):
        servers = _with_servers(request, host).get("servers")
        if servers:
            view["servers"] = servers
    return view


async def list_hypervisors(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-hypervisors:list")
    found = _listed(request)
    return json({"hypervisors": [_shown(request, h, detail=False) for h in found]})


async def list_hypervisors_detail(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-hypervisors:list-detail")
    found = _listed(request)
    return json({"hypervisors": [_shown(request, h, detail=True) for h in found]})


async def show_hypervisor(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-hypervisors:show")
    host = _by_ident(request, request.match_info["hypervisor_id"], "Hypervisor")
    return json({"hypervisor": _shown(request, host, detail=True)})


async def hypervisor_uptime(request: web.Request) -> web.Response:
    """``/os-hypervisors/{id}/uptime`` (before 2.88, which put it in the detail)."""
    if v(request) >= (2, 88):
        raise HTTPFault.not_found("The resource could not be found.")
    await authorize(request, "os_compute_api:os-hypervisors:uptime")
    host = _by_ident(request, request.match_info["hypervisor_id"], "Hypervisor")
    text = uptime(host, now())
    if text is None:
        raise HTTPFault(501, f"The agent of {host.host} did not report its uptime.")
    return json({"hypervisor": {**_hypervisor(request, host, detail=False), "uptime": text}})


async def search_hypervisors(request: web.Request) -> web.Response:
    """``/os-hypervisors/{pattern}/search`` (before 2.53; then a list filter)."""
    if v(request) >= (2, 53):
        raise HTTPFault.not_found("The resource could not be found.")
    await authorize(request, "os_compute_api:os-hypervisors:search")
    found = _matching(request, request.match_info["pattern"])
    return json({"hypervisors": [_hypervisor(request, h, detail=False) for h in found]})


async def hypervisor_servers(request: web.Request) -> web.Response:
    """``/os-hypervisors/{pattern}/servers`` (before 2.53; then ``with_servers``)."""
    if v(request) >= (2, 53):
        raise HTTPFault.not_found("The resource could not be found.")
    await authorize(request, "os_compute_api:os-hypervisors:servers")
    found = _matching(request, request.match_info["pattern"])
    return json({"hypervisors": [_with_servers(request, h) for h in found]})


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
        view["forced_down"] = host.forced_down
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
SERVICE_FIELDS = {"status", "disabled_reason", "forced_down"}


def _forced_down(body: dict[str, Any]) -> bool | None:
    if "forced_down" not in body:
        return None
    return body_boolean("forced_down", body["forced_down"])


async def _set_forced_down(request: web.Request, host: Host, forced: bool) -> None:
    meta = metadata(request, caller(request))
    name = host.host
    await compute(request).execute(lambda s: hosts.set_forced_down(s, meta, name, forced))


async def legacy_force_down(request: web.Request) -> web.Response:
    """``PUT /os-services/force-down`` (2.11 to 2.52): ``host``, ``binary``, ``forced_down``."""
    await authorize(request, "os_compute_api:os-services:update")
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) != {"host", "binary", "forced_down"}:
        raise HTTPFault.bad_request(
            "Invalid input: 'host', 'binary' and 'forced_down' are required"
        )
    name = string(body, "host", required=True) or ""
    binary = string(body, "binary", required=True)
    forced = _forced_down(body)
    assert forced is not None
    host = compute(request).state.hosts.get(name)
    if host is None or binary != BINARY:
        raise HTTPFault.not_found(f"Service {binary} on host {name} could not be found.")
    await _set_forced_down(request, host, forced)
    return json({"service": {"host": name, "binary": BINARY, "forced_down": forced}})


async def put_service(request: web.Request) -> web.Response:
    """``PUT /os-services/{id}`` from 2.53; before it the same path's last part is
    an action (``enable``, ``disable``, ``disable-log-reason``) on a host."""
    ident = request.match_info["service_id"]
    if v(request) < (2, 53):
        if ident == "force-down" and v(request) >= (2, 11):
            return await legacy_force_down(request)
        if ident not in LEGACY_ACTIONS:
            raise HTTPFault.not_found("The resource could not be found.")
        return await legacy_service_action(request, ident)
    return await update_service(request)


async def update_service(request: web.Request) -> web.Response:
    """``PUT /os-services/{id}`` (2.53+)."""
    await authorize(request, "os_compute_api:os-services:update")
    host = _by_ident(request, request.match_info["service_id"], "Service")
    body = await read_json(request)
    if not isinstance(body, dict) or not body or set(body) - SERVICE_FIELDS:
        raise HTTPFault.bad_request("Invalid input: status, disabled_reason or forced_down")
    forced = _forced_down(body)
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
    if forced is not None:
        await _set_forced_down(request, host, forced)
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
