"""Port deciders: create (with its addresses), update, delete.

A port's addresses are decided on each subnet's stream at the version the
decision saw (:meth:`~cairn.network.plan.Plan.allocate`): concurrent creates
never share an address, and one that finds the pool empty is refused with
Neutron's ``IpAddressGenerationFailure``. A port is ``DOWN`` until the network
agent of its host finds its datapath wired (``PortWired``); its security
groups default to the project's ``default`` group.
"""

from __future__ import annotations

from typing import Any

from cairn.network import ipam, quota, security_groups
from cairn.network.access import Caller, editable, visible
from cairn.network.common import NETWORK_OWNED, ROUTER_INTERFACE, find, new_id, new_mac
from cairn.network.config import NetworkConfig
from cairn.network.errors import Conflict, Forbidden, Invalid
from cairn.network.plan import Plan
from cairn.projections.network import Resource

ADMIN_ONLY = ("binding:host_id", "binding:profile")


def defaults(network: Resource) -> dict[str, Any]:
    """A new port's attributes on ``network`` before what the request sets."""
    return {
        "name": "",
        "description": "",
        "network_id": network.id,
        "admin_state_up": True,
        "status": "DOWN",
        "mac_address": "",
        "fixed_ips": [],
        "device_id": "",
        "device_owner": "",
        "allowed_address_pairs": [],
        "security_groups": [],
        "port_security_enabled": network.get("port_security_enabled", True),
        "binding:host_id": "",
        "binding:vif_type": "unbound",
        "binding:vnic_type": "normal",
        "binding:vif_details": {},
        "binding:profile": {},
        "extra_dhcp_opts": [],
        "tags": [],
        "propagate_uplink_status": False,
        "dns_name": "",
        "dns_assignment": [],
    }


def _subnets_of(plan: Plan, network_id: str) -> list[Resource]:
    found = [s for s in plan.resources("subnet") if s.get("network_id") == network_id]
    return sorted(found, key=lambda s: (s.created_at is None, s.created_at or 0, s.id))


def allocate(
    plan: Plan,
    network: Resource,
    port_id: str,
    mac: str,
    requested: list[dict[str, Any]] | None,
    *,
    router: bool = False,
) -> list[dict[str, str]]:
    """The port's fixed IPs: those asked for (checked), else one from the first
    IPv4 subnet with room, one from the first stateful IPv6 subnet, and the SLAAC
    address of every SLAAC subnet. Records the allocations in ``plan``."""
    subnets = _subnets_of(plan, network.id)
    chosen: list[dict[str, str]] = []
    if requested:
        for item in requested:
            subnet = _subnet_for(plan, network, subnets, item)
            address = item.get("ip_address")
            in_use = plan.in_use(subnet.id, also={c["ip_address"] for c in chosen})
            if address is not None:
                address = ipam.check_fixed(subnet.attributes, address, in_use)
                if address == subnet.get("gateway_ip") and not router:
                    raise Conflict(
                        f"IP address {address} is the gateway of subnet {subnet.id}.",
                        "IpAddressInUse",
                    )
            elif ipam.is_slaac(subnet.attributes):
                address = ipam.eui64(subnet.get("cidr"), mac)
            else:
                address = plan.next_free(subnet, exclude={c["ip_address"] for c in chosen})
                if address is None:
                    raise _exhausted(network)
            chosen.append({"subnet_id": subnet.id, "ip_address": address})
    else:
        v4 = [s for s in subnets if s.get("ip_version") == 4]
        v6 = [s for s in subnets if s.get("ip_version") == 6]
        for family in (v4, [s for s in v6 if not ipam.is_slaac(s.attributes)]):
            if not family:
                continue
            for subnet in family:
                address = plan.next_free(subnet)
                if address is not None:
                    chosen.append({"subnet_id": subnet.id, "ip_address": address})
                    break
            else:
                raise _exhausted(network)
        for subnet in v6:
            if ipam.is_slaac(subnet.attributes):
                chosen.append(
                    {"subnet_id": subnet.id, "ip_address": ipam.eui64(subnet.get("cidr"), mac)}
                )
    for item in chosen:
        plan.allocate(item["subnet_id"], port_id, [item["ip_address"]])
    return chosen


def _exhausted(network: Resource) -> Conflict:
    return Conflict(
        f"No more IP addresses available on network {network.id}.", "IpAddressGenerationFailure"
    )


