"""Nova's security-group proxy: ``/os-security-groups``, ``/os-security-group-rules``,
``/servers/{id}/os-security-groups`` and the ``addSecurityGroup`` and
``removeSecurityGroup`` actions.

Nova deprecated the proxy at microversion 2.36 (404 from then on; the server
actions stay); the groups are networking's, through the security-group port the
composition root wires in (none: a 404, as a Nova without Neutron answers).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin
from cairn.api.compute.common import body_of, invalid, json, query_bool, v
from cairn.api.compute.keys import SECURITY_GROUPS
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute.networks import Requester, SecurityGroupPort
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server

PROXY_MAX = (2, 35)


def _port(request: web.Request, *, proxy: bool = True) -> SecurityGroupPort:
    found = request.config_dict.get(SECURITY_GROUPS)
    if found is None or (proxy and v(request) > PROXY_MAX):
        raise HTTPFault.not_found("The resource could not be found.")
    return found


async def _allowed(request: web.Request, rule: str) -> Authenticated:
    """The caller, if the proxy exists at this microversion and ``rule`` allows it
    on the caller's own project."""
    _port(request)
    who = caller(request)
    return await authorize(request, rule, {"project_id": who.project_id or ""})


def _who(who: Authenticated) -> Requester:
    return Requester(project_id=who.project_id or "", user_id=who.user_id, is_admin=is_admin(who))


def _name(data: dict[str, Any], key: str, *, required: bool, low: int) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise HTTPFault.bad_request(f"Invalid input: '{key}' is a required property")
        return None
    if not isinstance(value, str) or not low <= len(value) <= 255:
        raise invalid(key, value, f"It must be a string of {low} to 255 characters")
    if low and not value.strip():
        raise invalid(key, value, "It must not be only whitespace")
    return value


async def list_groups(request: web.Request) -> web.Response:
    who = await _allowed(request, "os_compute_api:os-security-groups:get")
    # Nova passes all_tenants on to Neutron, where only an admin sees other projects.
    every = "all_tenants" in request.query and query_bool(request, "all_tenants")
    return json({"security_groups": await _port(request).groups(_who(who), every)})


async def show_group(request: web.Request) -> web.Response:
    who = await _allowed(request, "os_compute_api:os-security-groups:show")
    group = await _port(request).show(_who(who), request.match_info["group_id"])
    return json({"security_group": group})


async def create_group(request: web.Request) -> web.Response:
    who = await _allowed(request, "os_compute_api:os-security-groups:create")
    port = _port(request)
    data = await body_of(request, "security_group")
    name = _name(data, "name", required=True, low=1) or ""
    description = _name(data, "description", required=False, low=0) or ""
    return json({"security_group": await port.create(_who(who), name, description)})


async def update_group(request: web.Request) -> web.Response:
    who = await _allowed(request, "os_compute_api:os-security-groups:update")
    port = _port(request)
    data = await body_of(request, "security_group")
    changes = {
        key: value
        for key in ("name", "description")
        if (value := _name(data, key, required=False, low=int(key == "name"))) is not None
    }
    group = await port.update(_who(who), request.match_info["group_id"], changes)
    return json({"security_group": group})


async def delete_group(request: web.Request) -> web.Response:
    who = await _allowed(request, "os_compute_api:os-security-groups:delete")
    await _port(request).delete(_who(who), request.match_info["group_id"])
    return web.Response(status=202)


def _port_number(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= 65535:
        raise invalid(key, value, "It must be an integer from -1 to 65535")
    return value


def _uuid_like(group_id: str) -> None:
    """Nova's check with Neutron: a group id is a UUID (400 before any lookup)."""
    try:
        uuid.UUID(group_id)
    except ValueError:
        raise HTTPFault.bad_request("Security group id should be uuid") from None


async def create_rule(request: web.Request) -> web.Response:
    who = await _allowed(request, "os_compute_api:os-security-groups:rule:create")
    port = _port(request)
    data = await body_of(request, "security_group_rule")
    parent = data.get("parent_group_id")
    if not isinstance(parent, str) or not parent:
        raise HTTPFault.bad_request("Invalid input: 'parent_group_id' is a required property")
    _uuid_like(parent)
    protocol = data.get("ip_protocol")
    if protocol is not None and (
        not isinstance(protocol, str) or protocol.lower() not in ("tcp", "udp", "icmp")
    ):
        raise HTTPFault.bad_request(f"Invalid IP protocol {protocol}.")
    low, high = _port_number(data, "from_port"), _port_number(data, "to_port")
    ported = bool(protocol) and str(protocol).lower() in ("tcp", "udp")
    if ported and (low is None or high is None or not 1 <= low <= high <= 65535):
        raise HTTPFault.bad_request(f"Invalid port range {low}:{high}.")
    cidr, group_id = data.get("cidr"), data.get("group_id")
    if cidr is not None and group_id is not None:
        raise HTTPFault.bad_request("Invalid input: give cidr or group_id, not both.")
    if cidr is not None:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except (TypeError, ValueError):
            raise HTTPFault.bad_request(f"Invalid cidr {cidr}.") from None
    if group_id is not None and not isinstance(group_id, str):
        raise invalid("group_id", group_id, "It must be a string")
    if group_id is not None:
        _uuid_like(group_id)
    rule = await port.add_rule(_who(who), parent, protocol, low, high, cidr, group_id)
    return json({"security_group_rule": rule})


async def delete_rule(request: web.Request) -> web.Response:
    who = await _allowed(request, "os_compute_api:os-security-groups:rule:delete")
    await _port(request).delete_rule(_who(who), request.match_info["rule_id"])
    return web.Response(status=202)


async def server_groups(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-security-groups:list", {"project_id": server.project_id}
    )
    return json({"security_groups": _port(request).of_server(server.id)})


async def add_to_server(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    return await _change(request, who, server, args, add=True)


async def remove_from_server(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    return await _change(request, who, server, args, add=False)


async def _change(
    request: web.Request, who: Authenticated, server: Server, args: Any, *, add: bool
) -> web.Response:
    rule = "add" if add else "remove"
    await authorize(
        request, f"os_compute_api:os-security-groups:{rule}", {"project_id": server.project_id}
    )
    if not isinstance(args, dict) or not isinstance(args.get("name"), str) or not args["name"]:
        raise HTTPFault.bad_request("Invalid input: 'name' is a required property")
    await _port(request, proxy=False).change_server(_who(who), server.id, args["name"], add=add)
    return web.Response(status=202)
