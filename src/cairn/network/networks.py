"""Network deciders: create (with its segment), update, delete.

A tenant network is a VXLAN segment by default (its id allocated on the
``netsegments-vxlan`` stream at the version the choice saw, so two concurrent
creates never share one); admins may ask for a ``flat`` network on a physical
network (the external network is one) or name the VXLAN id themselves.
"""

from __future__ import annotations

from typing import Any

from cairn.events import network as ev
from cairn.network import quota
from cairn.network.access import Caller, editable
from cairn.network.common import DHCP, find, new_id
from cairn.network.config import NetworkConfig
from cairn.network.errors import Conflict, Forbidden, Invalid
from cairn.network.plan import Plan
from cairn.projections.network import Resource

NETWORK_TYPES = ("vxlan", "flat", "local")
MAX_VNI = 2**24 - 1
#: VXLAN's 50 bytes of headers come off the underlay's 1500
VXLAN_OVERHEAD = 50
ADMIN_ONLY = (
    "shared",
    "router:external",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "is_default",
)


def segment_stream(network_type: str) -> str:
    return f"netsegments-{network_type}"


def _policy(caller: Caller, attrs: dict[str, Any], action: str) -> None:
    for name in ADMIN_ONLY:
        if name in attrs and not caller.is_admin:
            # Neutron lets a member set shared=False, the default, explicitly.
            if name in ("shared", "router:external", "is_default") and attrs[name] is False:
                continue
            raise Forbidden(f"(rule:{action}_network:{name}) is disallowed by policy")


def _segment(plan: Plan, attrs: dict[str, Any], network_id: str) -> dict[str, Any]:
    network_type = attrs.get("provider:network_type") or "vxlan"
    if network_type not in NETWORK_TYPES:
        raise Invalid(
            f"Invalid input for operation: network_type value '{network_type}' not supported."
        )
    physical = attrs.get("provider:physical_network")
    segment = attrs.get("provider:segmentation_id")
    if network_type == "flat":
        if not physical:
            raise Invalid(
                "Invalid input for operation: physical_network required for flat provider network."
            )
        if segment is not None:
            raise Invalid(
                "Invalid input for operation: segmentation_id specified for flat provider network."
            )
        taken = [
            n
            for n in plan.resources("network")
            if n.get("provider:network_type") == "flat"
            and n.get("provider:physical_network") == physical
        ]
        if taken:
            raise Conflict(
                f"Unable to create the flat network. Physical network {physical} is in use.",
                "FlatNetworkInUse",
            )
        return {
            "provider:network_type": "flat",
            "provider:physical_network": physical,
            "provider:segmentation_id": None,
        }
    if network_type == "local":
        return {
            "provider:network_type": "local",
            "provider:physical_network": None,
            "provider:segmentation_id": None,
        }
    if physical:
        raise Invalid(
            "Invalid input for operation: provider:physical_network specified for VXLAN network."
        )
    used = plan.state.segments.get("vxlan", {})
    if segment is None:
        segment = next(vni for vni in range(1, MAX_VNI + 1) if vni not in used)
    elif not 1 <= segment <= MAX_VNI:
        raise Invalid(
            f"Invalid input for operation: segmentation_id out of range (1 through {MAX_VNI})."
        )
    elif segment in used:
        raise Conflict(
            f"Unable to create the network. The tunnel ID {segment} is in use.", "TunnelIdInUse"
        )
    plan.add(
        segment_stream("vxlan"),
        ev.SegmentAllocated(network_type="vxlan", segmentation_id=segment, network_id=network_id),
    )
    return {
        "provider:network_type": "vxlan",
        "provider:physical_network": None,
        "provider:segmentation_id": segment,
    }