def _subnet_for(
    plan: Plan, network: Resource, subnets: list[Resource], item: dict[str, Any]
) -> Resource:
    subnet_id = item.get("subnet_id")
    if subnet_id is not None:
        subnet = next((s for s in subnets if s.id == subnet_id), None)
        if subnet is None:
            raise Invalid(
                f"Invalid input for operation: Failed to create port on network "
                f"{network.id}, because fixed_ips included invalid subnet "
                f"{subnet_id}."
            )
        return subnet
    address = item.get("ip_address")
    if address is None:
        raise Invalid(
            "Invalid input for operation: IP allocation requires subnet_id or ip_address."
        )
    for subnet in subnets:
        if ipam.in_subnet(address, subnet.get("cidr")):
            return subnet
    raise Invalid(
        f"Invalid input for operation: IP address {address} is not a valid IP for "
        f"any of the subnets on network {network.id}."
    )


def _groups(
    plan: Plan, caller: Caller, config: NetworkConfig, project_id: str, wanted: list[str] | None
) -> list[str]:
    if wanted is None:
        return [security_groups.ensure_default(plan, config, project_id).id]
    found = []
    for group_id in wanted:
        group = plan.find("security_group", group_id)
        if group is None or (
            group.project_id != project_id and not caller.is_admin and not group.get("shared")
        ):
            raise security_groups.not_found_group(group_id)
        found.append(group.id)
    return list(dict.fromkeys(found))


def _check_pairs(pairs: list[dict[str, Any]], mac: str) -> list[dict[str, str]]:
    result = []
    for pair in pairs:
        ip = pair.get("ip_address")
        if not ip:
            raise Invalid(
                "Invalid input for allowed_address_pairs. Reason: Missing "
                "ip_address in address pair."
            )
        result.append({"ip_address": ip, "mac_address": pair.get("mac_address") or mac})
    return result


def create(
    plan: Plan, caller: Caller, config: NetworkConfig, attrs: dict[str, Any], project_id: str
) -> Resource:
    network = find(plan, caller, "network", attrs["network_id"])
    own = network.project_id == project_id
    if not (caller.is_admin or own or network.get("shared")):
        raise Forbidden(
            f"(rule:create_port) is disallowed by policy: network {network.id} is not shared"
        )
    for name in ADMIN_ONLY:
        if attrs.get(name) and not caller.is_admin:
            raise Forbidden(f"(rule:create_port:{name}) is disallowed by policy")
    if attrs.get("device_owner", "").startswith("network:") and not (caller.is_admin or own):
        raise Forbidden("(rule:create_port:device_owner) is disallowed by policy")
    port_id = new_id()
    values = defaults(network)
    values.update(attrs)
    # Everything is checked before the plan changes (but for the project's default
    # group, which Neutron makes on first use anyway): a refused create leaves
    # nothing in a batch's append (see cairn.network.service).
    taken = plan.macs(network.id)
    mac = attrs.get("mac_address")
    if mac:
        if not (caller.is_admin or own):
            raise Forbidden("(rule:create_port:mac_address) is disallowed by policy")
        if mac in taken:
            raise Conflict(
                f"Unable to complete operation for network {network.id}. The mac "
                f"address {mac} is in use.",
                "MacAddressInUse",
            )
    else:
        mac = new_mac(taken)
    values["mac_address"] = mac
    secured = values["port_security_enabled"]
    network_owned = values["device_owner"].startswith("network:")
    if not secured or network_owned:
        if attrs.get("security_groups"):
            raise Conflict(
                "Port has security group associated. Cannot disable port security "
                "or IP address until security group is removed.",
                "PortSecurityAndIPRequiredForSecurityGroups",
            )
        values["security_groups"] = []
    else:
        values["security_groups"] = _groups(
            plan, caller, config, project_id, attrs.get("security_groups")
        )
    pairs = attrs.get("allowed_address_pairs") or []
    if pairs and not secured:
        raise Conflict(
            "Port Security must be enabled in order to have allowed address pairs on a port.",
            "AddressPairAndPortSecurityRequired",
        )
    values["allowed_address_pairs"] = _check_pairs(pairs, mac)
    if values["binding:host_id"]:
        values["binding:vif_type"] = "bridge"
        values["binding:vif_details"] = {"port_filter": True, "connectivity": "l2"}
    quota.admit(plan, config.quotas, project_id, "port")
    router = values["device_owner"] == ROUTER_INTERFACE
    values["fixed_ips"] = allocate(
        plan, network, port_id, mac, attrs.get("fixed_ips"), router=router
    )
    port = plan.create("port", port_id, project_id, values)
    plan.record_usage(project_id, "port")
    return port


