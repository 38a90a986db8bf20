"""Subnet deciders: create (from a CIDR or a subnet pool), update, delete.

Creating an IPv4 subnet with DHCP gives the network a DHCP port (Neutron's
``network:dhcp``, one per network) holding an address on each of its DHCP
subnets: dnsmasq answers from that address, and it is in use like any other.
Subnets of one network never overlap.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cairn.network import ipam, quota, subnetpools
from cairn.network.access import Caller, editable
from cairn.network.common import DHCP, ROUTER_INTERFACE, find, new_id, new_mac
from cairn.network.config import NetworkConfig
from cairn.network.errors import Conflict, Forbidden, Invalid
from cairn.network.plan import Plan
from cairn.projections.network import Resource

MAX_DNS = 5
MAX_ROUTES = 20
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")


def _cidr(attrs: dict[str, Any]) -> str:
    text = attrs["cidr"]
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise Invalid(
            f"Invalid input for cidr. Reason: '{text}' is not a valid IP subnet."
        ) from None
    if str(net) != text and f"{net.network_address}/{net.prefixlen}" != text:
        raise Invalid(
            f"Invalid input for cidr. Reason: '{text}' isn't a recognized IP subnet "
            f"cidr, '{net}' is recommended."
        )
    version = attrs.get("ip_version", net.version)
    if version != net.version:
        raise Invalid("Invalid input for operation: Cidr and IP version are not matching.")
    if (net.version == 4 and net.prefixlen > 30) or (net.version == 6 and net.prefixlen > 126):
        raise Invalid(f"Invalid input for operation: CIDR {net} is too small for a subnet.")
    return str(net)


def _check_ipv6(attrs: dict[str, Any], version: int, cidr: str) -> None:
    ra, address = attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")
    if version == 4 and (ra or address):
        raise Invalid(
            "Invalid input for operation: ipv6_ra_mode or ipv6_address_mode cannot "
            "be set when ip_version is 4."
        )
    for mode in (ra, address):
        if mode is not None and mode not in IPV6_MODES:
            raise Invalid(f"Invalid input for operation: '{mode}' is not in {list(IPV6_MODES)}.")
    if ra and address and ra != address:
        raise Invalid(
            f"Invalid input for operation: ipv6_ra_mode set to '{ra}' with "
            f"ipv6_address_mode set to '{address}' is not valid."
        )
    if address in ("slaac", "dhcpv6-stateless") and ipam.network(cidr).prefixlen != 64:
        raise Invalid(
            f"Invalid input for operation: Invalid CIDR {cidr} for IPv6 address "
            f"mode. OpenStack uses the EUI-64 address format, which requires the "
            f"prefix to be /64."
        )


def _check_extras(attrs: dict[str, Any], version: int) -> None:
    dns = attrs.get("dns_nameservers") or []
    if len(dns) > MAX_DNS:
        raise Conflict(
            f"Number of DNS nameservers exceeds the limit {MAX_DNS}.", "DNSNameServersExhausted"
        )
    if len(set(dns)) != len(dns):
        raise Invalid(f"Invalid input for dns_nameservers. Reason: Duplicate nameserver in {dns}.")
    routes = attrs.get("host_routes") or []
    if len(routes) > MAX_ROUTES:
        raise Conflict(
            f"Number of host routes exceeds the limit {MAX_ROUTES}.", "HostRoutesExhausted"
        )
    for route in routes:
        destination = ipaddress.ip_network(route["destination"], strict=False)
        nexthop = ipaddress.ip_address(route["nexthop"])
        if destination.version != version or nexthop.version != version:
            raise Conflict(
                f"Host route {route} is not of IP version {version}.", "IpVersionMismatch"
            )


def create(
    plan: Plan, caller: Caller, config: NetworkConfig, attrs: dict[str, Any], project_id: str
) -> Resource:
    network = find(plan, caller, "network", attrs["network_id"])
    if not caller.is_admin and network.project_id != caller.project_id:
        raise Forbidden(
            f"(rule:create_subnet) is disallowed by policy: network "
            f"{network.id} belongs to another project"
        )
    subnet_id = new_id()
    pool = None
    if attrs.get("subnetpool_id") or attrs.get("use_default_subnetpool"):
        pool = subnetpools.pool_for(plan, caller, attrs)
    if pool is not None:
        cidr = subnetpools.carve(plan, pool, attrs, subnet_id)
        version = ipam.network(cidr).version
    elif attrs.get("cidr"):
        cidr = _cidr(attrs)
        version = ipam.network(cidr).version
    else:
        raise Invalid(
            "Invalid input for operation: a cidr must be provided in the absence of a subnet pool."
        )
    if attrs.get("ip_version") not in (None, version):
        raise Invalid("Invalid input for operation: Cidr and IP version are not matching.")
    _check_ipv6(attrs, version, cidr)
    for other in plan.resources("subnet"):
        if other.get("network_id") == network.id and ipam.overlaps(other.get("cidr"), cidr):
            raise Invalid(
                f"Invalid input for operation: Requested subnet with cidr: {cidr} for "
                f"network: {network.id} overlaps with another subnet."
            )
    net = ipam.network(cidr)
    if "gateway_ip" in attrs:
        gateway = attrs["gateway_ip"]
    else:
        gateway = str(ipaddress.ip_address(ipam.usable(net)[0]))
    if gateway is not None:
        gw = ipaddress.ip_address(gateway)
        if gw.version != version:
            raise Invalid(
                f"Invalid input for operation: gateway_ip {gateway} does not match "
                f"the IP version of the subnet."
            )
        if (
            gw in net
            and int(gw) in (int(net.network_address), int(net.broadcast_address))
            and net.version == 4
            and net.prefixlen < 31
        ):
            raise Invalid(f"Invalid input for operation: Gateway is not valid on subnet {cidr}.")
        gateway = str(gw)
    pools = attrs.get("allocation_pools")
    if pools:
        ipam.check_pools(cidr, gateway, pools)
    else:
        pools = ipam.default_pools(cidr, gateway)
    _check_extras(attrs, version)
    values: dict[str, Any] = {
        "name": "",
        "description": "",
        "network_id": network.id,
        "ip_version": version,
        "cidr": cidr,
        "gateway_ip": gateway,
        "allocation_pools": pools,
        "dns_nameservers": [],
        "host_routes": [],
        "enable_dhcp": True,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "tags": [],
        "service_types": [],
        "dns_publish_fixed_ip": False,
    }
    values.update(
        {k: v for k, v in attrs.items() if k not in ("cidr", "prefixlen", "use_default_subnetpool")}
    )
    values.update(
        {"cidr": cidr, "ip_version": version, "gateway_ip": gateway, "allocation_pools": pools}
    )
    if pool is not None:
        values["subnetpool_id"] = pool.id
    subnet = plan.create("subnet", subnet_id, project_id, values)
    quota.take(plan, config.quotas, project_id, "subnet")
    if values["enable_dhcp"] and version == 4:
        serve_dhcp(plan, config, network, subnet)
    return subnet


def dhcp_port(plan: Plan, network_id: str) -> Resource | None:
    return next(
        (
            p
            for p in plan.resources("port")
            if p.get("network_id") == network_id and p.get("device_owner") == DHCP
        ),
        None,
    )


def serve_dhcp(plan: Plan, config: NetworkConfig, network: Resource, subnet: Resource) -> None:
    """Give the network's DHCP port an address on ``subnet`` (making the port first)."""
    address = next(ipam.free_addresses(subnet.attributes, plan.in_use(subnet.id)), None)
    if address is None:
        return  # no room for a DHCP server: Neutron leaves such a subnet without one
    port = dhcp_port(plan, network.id)
    fixed = {"subnet_id": subnet.id, "ip_address": address}
    if port is None:
        from cairn.network import ports  # a port's attributes are the port module's to shape

        port_id = new_id()
        taken = {p.get("mac_address") for p in plan.resources("port")}
        attrs = ports.defaults(network)
        attrs.update(
            {
                "device_owner": DHCP,
                "device_id": f"dhcp-{network.id}",
                "fixed_ips": [fixed],
                "mac_address": new_mac(taken),
                "port_security_enabled": False,
                "security_groups": [],
                "binding:vif_type": "bridge",
            }
        )
        port = plan.create("port", port_id, network.project_id, attrs)
        plan.record_usage(network.project_id, "port")
    else:
        plan.update(port, {"fixed_ips": [*port.get("fixed_ips", []), fixed]})
    plan.allocate(subnet.id, port.id, [address])


