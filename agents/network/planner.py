"""From the networking read model to one host's :class:`~cairn.agents.network.desired.HostPlan`.

A pure function of the state (and of which compute hosts are this machine's):
the same state always gives an equal plan, so the agent re-applies only when
the plan changed. On an all-in-one every network has its bridge and DHCP
namespace here and every router its namespace (this host is the network node
too); a port's filter is here when the port is bound to one of this machine's
hosts. The external network of physical network ``public`` (flat) is the
stand-in for the outside world: its subnet's gateway address lives in the
``cairn-public`` namespace, so floating IPs answer from there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from cairn.agents.network import desired as d
from cairn.network.common import DHCP, FLOATING_IP, ROUTER_GATEWAY, ROUTER_INTERFACE
from cairn.projections.network import NetworkState, Resource

PUBLIC_PHYSNET = "public"


def _prefixlen(state: NetworkState, subnet_id: str) -> int | None:
    subnet = state.find("subnet", subnet_id)
    return None if subnet is None else ipaddress.ip_network(subnet.get("cidr")).prefixlen


def _hostname(port: Resource, address: str) -> str:
    name = port.get("dns_name") or ""
    return name or "host-" + address.replace(".", "-").replace(":", "-")


def _dhcp(
    state: NetworkState, network: Resource, ports: list[Resource]
) -> tuple[d.SubnetDhcp, ...]:
    server = next((p for p in ports if p.get("device_owner") == DHCP), None)
    if server is None:
        return ()
    served = {f["subnet_id"]: f["ip_address"] for f in server.get("fixed_ips") or []}
    specs = []
    for subnet in sorted(state.of("subnet").values(), key=lambda s: s.id):
        if subnet.get("network_id") != network.id or subnet.id not in served:
            continue
        if subnet.get("ip_version") != 4 or not subnet.get("enable_dhcp"):
            continue
        leases = []
        for port in ports:
            if port.get("device_owner") in (DHCP, ROUTER_GATEWAY, FLOATING_IP):
                continue
            for fixed in port.get("fixed_ips") or []:
                if fixed["subnet_id"] == subnet.id:
                    leases.append(
                        d.Lease(
                            mac=port.get("mac_address"),
                            ip=fixed["ip_address"],
                            hostname=_hostname(port, fixed["ip_address"]),
                        )
                    )
        specs.append(
            d.SubnetDhcp(
                subnet_id=subnet.id,
                cidr=subnet.get("cidr"),
                server_ip=served[subnet.id],
                gateway_ip=subnet.get("gateway_ip"),
                dns_nameservers=tuple(subnet.get("dns_nameservers") or ()),
                host_routes=tuple(
                    (r["destination"], r["nexthop"]) for r in subnet.get("host_routes") or ()
                ),
                mtu=network.get("mtu") or 1500,
                leases=tuple(sorted(leases, key=lambda x: x.mac)),
                metadata=True,
            )
        )
    return tuple(specs)


def _router_port(state: NetworkState, port: Resource, mtu: int) -> d.RouterPort | None:
    fixed = next(iter(port.get("fixed_ips") or []), None)
    if fixed is None:
        return None
    length = _prefixlen(state, fixed["subnet_id"])
    if length is None:
        return None
    return d.RouterPort(
        port_id=port.id,
        bridge=d.bridge_name(port.get("network_id")),
        ip_cidr=f"{fixed['ip_address']}/{length}",
        mac=port.get("mac_address"),
        mtu=mtu,
    )


def _routers(state: NetworkState, mtus: dict[str, int]) -> tuple[d.RouterSpec, ...]:
    by_router: dict[str, list[Resource]] = {}
    for port in state.of("port").values():
        if port.get("device_owner") in (ROUTER_INTERFACE, ROUTER_GATEWAY):
            by_router.setdefault(port.get("device_id"), []).append(port)
    specs = []
    for router in sorted(state.of("router").values(), key=lambda r: r.id):
        # An administratively down router keeps its legs (its ports are wired, as
        # Neutron reports them) but loses its gateway, NAT and routes, and forwards
        # nothing between its interfaces.
        up = bool(router.get("admin_state_up", True))
        legs = sorted(by_router.get(router.id, []), key=lambda p: p.id)
        gateway_port = next(
            (p for p in legs if up and p.get("device_owner") == ROUTER_GATEWAY), None
        )
        gateway = nexthop = None
        if gateway_port is not None:
            gateway = _router_port(
                state, gateway_port, mtus.get(gateway_port.get("network_id"), 1500)
            )
            fixed = next(iter(gateway_port.get("fixed_ips") or []), None)
            subnet = state.find("subnet", fixed["subnet_id"]) if fixed else None
            nexthop = subnet.get("gateway_ip") if subnet else None
        interfaces = tuple(
            spec
            for p in legs
            if p.get("device_owner") == ROUTER_INTERFACE
            if (spec := _router_port(state, p, mtus.get(p.get("network_id"), 1500))) is not None
        )
        fips = tuple(
            sorted(
                (
                    d.FloatingIP(
                        floating_ip=f.get("floating_ip_address"), fixed_ip=f.get("fixed_ip_address")
                    )
                    for f in state.of("floatingip").values()
                    if f.get("router_id") == router.id and f.get("fixed_ip_address")
                ),
                key=lambda f: f.floating_ip,
            )
        )
        forwards = []
        for forwarding in state.of("port_forwarding").values():
            fip = state.find("floatingip", forwarding.get("floatingip_id"))
            if fip is None or gateway is None:
                continue
            if not _reaches(state, router.id, forwarding.get("internal_ip_address")):
                continue
            forwards.append(
                d.PortForward(
                    floating_ip=fip.get("floating_ip_address"),
                    protocol=forwarding.get("protocol"),
                    external_port=forwarding.get("external_port"),
                    internal_ip=forwarding.get("internal_ip_address"),
                    internal_port=forwarding.get("internal_port"),
                )
            )
        info = router.get("external_gateway_info") or {}
        specs.append(
            d.RouterSpec(
                router_id=router.id,
                gateway=gateway,
                gateway_nexthop=nexthop,
                interfaces=interfaces,
                snat=bool(info.get("enable_snat", True)),
                floating_ips=fips if gateway is not None else (),
                port_forwardings=tuple(
                    sorted(forwards, key=lambda f: (f.floating_ip, f.external_port))
                ),
                routes=tuple((r["destination"], r["nexthop"]) for r in router.get("routes") or ())
                if up
                else (),
                forwarding=up,
            )
        )
    return tuple(specs)


def _reaches(state: NetworkState, router_id: str, address: str) -> bool:
    for port in state.of("port").values():
        if port.get("device_id") != router_id or port.get("device_owner") != ROUTER_INTERFACE:
            continue
        for fixed in port.get("fixed_ips") or []:
            subnet = state.find("subnet", fixed["subnet_id"])
            if subnet is not None and ipaddress.ip_address(address) in ipaddress.ip_network(
                subnet.get("cidr")
            ):
                return True
    return False


def _members(state: NetworkState) -> dict[str, tuple[str, ...]]:
    members: dict[str, list[str]] = {}
    for port in state.of("port").values():
        for group in port.get("security_groups") or []:
            members.setdefault(group, []).extend(
                f["ip_address"] for f in port.get("fixed_ips") or []
            )
    return {group: tuple(sorted(ips)) for group, ips in members.items()}


def _rules(
    state: NetworkState, port: Resource, members: dict[str, tuple[str, ...]]
) -> tuple[d.SecurityRule, ...]:
    groups = set(port.get("security_groups") or [])
    rules = []
    for rule in state.of("security_group_rule").values():
        if rule.get("security_group_id") not in groups:
            continue
        remote = rule.get("remote_group_id")
        rules.append(
            d.SecurityRule(
                direction=rule.get("direction"),
                ethertype=rule.get("ethertype"),
                protocol=rule.get("protocol"),
                port_min=rule.get("port_range_min"),
                port_max=rule.get("port_range_max"),
                remote_ip_prefix=rule.get("remote_ip_prefix"),
                remote_ips=members.get(remote, ()) if remote else None,
            )
        )
    return tuple(sorted(set(rules), key=repr))


def host_plan(state: NetworkState, hosts: Iterable[str]) -> d.HostPlan:
    """The plan of the machine whose compute hosts are ``hosts``."""
    local = set(hosts)
    ports_by_network: dict[str, list[Resource]] = {}
    for port in sorted(state.of("port").values(), key=lambda p: p.id):
        ports_by_network.setdefault(port.get("network_id"), []).append(port)
    networks, mtus = [], {}
    external = None
    for network in sorted(state.of("network").values(), key=lambda n: n.id):
        mtu = network.get("mtu") or 1500
        mtus[network.id] = mtu
        ports = ports_by_network.get(network.id, [])
        dhcp = _dhcp(state, network, ports)
        server = next((p for p in ports if p.get("device_owner") == DHCP), None)
        networks.append(
            d.NetworkSpec(
                network_id=network.id,
                mtu=mtu,
                dhcp=dhcp,
                dhcp_mac=server.get("mac_address") if server and dhcp else None,
                dhcp_port_id=server.id if server and dhcp else None,
            )
        )
        if (
            external is None
            and network.get("router:external")
            and network.get("provider:physical_network") == PUBLIC_PHYSNET
        ):
            subnet = next(
                (
                    s
                    for s in sorted(state.of("subnet").values(), key=lambda s: s.id)
                    if s.get("network_id") == network.id
                    and s.get("ip_version") == 4
                    and s.get("gateway_ip")
                ),
                None,
            )
            if subnet is not None:
                length = ipaddress.ip_network(subnet.get("cidr")).prefixlen
                external = d.ExternalSpec(
                    bridge=d.bridge_name(network.id), ip_cidr=f"{subnet.get('gateway_ip')}/{length}"
                )
    members = _members(state)
    filters = []
    for port in sorted(state.of("port").values(), key=lambda p: p.id):
        if port.get("binding:host_id") not in local:
            continue
        if not str(port.get("device_owner") or "").startswith("compute:"):
            continue
        addresses = tuple(f["ip_address"] for f in port.get("fixed_ips") or [])
        filters.append(
            d.PortFilter(
                port_id=port.id,
                bridge=d.bridge_name(port.get("network_id")),
                mac=port.get("mac_address"),
                fixed_ips=addresses,
                allowed_pairs=tuple(
                    (p["ip_address"], p["mac_address"])
                    for p in port.get("allowed_address_pairs") or ()
                ),
                port_security=bool(port.get("port_security_enabled", True)),
                rules=_rules(state, port, members),
            )
        )
    return d.HostPlan(
        networks=tuple(networks),
        routers=_routers(state, mtus),
        ports=tuple(filters),
        external=external,
    )
