"""``/os-hosts`` (2.1 to 2.42, then gone): Nova's older view of compute hosts.

Every compute host is one ``compute`` service. A host's detail is Nova's
resource table: the host's capacity ``(total)``, what its claims hold
``(used_now)``, what its servers' flavors add up to ``(used_max)``, then one
row per project with servers there. ``status`` enables or disables the host's
service (the same switch as ``/os-services``); maintenance mode and power
actions are not something Cairn's agents do, so they answer 501, as Nova's
libvirt driver does.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import compute, json, v
from cairn.api.faults import HTTPFault
from cairn.compute import hosts
from cairn.projections.compute import Host

_SWITCH = {"enable": True, "disable": False}


def _available(request: web.Request) -> None:
    if v(request) >= (2, 43):
        raise HTTPFault.not_found("The resource could not be found.")


def _host(request: web.Request) -> Host:
    name = request.match_info["host_name"]
    host = compute(request).state.hosts.get(name)
    if host is None:
        raise HTTPFault.not_found(f"Compute host {name} could not be found.")
    return host


async def list_hosts(request: web.Request) -> web.Response:
    _available(request)
    await authorize(request, "os_compute_api:os-hosts:list")
    zone = request.query.get("zone")
    found = [
        {"host_name": h.host, "service": "compute", "zone": h.availability_zone}
        for h in compute(request).state.hosts.values()
        if not zone or h.availability_zone == zone
    ]
    return json({"hosts": found})


def _row(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "disk_gb": disk_gb,
        }
    }


async def show_host(request: web.Request) -> web.Response:
    _available(request)
    await authorize(request, "os_compute_api:os-hosts:show")
    host = _host(request)
    state = compute(request).state
    on_host = [s for s in state.servers.values() if s.host == host.host and not s.deleted]
    per_project: dict[str, list[int]] = {}
    for server in on_host:
        sums = per_project.setdefault(server.project_id, [0, 0, 0])
        flavor = server.flavor
        sums[0] += flavor.vcpus
        sums[1] += flavor.ram_mb
        sums[2] += flavor.disk_gb + flavor.ephemeral_gb
    capacity = host.capacity
    rows = [
        _row(host.host, "(total)", capacity.vcpus, capacity.memory_mb, capacity.disk_gb),
        _row(host.host, "(used_now)", host.used_vcpus, host.used_memory_mb, host.used_disk_gb),
        _row(
            host.host, "(used_max)", *[sum(s[i] for s in per_project.values()) for i in (0, 1, 2)]
        ),
    ]
    rows += [_row(host.host, p, *sums) for p, sums in sorted(per_project.items())]
    return json({"host": rows})


def _switch(body: dict[str, Any], key: str) -> bool | None:
    if key not in body:
        return None
    raw = body[key]
    if not isinstance(raw, str) or raw.strip().lower() not in _SWITCH:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute {key}. Value: {raw}. "
            f"It must be 'enable' or 'disable'"
        )
    return _SWITCH[raw.strip().lower()]


async def update_host(request: web.Request) -> web.Response:
    _available(request)
    who = await authorize(request, "os_compute_api:os-hosts:update")
    body = await read_json(request)
    if not isinstance(body, dict) or not body or set(body) - {"status", "maintenance_mode"}:
        raise HTTPFault.bad_request(
            "Invalid input: 'status' or 'maintenance_mode' (and nothing else) is required"
        )
    status, maintenance = _switch(body, "status"), _switch(body, "maintenance_mode")
    host = _host(request)
    if maintenance is not None:
        raise HTTPFault(501, "Maintenance mode is not supported by this cloud's hosts.")
    assert status is not None
    meta = metadata(request, who)
    name = host.host
    await compute(request).execute(lambda s: hosts.set_enabled(s, meta, name, status, None))
    return json({"host": name, "status": "enabled" if status else "disabled"})


async def _power(request: web.Request, rule: str) -> web.Response:
    _available(request)
    await authorize(request, f"os_compute_api:os-hosts:{rule}")
    _host(request)
    raise HTTPFault(501, "Host power actions are not supported by this cloud's hosts.")


async def startup(request: web.Request) -> web.Response:
    return await _power(request, "start")


async def shutdown(request: web.Request) -> web.Response:
    return await _power(request, "shutdown")


async def reboot(request: web.Request) -> web.Response:
    return await _power(request, "reboot")