def update(
    plan: Plan, caller: Caller, config: NetworkConfig, subnet_id: str, attrs: dict[str, Any]
) -> Resource:
    subnet = find(plan, caller, "subnet", subnet_id)
    if not editable(caller, subnet):
        raise Forbidden(f"(rule:update_subnet) is disallowed by policy on {subnet_id}")
    for name in (
        "cidr",
        "ip_version",
        "network_id",
        "subnetpool_id",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "prefixlen",
    ):
        if name in attrs and attrs[name] != subnet.get(name):
            raise Invalid(f"Cannot update read-only attribute {name}")
        attrs.pop(name, None)
    version = subnet.get("ip_version")
    gateway = attrs.get("gateway_ip", subnet.get("gateway_ip"))
    if "gateway_ip" in attrs and gateway is not None:
        gateway = str(ipaddress.ip_address(gateway))
        attrs["gateway_ip"] = gateway
        owner = plan.state.allocations.get(subnet_id, {}).get(gateway)
        if owner is not None:
            raise Conflict(
                f"Gateway ip {gateway} conflicts with an address in use on subnet {subnet_id}.",
                "IpAddressInUse",
            )
    if "allocation_pools" in attrs or "gateway_ip" in attrs:
        pools = attrs.get("allocation_pools", subnet.get("allocation_pools"))
        ipam.check_pools(subnet.get("cidr"), gateway, pools)
    _check_extras({**subnet.attributes, **attrs}, version)
    changes = {k: v for k, v in attrs.items() if subnet.get(k) != v}
    plan.update(subnet, changes)
    if changes.get("enable_dhcp") and version == 4:
        network = plan.find("network", subnet.get("network_id"))
        if network is not None:
            serve_dhcp(plan, config, network, subnet)
    elif changes.get("enable_dhcp") is False:
        _stop_dhcp(plan, subnet)
    return subnet


