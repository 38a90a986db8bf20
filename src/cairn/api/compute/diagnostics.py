"""``GET /servers/{id}/diagnostics`` (admins): asked of the agent that owns the guest.

As with console output (docs/adr/0022), the API appends
``ServerDiagnosticsRequested`` (naming the host and a request id) to
``serverdiagnostics-<server id>`` and waits, at most :data:`ANSWER_TIMEOUT`
seconds, for the host agent's ``ServerDiagnosticsCaptured``. Before 2.48 the
answer is libvirt's flat dictionary (``cpu0_time``, ``vda_read``...), from 2.48
Nova's standard shape.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import msgspec
from aiohttp import web

from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import json, v
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.api.keys import STORE
from cairn.compute.usage import parse_time
from cairn.events import ANY_VERSION, registry
from cairn.events import compute as ev
from cairn.projections.compute import Server
from cairn.store.port import EventStore, StreamWrite

ANSWER_TIMEOUT = 10.0
CAPTURED = "ServerDiagnosticsCaptured"
_captured = msgspec.json.Decoder(ev.ServerDiagnosticsCaptured).decode


def _nic_counters(n: ev.NicStats) -> list[tuple[str, int]]:
    return [
        ("rx", n.rx_bytes),
        ("rx_packets", n.rx_packets),
        ("rx_errors", n.rx_errors),
        ("rx_drop", n.rx_drop),
        ("tx", n.tx_bytes),
        ("tx_packets", n.tx_packets),
        ("tx_errors", n.tx_errors),
        ("tx_drop", n.tx_drop),
    ]


def _legacy(stats: ev.GuestStats) -> dict[str, Any]:
    """libvirt's own keys, as Nova's libvirt driver answered before 2.48."""
    shown: dict[str, Any] = {f"cpu{i}_time": t for i, t in enumerate(stats.cpu_times)}
    shown["memory"] = stats.memory_max_kib
    shown["memory-actual"] = stats.memory_used_kib
    for d in stats.disks:
        shown[f"{d.name}_read_req"] = d.read_requests
        shown[f"{d.name}_read"] = d.read_bytes
        shown[f"{d.name}_write_req"] = d.write_requests
        shown[f"{d.name}_write"] = d.write_bytes
        shown[f"{d.name}_errors"] = d.errors
    for n in stats.nics:
        for suffix, value in _nic_counters(n):
            shown[f"{n.name}_{suffix}"] = value
    return shown


def _standard(server: Server, stats: ev.GuestStats) -> dict[str, Any]:
    """Nova's standard diagnostics (2.48+)."""
    launched = parse_time(server.launched_at)
    return {
        "state": stats.state,
        "driver": "libvirt",
        "hypervisor": stats.hypervisor,
        "hypervisor_os": "linux",
        "uptime": int(time.time() - launched.timestamp()) if launched else None,
        "config_drive": server.config_drive,
        "num_cpus": len(stats.cpu_times),
        "num_disks": len(stats.disks),
        "num_nics": len(stats.nics),
        "cpu_details": [
            {"id": i, "time": t, "utilisation": None} for i, t in enumerate(stats.cpu_times)
        ],
        "memory_details": {
            "maximum": stats.memory_max_kib // 1024,
            "used": stats.memory_used_kib // 1024,
        },
        "disk_details": [
            {
                "read_bytes": d.read_bytes,
                "read_requests": d.read_requests,
                "write_bytes": d.write_bytes,
                "write_requests": d.write_requests,
                "errors_count": d.errors,
            }
            for d in stats.disks
        ],
        "nic_details": [
            {
                "mac_address": n.mac_address,
                "rx_octets": n.rx_bytes,
                "rx_errors": n.rx_errors,
                "rx_drop": n.rx_drop,
                "rx_packets": n.rx_packets,
                "rx_rate": None,
                "tx_octets": n.tx_bytes,
                "tx_errors": n.tx_errors,
                "tx_drop": n.tx_drop,
                "tx_packets": n.tx_packets,
                "tx_rate": None,
            }
            for n in stats.nics
        ],
    }


async def server_diagnostics(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    who = await authorize(
        request, "os_compute_api:os-server-diagnostics", {"project_id": server.project_id}
    )
    if not server.host or not server.launched_at or server.vm_state == "building":
        raise HTTPFault.conflict(
            f"Cannot 'get_diagnostics' instance {server.id} while it is in vm_state "
            f"{server.vm_state}"
        )
    store = request.config_dict[STORE]
    request_id = str(uuid.uuid4())
    asked = ev.ServerDiagnosticsRequested(
        server_id=server.id, host=server.host, request_id=request_id
    )
    stream = ev.diagnostics_stream(server.id)
    result = await store.append(
        StreamWrite(stream, [registry.new(asked, metadata(request, who))], ANY_VERSION)
    )
    answer = await _answer(store, stream, request_id, result.versions[stream], result.position)
    if answer is None:
        raise HTTPFault(
            503, f"The compute host {server.host} did not answer with diagnostics in time."
        )
    if answer.stats is None:
        raise HTTPFault.conflict(f"Instance {server.id} has no diagnostics: {answer.error}.")
    if v(request) >= (2, 48):
        return json(_standard(server, answer.stats))
    return json(_legacy(answer.stats))


async def _answer(
    store: EventStore, stream: str, request_id: str, version: int, position: int
) -> ev.ServerDiagnosticsCaptured | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ANSWER_TIMEOUT
    while True:
        for event in await store.read_stream(stream, from_version=version + 1):
            version = event.version
            position = max(position, event.position)
            if event.type == CAPTURED:
                found = _captured(event.data)
                if found.request_id == request_id:
                    return found
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        await store.wait_for_new(position, timeout=min(remaining, 1.0))
