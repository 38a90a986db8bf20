"""Router deciders: create (with its gateway), update (gateway, routes), delete,
and interfaces added and removed by subnet or by port.

A router's gateway is a port of Neutron's ``network:router_gateway`` on the
external network, owning no project, with an address of the external subnet;
an interface is a ``network:router_interface`` port of the router's project,
holding the subnet's gateway address (or the port's own, when one is given).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cairn.network import ipam, ports, quota
from cairn.network.access import Caller, editable
from cairn.network.common import ROUTER_GATEWAY, ROUTER_INTERFACE, find, new_id, new_mac
from cairn.network.config import NetworkConfig
from cairn.network.errors import Conflict, Forbidden, Invalid, NotFound
from cairn.network.plan import Plan
from cairn.projections.network import Resource


def _gateway(
    plan: Plan,
    caller: Caller,
    router_id: str,
    info: dict[str, Any] | None,
    current: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The router's ``external_gateway_info`` after ``info``, making or removing its
    gateway port as needed."""
    old_port = _gateway_port(plan, router_id)
    if not info or not info.get("network_id"):
        if old_port is not None:
            _check_no_floating(plan, router_id)
            ports.remove(plan, old_port)
        return None
    network = find(plan, caller, "network", info["network_id"])
    if not network.get("router:external"):
        raise Invalid(
            f"Bad router request: Network {network.id} is not an external network.", "BadRequest"
        )
    snat = info.get("enable_snat")
    unchanged = current is not None and current.get("enable_snat") == snat
    if snat is not None and not unchanged and not caller.is_admin:
        raise Forbidden(
            "(rule:create_router:external_gateway_info:enable_snat) is disallowed by policy"
        )
    fixed = info.get("external_fixed_ips")
    if fixed and not caller.is_admin:
        raise Forbidden(
            "(rule:create_router:external_gateway_info:external_fixed_ips) is disallowed by policy"
        )
    same = current and current.get("network_id") == network.id and old_port is not None
    if same and not fixed:
        gateway_port = old_port
    else:
        if old_port is not None:
            ports.remove(plan, old_port)
        port_id = new_id()
        taken = {p.get("mac_address") for p in plan.resources("port")}
        mac = new_mac(taken)
        attrs = ports.defaults(network)
        addresses = ports.allocate(plan, network, port_id, mac, fixed, router=False)
        attrs.update(
            {
                "device_owner": ROUTER_GATEWAY,
                "device_id": router_id,
                "mac_address": mac,
                "fixed_ips": addresses,
                "port_security_enabled": False,
                "binding:vif_type": "bridge",
            }
        )
        gateway_port = plan.create("port", port_id, "", attrs)
    assert gateway_port is not None
    return {
        "network_id": network.id,
        "enable_snat": True if snat is None else bool(snat),
        "external_fixed_ips": [
            {"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}
            for f in gateway_port.get("fixed_ips") or []
        ],
    }


def _gateway_port(plan: Plan, router_id: str) -> Resource | None:
    return next(
        (
            p
            for p in plan.resources("port")
            if p.get("device_id") == router_id and p.get("device_owner") == ROUTER_GATEWAY
        ),
        None,
    )


def _interfaces(plan: Plan, router_id: str) -> list[Resource]:
    return [
        p
        for p in plan.resources("port")
        if p.get("device_id") == router_id and p.get("device_owner") == ROUTER_INTERFACE
    ]


def _check_no_floating(plan: Plan, router_id: str) -> None:
    if any(f.get("router_id") == router_id for f in plan.resources("floatingip")):
        raise Conflict(
            f"Gateway cannot be updated for router {router_id}, since a gateway to "
            f"an external network is required by one or more floating IPs.",
            "RouterExternalGatewayInUseByFloatingIp",
        )


def _routes(plan: Plan, router_id: str, routes: list[dict[str, str]]) -> list[dict[str, str]]:
    connected = [
        s.get("cidr")
        for p in _interfaces(plan, router_id)
        for f in p.get("fixed_ips") or []
        if (s := plan.find("subnet", f["subnet_id"])) is not None
    ]
    gateway = _gateway_port(plan, router_id)
    if gateway is not None:
        connected += [
            s.get("cidr")
            for f in gateway.get("fixed_ips") or []
            if (s := plan.find("subnet", f["subnet_id"])) is not None
        ]
    result = []
    for route in routes:
        try:
            destination = str(ipaddress.ip_network(route["destination"], strict=False))
            nexthop = str(ipaddress.ip_address(route["nexthop"]))
        except (KeyError, ValueError, TypeError):
            raise Invalid(f"Invalid format for routes: {route}", "InvalidRoutes") from None
        if not any(ipam.in_subnet(nexthop, cidr) for cidr in connected):
            raise Invalid(
                f"Invalid format for routes: {route}, the nexthop is not connected with router",
                "InvalidRoutes",
            )
        result.append({"destination": destination, "nexthop": nexthop})
    return result


def create(
    plan: Plan, caller: Caller, config: NetworkConfig, attrs: dict[str, Any], project_id: str
) -> Resource:
    for name in ("distributed", "ha"):
        if attrs.get(name):
            raise Forbidden(
                f"(rule:create_router:{name}) is disallowed by policy: Cairn's "
                f"routers are neither distributed nor HA"
            )
    router_id = new_id()
    values: dict[str, Any] = {
        "name": "",
        "description": "",
        "admin_state_up": True,
        "status": "ACTIVE",
        "external_gateway_info": None,
        "routes": [],
        "tags": [],
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "distributed": False,
        "ha": False,
        "flavor_id": None,
    }
    values.update({k: v for k, v in attrs.items() if k != "external_gateway_info"})
    values["external_gateway_info"] = _gateway(
        plan, caller, router_id, attrs.get("external_gateway_info"), None
    )
    router = plan.create("router", router_id, project_id, values)
    quota.take(plan, config.quotas, project_id, "router")
    return router


def update(plan: Plan, caller: Caller, router_id: str, attrs: dict[str, Any]) -> Resource:
    router = find(plan, caller, "router", router_id)
    if not editable(caller, router):
        raise Forbidden(f"(rule:update_router) is disallowed by policy on {router_id}")
    changes = {
        k: v
        for k, v in attrs.items()
        if k not in ("external_gateway_info", "routes") and router.get(k) != v
    }
    if "external_gateway_info" in attrs:
        changes["external_gateway_info"] = _gateway(
            plan,
            caller,
            router_id,
            attrs["external_gateway_info"],
            router.get("external_gateway_info"),
        )
    if "routes" in attrs:
        changes["routes"] = _routes(plan, router_id, attrs["routes"] or [])
    plan.update(router, changes)
    return router


def delete(plan: Plan, caller: Caller, router_id: str) -> None:
    router = find(plan, caller, "router", router_id)
    if not editable(caller, router):
        raise Forbidden(f"(rule:delete_router) is disallowed by policy on {router_id}")
    if _interfaces(plan, router_id):
        raise Conflict(f"Router {router_id} still has ports", "RouterInUse")
    _check_no_floating(plan, router_id)
    gateway = _gateway_port(plan, router_id)
    if gateway is not None:
        ports.remove(plan, gateway)
    plan.delete(router)
    plan.record_usage(router.project_id, "router")


def add_interface(
    plan: Plan,
    caller: Caller,
    config: NetworkConfig,
    router_id: str,
    subnet_id: str | None,
    port_id: str | None,
) -> dict[str, Any]:
    router = find(plan, caller, "router", router_id)
    if not editable(caller, router):
        raise NotFound(f"Router {router_id} could not be found", "RouterNotFound")
    if bool(subnet_id) == bool(port_id):
        raise Invalid(
            "Bad router request: Either subnet_id or port_id must be specified.", "BadRequest"
        )
    if port_id:
        port = find(plan, caller, "port", port_id)
        if port.get("device_id") or port.get("device_owner"):
            raise Conflict(
                f"Port {port_id} is in use by {port.get('device_owner') or 'a device'}"
                f" {port.get('device_id')}.",
                "PortInUse",
            )
        fixed = port.get("fixed_ips") or []
        if not fixed:
            raise Invalid(
                "Bad router request: Router port must have at least one fixed IP.", "BadRequest"
            )
        if len({f["subnet_id"] for f in fixed if _version(plan, f["subnet_id"]) == 4}) > 1:
            raise Invalid(
                "Bad router request: Cannot have multiple IPv4 subnets on router port.",
                "BadRequest",
            )
        subnet_ids = [f["subnet_id"] for f in fixed]
        for subnet in subnet_ids:
            _check_attachable(plan, router_id, subnet)
        plan.update(
            port,
            {
                "device_id": router_id,
                "device_owner": ROUTER_INTERFACE,
                "security_groups": [],
                "port_security_enabled": False,
                "binding:vif_type": "bridge",
            },
        )
        interface = port
    else:
        assert subnet_id is not None
        subnet = find(plan, caller, "subnet", subnet_id)
        network = plan.find("network", subnet.get("network_id"))
        assert network is not None
        if not subnet.get("gateway_ip"):
            raise Invalid(
                f"Bad router request: Subnet {subnet_id} does not have a gateway IP.", "BadRequest"
            )
        if (
            not caller.is_admin
            and subnet.project_id != caller.project_id
            and not network.get("shared")
        ):
            raise NotFound(f"Subnet {subnet_id} could not be found.", "SubnetNotFound")
        _check_attachable(plan, router_id, subnet_id)
        interface = ports.create(
            plan,
            caller,
            config,
            {
                "network_id": network.id,
                "device_id": router_id,
                "device_owner": ROUTER_INTERFACE,
                "fixed_ips": [{"subnet_id": subnet_id, "ip_address": subnet.get("gateway_ip")}],
                "port_security_enabled": False,
                "binding:vif_type": "bridge",
            },
            router.project_id,
        )
        subnet_ids = [subnet_id]
    return {
        "id": router_id,
        "tenant_id": router.project_id,
        "project_id": router.project_id,
        "port_id": interface.id,
        "subnet_id": subnet_ids[0],
        "subnet_ids": subnet_ids,
        "network_id": interface.get("network_id"),
    }


def _version(plan: Plan, subnet_id: str) -> int | None:
    subnet = plan.find("subnet", subnet_id)
    return None if subnet is None else subnet.get("ip_version")


def _check_attachable(plan: Plan, router_id: str, subnet_id: str) -> None:
    subnet = plan.find("subnet", subnet_id)
    assert subnet is not None
    for port in _interfaces(plan, router_id):
        for fixed in port.get("fixed_ips") or []:
            if fixed["subnet_id"] == subnet_id:
                raise Invalid(
                    f"Bad router request: Router already has a port on subnet {subnet_id}.",
                    "BadRequest",
                )
            other = plan.find("subnet", fixed["subnet_id"])
            if other is not None and ipam.overlaps(other.get("cidr"), subnet.get("cidr")):
                raise Invalid(
                    f"Bad router request: Cidr {subnet.get('cidr')} of subnet "
                    f"{subnet_id} overlaps with cidr {other.get('cidr')} of subnet "
                    f"{other.id}.",
                    "BadRequest",
                )


def remove_interface(
    plan: Plan, caller: Caller, router_id: str, subnet_id: str | None, port_id: str | None
) -> dict[str, Any]:
    router = find(plan, caller, "router", router_id)
    if not editable(caller, router):
        raise NotFound(f"Router {router_id} could not be found", "RouterNotFound")
    if not subnet_id and not port_id:
        raise Invalid(
            "Bad router request: Either subnet_id or port_id must be specified.", "BadRequest"
        )
    interfaces = _interfaces(plan, router_id)
    if port_id:
        port = next((p for p in interfaces if p.id == port_id), None)
        if port is None:
            raise NotFound(
                f"Router {router_id} does not have an interface with id {port_id}",
                "RouterInterfaceNotFound",
            )
        if subnet_id and all(f["subnet_id"] != subnet_id for f in port.get("fixed_ips") or []):
            raise Conflict(f"Subnet {subnet_id} is not on port {port_id}.", "SubnetMismatchForPort")
    else:
        port = next(
            (
                p
                for p in interfaces
                if any(f["subnet_id"] == subnet_id for f in p.get("fixed_ips") or [])
            ),
            None,
        )
        if port is None:
            raise NotFound(
                f"Router {router_id} has no interface on subnet {subnet_id}",
                "RouterInterfaceNotFoundForSubnet",
            )
    subnet_ids = [f["subnet_id"] for f in port.get("fixed_ips") or []]
    for fip in plan.resources("floatingip"):
        if (
            fip.get("router_id") == router_id
            and fip.get("fixed_ip_address")
            and any(
                ipam.in_subnet(fip.get("fixed_ip_address"), s.get("cidr"))
                for sid in subnet_ids
                if (s := plan.find("subnet", sid)) is not None
            )
        ):
            raise Conflict(
                f"Router interface for subnet {subnet_ids[0]} on router {router_id} "
                f"cannot be deleted, as it is required by one or more floating IPs.",
                "RouterInterfaceInUseByFloatingIP",
            )
    ports.remove(plan, port)
    return {
        "id": router_id,
        "tenant_id": router.project_id,
        "project_id": router.project_id,
        "port_id": port.id,
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
        "network_id": port.get("network_id"),
    }


def routers_for(plan: Plan, subnet_id: str, external_network_id: str) -> list[Resource]:
    """Routers with an interface on ``subnet_id`` and a gateway on the external network."""
    found = []
    for port in plan.resources("port"):
        if port.get("device_owner") != ROUTER_INTERFACE:
            continue
        if not any(f["subnet_id"] == subnet_id for f in port.get("fixed_ips") or []):
            continue
        router = plan.find("router", port.get("device_id"))
        info = router.get("external_gateway_info") if router else None
        if router is not None and info and info.get("network_id") == external_network_id:
            found.append(router)
    return found