def _stop_dhcp(plan: Plan, subnet: Resource) -> None:
    port = dhcp_port(plan, subnet.get("network_id"))
    if port is None:
        return
    fixed = port.get("fixed_ips") or []
    mine = [f for f in fixed if f["subnet_id"] == subnet.id]
    plan.release(subnet.id, port.id, [f["ip_address"] for f in mine])
    plan.update(port, {"fixed_ips": [f for f in fixed if f["subnet_id"] != subnet.id]})


def delete(plan: Plan, caller: Caller, subnet_id: str) -> None:
    subnet = find(plan, caller, "subnet", subnet_id)
    if not editable(caller, subnet):
        raise Forbidden(f"(rule:delete_subnet) is disallowed by policy on {subnet_id}")
    automatic = ipam.is_slaac(subnet.attributes)
    for port in plan.resources("port"):
        if port.get("device_owner") == DHCP:
            continue
        fixed = port.get("fixed_ips") or []
        if automatic and port.get("device_owner") != ROUTER_INTERFACE:
            # SLAAC addresses are the subnet's to give and take: they go with it.
            kept = [f for f in fixed if f["subnet_id"] != subnet_id]
            if len(kept) != len(fixed):
                plan.release(
                    subnet_id,
                    port.id,
                    [f["ip_address"] for f in fixed if f["subnet_id"] == subnet_id],
                )
                plan.update(port, {"fixed_ips": kept})
            continue
        if any(f["subnet_id"] == subnet_id for f in fixed):
            raise Conflict(
                f"Unable to complete operation on subnet {subnet_id}: One or more "
                f"ports have an IP allocation from this subnet.",
                "SubnetInUse",
            )
    remove(plan, subnet)


def remove(plan: Plan, subnet: Resource) -> None:
    """Delete ``subnet`` with its DHCP address (the caller checked it is unused)."""
    _stop_dhcp(plan, subnet)
    port = dhcp_port(plan, subnet.get("network_id"))
    if port is not None and not port.get("fixed_ips"):
        plan.delete(port)
        plan.record_usage(port.project_id, "port")
    if subnet.get("subnetpool_id"):
        subnetpools.give_back(plan, subnet)
    plan.delete(subnet)
    plan.record_usage(subnet.project_id, "subnet")
