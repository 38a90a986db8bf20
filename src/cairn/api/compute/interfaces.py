"""A server's interfaces: ``/servers/{id}/os-interface`` (Nova's attach-interfaces).

The list is the networking service's ports whose device is the server, as Nova
lists them from Neutron. Attaching makes (or takes) the port as a boot does,
then asks the server's agent to hot-plug it, and answers once the agent has
(Nova's attach is a synchronous call to the compute host too); a failed plug
gives the port back. Detaching answers 202 at once; the agent unplugs the NIC
and the port is let go of afterwards (deleted when the attach made it).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import body_of, compute, invalid, json, v
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import interfaces, servers
from cairn.compute.service import Compute
from cairn.projections.compute import Server

#: How long an attach waits for the agent before answering with the port as it is.
ATTACH_WAIT = 60.0

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
_KEYS = {"port_id", "net_id", "fixed_ips", "tag"}
HOT_PLUG = "hot-plug"


def _view(request: web.Request, server: Server, port: dict[str, Any]) -> dict[str, Any]:
    shown = dict(port)
    if v(request) >= (2, 70):
        entry = next((n for n in server.networks if n.get("port") == port["port_id"]), {})
        shown["tag"] = entry.get("tag") or None
    return shown


async def list_interfaces(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-attach-interfaces:list", {"project_id": server.project_id}
    )
    ports = compute(request).networks.interfaces(server.id)
    return json({"interfaceAttachments": [_view(request, server, p) for p in ports]})


async def show_interface(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-attach-interfaces:show", {"project_id": server.project_id}
    )
    port = _attached(compute(request), server, request.match_info["port_id"])
    return json({"interfaceAttachment": _view(request, server, port)})


def _attached(service: Compute, server: Server, port_id: str) -> dict[str, Any]:
    for port in service.networks.interfaces(server.id):
        if port["port_id"] == port_id:
            return port
    raise HTTPFault.not_found(f"Instance {server.id} is not attached to port {port_id}.")


def _requested(request: web.Request, data: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """The boot-style network request for the body, and its tag."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise HTTPFault.bad_request(
            f"Invalid input: Additional properties are not allowed ({unknown[0]!r} was unexpected)"
        )
    for key in ("port_id", "net_id"):
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or not _UUID.match(value)):
            raise invalid(key, value, "It is not a valid UUID")
    tag = data.get("tag")
    if tag is not None:
        if v(request) < (2, 49):
            raise HTTPFault.bad_request("Invalid input: 'tag' needs microversion 2.49")
        if not isinstance(tag, str) or not 1 <= len(tag) <= 60 or "/" in tag or "," in tag:
            raise invalid("tag", tag, "It must be 1-60 characters, without '/' or ','")
    port_id, net_id = data.get("port_id"), data.get("net_id")
    if port_id and net_id:
        raise HTTPFault.bad_request("Must not input both network_id and port_id")
    fixed_ip = None
    if "fixed_ips" in data:
        fixed = data["fixed_ips"]
        if (
            not isinstance(fixed, list)
            or len(fixed) != 1
            or not isinstance(fixed[0], dict)
            or set(fixed[0]) != {"ip_address"}
            or not isinstance(fixed[0]["ip_address"], str)
        ):
            raise invalid("fixed_ips", fixed, "It must be one {'ip_address': ...}")
        if not net_id:
            raise HTTPFault.bad_request("Invalid input: fixed_ips requires net_id")
        fixed_ip = fixed[0]["ip_address"]
    if port_id:
        return {"port": port_id}, tag
    if net_id:
        return ({"uuid": net_id, "fixed_ip": fixed_ip} if fixed_ip else {"uuid": net_id}), tag
    return {"auto": "true"}, tag


async def attach_interface(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-attach-interfaces:create", {"project_id": server.project_id}
    )
    data = await body_of(request, "interfaceAttachment")
    wanted, tag = _requested(request, data)
    service, admin = compute(request), is_admin(who)
    interfaces.check_attach(server, is_admin=admin)
    host = service.state.hosts.get(server.host or "")
    if host is None or HOT_PLUG not in host.capabilities:
        raise HTTPFault(
            501,
            f"The hypervisor of host {server.host} cannot hot-plug network interfaces.",
        )
    (nic,) = await service.networks.prepare(
        project_id=server.project_id,
        user_id=who.user_id,
        is_admin=admin,
        server_id=server.id,
        requested=[wanted],
        security_groups=[],
    )
    if tag:
        nic = {**nic, "tag": tag}
    meta = metadata(request, who)
    try:
        await service.execute(
            lambda s: interfaces.attach(s, meta, servers.find(s, server.id), nic, is_admin=admin)
        )
    except BaseException:
        await asyncio.shield(service.networks.release(server.id, [nic]))
        raise
    failure = await _outcome(service, server.id, nic["port"])
    if failure is not None:
        raise HTTPFault(500, f"Failed to attach network adapter device to {server.id}: {failure}")
    port = _attached(service, service.state.servers[server.id], nic["port"])
    return json({"interfaceAttachment": _view(request, service.state.servers[server.id], port)})


async def _outcome(service: Compute, server_id: str, port_id: str) -> str | None:
    """Wait for the agent's answer to the attach of ``port_id``: None once the
    server has the NIC (or the wait ran out), the fault's message if it failed."""
    deadline = time.monotonic() + ATTACH_WAIT
    while time.monotonic() < deadline:
        server = service.state.servers.get(server_id)
        if server is None or server.deleted:
            return "the server was deleted meanwhile"
        if any(n.get("port") == port_id for n in server.networks):
            return None
        if server.pending_nic.get("port") != port_id:
            return server.fault.message if server.fault is not None else "the attach failed"
        await asyncio.sleep(0.02)
    return None


async def detach_interface(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-attach-interfaces:delete", {"project_id": server.project_id}
    )
    port_id, service, admin = request.match_info["port_id"], compute(request), is_admin(who)
    meta = metadata(request, who)
    await service.execute(
        lambda s: interfaces.detach(s, meta, servers.find(s, server.id), port_id, is_admin=admin)
    )
    return web.Response(status=202)