def create(
    plan: Plan, caller: Caller, config: NetworkConfig, attrs: dict[str, Any], project_id: str
) -> Resource:
    _policy(caller, attrs, "create")
    network_id = new_id()
    segment = _segment(plan, attrs, network_id)
    mtu = config.mtu - (VXLAN_OVERHEAD if segment["provider:network_type"] == "vxlan" else 0)
    if attrs.get("mtu") is not None and attrs["mtu"] > mtu:
        raise Invalid(f"Invalid input for operation: Requested MTU is too big, maximum is {mtu}.")
    values: dict[str, Any] = {
        "name": "",
        "description": "",
        "admin_state_up": True,
        "shared": False,
        "router:external": False,
        "port_security_enabled": True,
        "status": "ACTIVE",
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "tags": [],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "is_default": False,
        "l2_adjacency": True,
        "mtu": mtu,
        "dns_domain": "",
    }
    values.update({k: v for k, v in attrs.items() if not k.startswith("provider:")})
    values.update(segment)
    if values["is_default"] and not values["router:external"]:
        raise Invalid("Invalid input for operation: is_default needs router:external.")
    network = plan.create("network", network_id, project_id, values)
    quota.take(plan, config.quotas, project_id, "network")
    return network


def update(plan: Plan, caller: Caller, network_id: str, attrs: dict[str, Any]) -> Resource:
    network = find(plan, caller, "network", network_id)
    if not editable(caller, network):
        raise Forbidden(f"(rule:update_network) is disallowed by policy on {network_id}")
    _policy(caller, attrs, "update")
    for name in ("provider:network_type", "provider:physical_network", "provider:segmentation_id"):
        if name in attrs and attrs[name] != network.get(name):
            raise Invalid(
                f"Invalid input for operation: Plugin does not support updating the "
                f"following provider network attributes: {name}"
            )
        attrs.pop(name, None)
    if attrs.get("shared") is False and network.get("shared"):
        others = [
            p
            for p in plan.resources("port")
            if p.get("network_id") == network_id and p.project_id not in (network.project_id, "")
        ]
        if others:
            raise Conflict(
                f"Unable to reconfigure sharing settings for network {network_id}. "
                f"Multiple tenants are using it.",
                "InvalidSharedSetting",
            )
    if attrs.get("mtu") is not None and attrs["mtu"] > network.get("mtu", 1500):
        raise Invalid(
            f"Invalid input for operation: Requested MTU is too big, maximum is "
            f"{network.get('mtu')}."
        )
    changes = {k: v for k, v in attrs.items() if network.get(k) != v}
    plan.update(network, changes)
    return network


def delete(plan: Plan, caller: Caller, network_id: str) -> None:
    # a network's delete takes its subnets and idle floating IPs with it
    from cairn.network import floatingips, subnets

    network = find(plan, caller, "network", network_id)
    if not editable(caller, network):
        raise Forbidden(f"(rule:delete_network) is disallowed by policy on {network_id}")
    # Floating IPs of an external network that no port uses go with it, as in Neutron.
    for fip in plan.resources("floatingip"):
        if fip.get("floating_network_id") == network_id and not fip.get("port_id"):
            floatingips.delete(plan, Caller(fip.project_id, "", is_admin=True), fip.id)
    ports = [p for p in plan.resources("port") if p.get("network_id") == network_id]
    busy = [p for p in ports if p.get("device_owner") != DHCP]
    if busy:
        raise Conflict(
            f"Unable to complete operation on network {network_id}. There are one "
            f"or more ports still in use on the network.",
            "NetworkInUse",
        )
    for port in ports:
        for fixed in port.get("fixed_ips") or []:
            plan.release(fixed["subnet_id"], port.id, [fixed["ip_address"]])
        plan.delete(port)
        plan.record_usage(port.project_id, "port")
    for subnet in [s for s in plan.resources("subnet") if s.get("network_id") == network_id]:
        subnets.remove(plan, subnet)
    segment = network.get("provider:segmentation_id")
    if network.get("provider:network_type") == "vxlan" and segment is not None:
        plan.add(
            segment_stream("vxlan"),
            ev.SegmentReleased(
                network_type="vxlan", segmentation_id=segment, network_id=network_id
            ),
        )
    plan.delete(network)
    plan.record_usage(network.project_id, "network")
