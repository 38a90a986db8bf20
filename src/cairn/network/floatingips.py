"""Floating IP deciders (create, associate, disassociate, delete) and port forwardings.

A floating IP takes an address of an external network's subnet through a port
of Neutron's ``network:floatingip`` (owning no project, so tenants never see
it). Associating it with a port needs a router with a gateway on that external
network and an interface on the subnet of the port's fixed address: that router
does the NAT, and is recorded as the floating IP's ``router_id``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cairn.network import ports, quota, routers
from cairn.network.access import Caller, editable
from cairn.network.common import FLOATING_IP, find, new_id, new_mac, not_found
from cairn.network.config import NetworkConfig
from cairn.network.errors import Conflict, Forbidden, Invalid, NotFound
from cairn.network.plan import Plan
from cairn.projections.network import Resource


def _association(
    plan: Plan,
    caller: Caller,
    fip: dict[str, Any],
    port_id: str | None,
    fixed_ip: str | None,
    fip_id: str,
) -> dict[str, Any]:
    """The attributes that associate the floating IP with ``port_id`` (or none)."""
    if not port_id:
        return {"port_id": None, "fixed_ip_address": None, "router_id": None, "status": "DOWN"}
    port = find(plan, caller, "port", port_id)
    if not editable(caller, port) or (port.project_id != fip["project_id"] and not caller.is_admin):
        raise not_found("port", port_id)
    v4 = [
        f for f in port.get("fixed_ips") or [] if ipaddress.ip_address(f["ip_address"]).version == 4
    ]
    if not v4:
        raise Invalid(
            f"Bad floatingip request: Port {port_id} does not have any IPv4 address "
            f"suitable for a floating IP.",
            "BadRequest",
        )
    if fixed_ip is not None:
        chosen = next((f for f in v4 if f["ip_address"] == fixed_ip), None)
        if chosen is None:
            raise Invalid(
                f"Bad floatingip request: Port {port_id} does not have fixed ip {fixed_ip}.",
                "BadRequest",
            )
    elif len(v4) > 1:
        raise Invalid(
            f"Bad floatingip request: Port {port_id} has multiple fixed IPv4 "
            f"addresses. Must provide a specific IPv4 address when assigning a "
            f"floating IP.",
            "BadRequest",
        )
    else:
        chosen = v4[0]
    for other in plan.resources("floatingip"):
        if (
            other.id != fip_id
            and other.get("port_id") == port_id
            and other.get("fixed_ip_address") == chosen["ip_address"]
        ):
            raise Conflict(
                f"Cannot associate floating IP {fip['floating_ip_address']} "
                f"({fip_id}) with port {port_id} using fixed IP "
                f"{chosen['ip_address']}, as that fixed IP already has a floating "
                f"IP on external network {fip['floating_network_id']}.",
                "FloatingIPPortAlreadyAssociated",
            )
    found = routers.routers_for(plan, chosen["subnet_id"], fip["floating_network_id"])
    if not found:
        raise NotFound(
            f"External network {fip['floating_network_id']} is not reachable from "
            f"subnet {chosen['subnet_id']}.  Therefore, cannot associate Port "
            f"{port_id} with a Floating IP.",
            "ExternalGatewayForFloatingIPNotFound",
        )
    return {
        "port_id": port_id,
        "fixed_ip_address": chosen["ip_address"],
        "router_id": found[0].id,
        "status": "DOWN",
    }


def create(
    plan: Plan, caller: Caller, config: NetworkConfig, attrs: dict[str, Any], project_id: str
) -> Resource:
    network = plan.find("network", attrs["floating_network_id"])
    if network is None:
        raise not_found("network", attrs["floating_network_id"])
    if not network.get("router:external"):
        raise Invalid(
            f"Bad floatingip request: Network {network.id} is not a valid external network.",
            "BadRequest",
        )
    wanted = attrs.get("floating_ip_address")
    if wanted and not caller.is_admin:
        raise Forbidden("(rule:create_floatingip:floating_ip_address) is disallowed by policy")
    fip_id = new_id()
    requested = None
    if attrs.get("subnet_id"):
        subnet = plan.find("subnet", attrs["subnet_id"])
        if subnet is None or subnet.get("network_id") != network.id:
            raise Invalid(
                f"Bad floatingip request: Subnet {attrs['subnet_id']} is not on "
                f"network {network.id}.",
                "BadRequest",
            )
        requested = [{"subnet_id": subnet.id, **({"ip_address": wanted} if wanted else {})}]
    elif wanted:
        requested = [{"ip_address": wanted}]
    v4 = [
        s
        for s in plan.resources("subnet")
        if s.get("network_id") == network.id and s.get("ip_version") == 4
    ]
    if not v4:
        raise Invalid(
            f"Bad floatingip request: Network {network.id} has no IPv4 subnet.", "BadRequest"
        )
    port_id = new_id()
    taken = {p.get("mac_address") for p in plan.resources("port")}
    mac = new_mac(taken)
    try:
        addresses = ports.allocate(
            plan, network, port_id, mac, requested or [{"subnet_id": v4[0].id}]
        )
    except Conflict as exc:
        if exc.type == "IpAddressGenerationFailure":
            raise Conflict(
                f"No more IP addresses available on network {network.id}.",
                "IpAddressGenerationFailure",
            ) from None
        raise
    address = addresses[0]["ip_address"]
    port_attrs = ports.defaults(network)
    port_attrs.update(
        {
            "device_owner": FLOATING_IP,
            "device_id": fip_id,
            "mac_address": mac,
            "fixed_ips": addresses,
            "port_security_enabled": False,
            "status": "N/A",
        }
    )
    plan.create("port", port_id, "", port_attrs)
    values: dict[str, Any] = {
        "floating_network_id": network.id,
        "floating_ip_address": address,
        "project_id": project_id,
        "description": attrs.get("description", ""),
        "tags": [],
        "port_details": None,
        "port_forwardings": [],
        "qos_policy_id": None,
        "dns_domain": "",
        "dns_name": "",
        "subnet_id": addresses[0]["subnet_id"],
    }
    values.update(
        _association(
            plan, caller, values, attrs.get("port_id"), attrs.get("fixed_ip_address"), fip_id
        )
    )
    del values["project_id"]
    fip = plan.create("floatingip", fip_id, project_id, values)
    quota.take(plan, config.quotas, project_id, "floatingip")
    return fip


def update(plan: Plan, caller: Caller, fip_id: str, attrs: dict[str, Any]) -> Resource:
    fip = find(plan, caller, "floatingip", fip_id)
    if not editable(caller, fip):
        raise not_found("floatingip", fip_id)
    changes: dict[str, Any] = {}
    if "description" in attrs:
        changes["description"] = attrs["description"]
    if "port_id" in attrs:
        if attrs["port_id"] and _forwarded(plan, fip_id):
            raise Conflict(
                f"The floating IP {fip_id} has port forwardings: it cannot be "
                f"associated with a port.",
                "FipInUseByPortForwarding",
            )
        changes.update(
            _association(
                plan,
                caller,
                {**fip.attributes, "project_id": fip.project_id},
                attrs["port_id"],
                attrs.get("fixed_ip_address"),
                fip_id,
            )
        )
    changes = {k: v for k, v in changes.items() if fip.get(k) != v}
    plan.update(fip, changes)
    return fip


def delete(plan: Plan, caller: Caller, fip_id: str) -> None:
    fip = find(plan, caller, "floatingip", fip_id)
    if not editable(caller, fip):
        raise not_found("floatingip", fip_id)
    for forwarding in _forwarded(plan, fip_id):
        plan.delete(forwarding)
    port = next(
        (
            p
            for p in plan.resources("port")
            if p.get("device_id") == fip_id and p.get("device_owner") == FLOATING_IP
        ),
        None,
    )
    if port is not None:
        ports.remove(plan, port)
    plan.delete(fip)
    plan.record_usage(fip.project_id, "floatingip")


def _forwarded(plan: Plan, fip_id: str) -> list[Resource]:
    return [f for f in plan.resources("port_forwarding") if f.get("floatingip_id") == fip_id]


# -- port forwardings --------------------------------------------------------------------


def _forwarding_target(
    plan: Plan, caller: Caller, fip: Resource, attrs: dict[str, Any]
) -> dict[str, Any]:
    port = find(plan, caller, "port", attrs["internal_port_id"])
    address = attrs.get("internal_ip_address")
    fixed = [f for f in port.get("fixed_ips") or [] if f["ip_address"] == address]
    if not fixed:
        raise Invalid(
            f"Bad port forwarding request: the internal IP address {address} is not "
            f"an address of port {port.id}.",
            "BadRequest",
        )
    if not routers.routers_for(plan, fixed[0]["subnet_id"], fip.get("floating_network_id")):
        raise NotFound(
            f"External network {fip.get('floating_network_id')} is not reachable "
            f"from subnet {fixed[0]['subnet_id']}.",
            "ExternalGatewayForFloatingIPNotFound",
        )
    return {"internal_port_id": port.id, "internal_ip_address": address}


def _check_ports(values: dict[str, Any]) -> None:
    for name in ("internal_port", "external_port"):
        value = values.get(name)
        if not isinstance(value, int) or not 1 <= value <= 65535:
            raise Invalid(
                f"Invalid input for {name}. Reason: '{value}' is not a valid port number."
            )
    if values.get("protocol") not in ("tcp", "udp"):
        raise Invalid(
            f"Invalid input for protocol. Reason: {values.get('protocol')} is not in "
            f"['tcp', 'udp']."
        )


def create_forwarding(plan: Plan, caller: Caller, fip_id: str, attrs: dict[str, Any]) -> Resource:
    fip = find(plan, caller, "floatingip", fip_id)
    if not editable(caller, fip):
        raise not_found("floatingip", fip_id)
    if fip.get("port_id"):
        raise Conflict(
            f"The floating IP {fip_id} is associated with a port: it cannot carry "
            f"port forwardings.",
            "FipInUseByPortForwarding",
        )
    values = {"floatingip_id": fip_id, "description": "", **attrs}
    _check_ports(values)
    values.update(_forwarding_target(plan, caller, fip, values))
    for other in _forwarded(plan, fip_id):
        if (
            other.get("external_port") == values["external_port"]
            and other.get("protocol") == values["protocol"]
        ):
            raise Conflict(
                f"A port forwarding of {values['protocol']} port "
                f"{values['external_port']} exists on floating IP {fip_id}.",
                "PortForwardingAlreadyExists",
            )
        if (
            other.get("internal_ip_address") == values["internal_ip_address"]
            and other.get("internal_port") == values["internal_port"]
            and other.get("protocol") == values["protocol"]
        ):
            raise Conflict(
                "A port forwarding to this internal address and port exists.",
                "PortForwardingAlreadyExists",
            )
    return plan.create("port_forwarding", new_id(), fip.project_id, values)


def update_forwarding(
    plan: Plan, caller: Caller, fip_id: str, forwarding_id: str, attrs: dict[str, Any]
) -> Resource:
    fip = find(plan, caller, "floatingip", fip_id)
    forwarding = plan.find("port_forwarding", forwarding_id)
    if forwarding is None or forwarding.get("floatingip_id") != fip_id or not editable(caller, fip):
        raise not_found("port_forwarding", forwarding_id)
    values = {**forwarding.attributes, **attrs}
    _check_ports(values)
    if "internal_port_id" in attrs or "internal_ip_address" in attrs:
        values.update(_forwarding_target(plan, caller, fip, values))
    changes = {k: v for k, v in values.items() if forwarding.get(k) != v}
    plan.update(forwarding, changes)
    return forwarding


def delete_forwarding(plan: Plan, caller: Caller, fip_id: str, forwarding_id: str) -> None:
    fip = find(plan, caller, "floatingip", fip_id)
    forwarding = plan.find("port_forwarding", forwarding_id)
    if forwarding is None or forwarding.get("floatingip_id") != fip_id or not editable(caller, fip):
        raise not_found("port_forwarding", forwarding_id)
    plan.delete(forwarding)