def update(
    plan: Plan, caller: Caller, config: NetworkConfig, port_id: str, attrs: dict[str, Any]
) -> Resource:
    port = find(plan, caller, "port", port_id)
    if not editable(caller, port):
        raise Forbidden(f"(rule:update_port) is disallowed by policy on {port_id}")
    for name in ADMIN_ONLY:
        if name in attrs and not caller.is_admin:
            raise Forbidden(f"(rule:update_port:{name}) is disallowed by policy")
    if "network_id" in attrs and attrs.pop("network_id") != port.get("network_id"):
        raise Invalid("Cannot update read-only attribute network_id")
    network = plan.find("network", port.get("network_id"))
    assert network is not None
    changes: dict[str, Any] = {}
    if "mac_address" in attrs and attrs["mac_address"] != port.get("mac_address"):
        if not caller.is_admin:
            raise Forbidden("(rule:update_port:mac_address) is disallowed by policy")
        if port.get("binding:host_id"):
            raise Conflict(
                f"Unable to complete operation on port {port_id}: the port is "
                f"bound, its MAC address cannot change.",
                "PortBound",
            )
        changes["mac_address"] = attrs["mac_address"]
    attrs.pop("mac_address", None)
    if "fixed_ips" in attrs:
        old = port.get("fixed_ips") or []
        keep = [f for f in old if f in attrs["fixed_ips"]]
        wanted = [f for f in attrs["fixed_ips"] if f not in keep]
        for fixed in old:
            if fixed not in keep:
                plan.release(fixed["subnet_id"], port.id, [fixed["ip_address"]])
        new = (
            allocate(
                plan,
                network,
                port.id,
                changes.get("mac_address", port.get("mac_address")),
                wanted or None,
                router=port.get("device_owner") == ROUTER_INTERFACE,
            )
            if wanted or not keep
            else []
        )
        changes["fixed_ips"] = keep + new
        attrs.pop("fixed_ips")
    secured = attrs.get("port_security_enabled", port.get("port_security_enabled"))
    groups = attrs.get("security_groups", port.get("security_groups") or [])
    if not secured:
        if groups and "security_groups" not in attrs and port.get("security_groups"):
            raise Conflict(
                "Port has security group associated. Cannot disable port security "
                "or IP address until security group is removed.",
                "PortSecurityAndIPRequiredForSecurityGroups",
            )
        if attrs.get("security_groups"):
            raise Conflict(
                "Port has security group associated. Cannot disable port security "
                "or IP address until security group is removed.",
                "PortSecurityAndIPRequiredForSecurityGroups",
            )
        pairs = attrs.get("allowed_address_pairs", port.get("allowed_address_pairs"))
        if pairs:
            raise Conflict(
                "Port Security must be enabled in order to have allowed address pairs on a port.",
                "AddressPairAndPortSecurityRequired",
            )
    if "security_groups" in attrs:
        attrs["security_groups"] = _groups(
            plan, caller, config, port.project_id, attrs["security_groups"] or []
        )
    if "allowed_address_pairs" in attrs:
        attrs["allowed_address_pairs"] = _check_pairs(
            attrs["allowed_address_pairs"] or [],
            changes.get("mac_address", port.get("mac_address")),
        )
    if attrs.get("binding:host_id"):
        attrs["binding:vif_type"] = "bridge"
        attrs["binding:vif_details"] = {"port_filter": True, "connectivity": "l2"}
    elif "binding:host_id" in attrs:
        attrs["binding:vif_type"] = "unbound"
        attrs["binding:vif_details"] = {}
        attrs["status"] = "DOWN"
    changes.update({k: v for k, v in attrs.items() if port.get(k) != v})
    plan.update(port, changes)
    return port


def delete(plan: Plan, caller: Caller, port_id: str, *, internal: bool = False) -> None:
    """Delete the port and give its addresses back; a port that serves a router or
    the network is deleted through them (``internal``), not through the port API."""
    port = find(plan, caller, "port", port_id)
    if not editable(caller, port):
        raise Forbidden(f"(rule:delete_port) is disallowed by policy on {port_id}")
    owner = port.get("device_owner")
    if owner in NETWORK_OWNED and owner != "network:dhcp" and not internal:
        raise Conflict(
            f"Port {port_id} cannot be deleted directly via the port API: has "
            f"device owner {owner}.",
            "ServicePortInUse",
        )
    remove(plan, port)


def remove(plan: Plan, port: Resource) -> None:
    for fixed in port.get("fixed_ips") or []:
        plan.release(fixed["subnet_id"], port.id, [fixed["ip_address"]])
    for fip in plan.resources("floatingip"):
        if fip.get("port_id") == port.id:
            plan.update(
                fip,
                {"port_id": None, "fixed_ip_address": None, "router_id": None, "status": "DOWN"},
            )
    plan.delete(port)
    plan.record_usage(port.project_id, "port")


def visible_ports(plan: Plan, caller: Caller) -> list[Resource]:
    return [p for p in plan.resources("port") if visible(plan.state, caller, p)]
