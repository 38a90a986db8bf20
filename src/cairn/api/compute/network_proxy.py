"""Nova's network proxies: ``/os-floating-ips``, ``/os-floating-ip-pools``,
``/os-networks``, ``/os-tenant-networks`` and the ``addFloatingIp`` and
``removeFloatingIp`` actions.

Nova deprecated them at microversion 2.36 (404 from then on; the two server
actions went at 2.44); they are networking's resources through the port the
composition root wires in (none: a 404, as a Nova without Neutron answers).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, is_admin
from cairn.api.compute.common import invalid, json, v
from cairn.api.compute.keys import NETWORK_PROXY
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute.network_proxy import NetworkProxyPort
from cairn.compute.networks import Requester
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server

PROXY_MAX = (2, 35)
#: the floating-IP server actions outlived the proxies until 2.44
ACTION_MAX = (2, 43)


def _port(request: web.Request, newest: tuple[int, int] = PROXY_MAX) -> NetworkProxyPort:
    found = request.config_dict.get(NETWORK_PROXY)
    if found is None or v(request) > newest:
        raise HTTPFault.not_found("The resource could not be found.")
    return found


def _who(who: Authenticated) -> Requester:
    return Requester(project_id=who.project_id or "", user_id=who.user_id, is_admin=is_admin(who))


async def _allowed(request: web.Request, rule: str) -> tuple[NetworkProxyPort, Requester]:
    port = _port(request)
    who = caller(request)
    who = await authorize(request, rule, {"project_id": who.project_id or ""})
    return port, _who(who)


# -- floating IPs -------------------------------------------------------------------------


async def list_floating_ips(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-floating-ips:list")
    return json({"floating_ips": port.floating_ips(who)})


async def show_floating_ip(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-floating-ips:show")
    return json({"floating_ip": port.floating_ip(who, request.match_info["fip_id"])})


async def create_floating_ip(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-floating-ips:create")
    pool = None
    if request.can_read_body:
        body = await read_json(request)
        if body is not None:
            if not isinstance(body, dict) or set(body) - {"pool"}:
                raise HTTPFault.bad_request("Invalid input: only 'pool' may be given")
            pool = body.get("pool")
            if pool is not None and (not isinstance(pool, str) or not 1 <= len(pool) <= 255):
                raise invalid("pool", pool, "It must be a string of 1 to 255 characters")
    return json({"floating_ip": await port.allocate(who, pool)})


async def delete_floating_ip(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-floating-ips:delete")
    await port.release(who, request.match_info["fip_id"])
    return web.Response(status=202)


async def list_pools(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-floating-ip-pools:list")
    return json({"floating_ip_pools": port.pools(who)})


def _address(args: Any, key: str, *, required: bool) -> str | None:
    if not isinstance(args, dict) or (required and key not in args):
        raise HTTPFault.bad_request(f"Invalid input: '{key}' is a required property")
    raw = args.get(key)
    if raw is None and not required:
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise invalid(key, raw, f"{raw!r} is not an IP address") from None


async def add_floating_ip(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    port = _port(request, ACTION_MAX)
    await authorize(
        request, "os_compute_api:os-floating-ips:add", {"project_id": server.project_id}
    )
    address = _address(args, "address", required=True) or ""
    fixed = _address(args, "fixed_address", required=False)
    await port.associate(_who(who), server.id, address, fixed)
    return web.Response(status=202)


async def remove_floating_ip(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    port = _port(request, ACTION_MAX)
    await authorize(
        request, "os_compute_api:os-floating-ips:remove", {"project_id": server.project_id}
    )
    address = _address(args, "address", required=True) or ""
    await port.disassociate(_who(who), server.id, address)
    return web.Response(status=202)


ACTIONS = {"addFloatingIp": add_floating_ip, "removeFloatingIp": remove_floating_ip}


# -- networks -----------------------------------------------------------------------------


async def list_networks(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-networks:list")
    return json({"networks": port.networks(who)})


async def show_network(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-networks:show")
    return json({"network": port.network(who, request.match_info["network_id"])})


def _tenant_view(network: dict[str, Any]) -> dict[str, Any]:
    return {"id": network["id"], "label": network["label"], "cidr": network["cidr"]}


async def list_tenant_networks(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-tenant-networks:list")
    return json({"networks": [_tenant_view(n) for n in port.networks(who)]})


async def show_tenant_network(request: web.Request) -> web.Response:
    port, who = await _allowed(request, "os_compute_api:os-tenant-networks:show")
    network = port.network(who, request.match_info["network_id"])
    return json({"network": _tenant_view(network)})
