"""The network datapath of one host: make it match a :class:`HostPlan`, idempotently.

:meth:`Datapath.apply` converges in a fixed order, each step looking at what
exists before changing anything, so that re-applying a plan changes nothing
(:attr:`Datapath.changes` lists what the last apply did; empty on a re-apply)
and an apply interrupted anywhere (an error, a cancellation, the process
killed) is finished by the next one:

1. namespaces Cairn owns that the plan no longer names are emptied (metadata
   listener closed, dnsmasq killed and its files removed, any process left
   inside killed, netlink handles closed) and deleted: their veths go with them;
   DHCP directories of networks without DHCP are removed with their dnsmasq;
2. missing namespaces are created;
3. devices (one call on the netlink thread, see :mod:`~cairn.agents.network.links`):
   per network a bridge, its VXLAN device and flood list or its physical
   uplink, the DHCP namespace's veth and addresses; per router its veths,
   addresses, forwarding and routes; the external namespace's veth; then every
   device with a Cairn prefix the plan does not name is deleted;
4. dnsmasq per network (:mod:`~cairn.agents.network.dhcp`: started, sent SIGHUP
   or restarted only when something differs);
5. nftables: the security group tables in the root namespace and each router's
   NAT table, loaded only when their fingerprints differ (:mod:`~cairn.agents.network.nft`);
6. metadata listeners in the DHCP namespaces of networks that serve metadata.

What is Cairn's is known by name alone: devices prefixed ``brq``, ``vx-``,
``dh-``, ``rt-``, ``ex-`` in the root namespace; namespaces prefixed
``qdhcp-``, ``qrouter-`` and ``cairn-`` (after the datapath's
``namespace_prefix``); nftables tables named ``cairn-*``; dnsmasq processes
whose pid files live in the state directory. Taps are libvirt's: never touched.

**The root namespace.** By default the datapath works in the process's own
network namespace; with ``netns`` it works inside that named namespace
instead (a "host" for tests and for several hosts on one machine). Its own
namespaces are then still named ones under /run/netns: give each such datapath
its own ``namespace_prefix`` so that two never claim each other's.

Calls never block the event loop: netlink runs on the datapath's netlink
thread, programs (ip, nft, nsenter, dnsmasq) as asyncio subprocesses, file and
/proc work in threads. Applies are serialized.
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from types import TracebackType
from typing import Self

from cairn.agents.network import desired as d
from cairn.agents.network import dhcp, links, namespaces, nat, nft, security_groups
from cairn.agents.network.errors import DatapathError, InvalidPlan
from cairn.agents.network.links import Link, Netlink, Ns
from cairn.agents.network.metadata import Lookup, MetadataService

__all__ = ["Datapath", "DatapathError"]


def _interface(cidr: str) -> str:
    address = ipaddress.ip_interface(cidr)
    return f"{address.ip}/{address.network.prefixlen}"


class Datapath:
    """One host's datapath (see the module docstring)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        netns: str | None = None,
        namespace_prefix: str = "",
        metadata: Lookup | None = None,
        metadata_port: int = 80,
    ) -> None:
        self._state = Path(state_dir)
        self._root = netns
        self._prefix = namespace_prefix
        self._nl = Netlink()
        self._metadata = MetadataService(metadata, port=metadata_port) if metadata else None
        self._lock = asyncio.Lock()
        #: What the last :meth:`apply` changed, one line per change (empty: nothing).
        self.changes: list[str] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop this process's part (metadata listeners, netlink handles); what
        runs in the kernel and dnsmasq stays, for the next start to adopt."""
        if self._metadata is not None:
            await self._metadata.close()
        await self._nl.close()

    # -- names ---------------------------------------------------------------------------

    def dhcp_namespace(self, network_id: str) -> str:
        return self._prefix + d.dhcp_namespace(network_id)

    def router_namespace(self, router_id: str) -> str:
        return self._prefix + d.router_namespace(router_id)

    def external_namespace(self, external: d.ExternalSpec) -> str:
        return self._prefix + external.namespace

    def _owned(self, namespace: str) -> bool:
        prefixes = (d.DHCP_NAMESPACE_PREFIX, d.ROUTER_NAMESPACE_PREFIX, d.EXTERNAL_NAMESPACE_PREFIX)
        return namespace.startswith(tuple(self._prefix + p for p in prefixes))

    def _wanted_namespaces(self, plan: d.HostPlan) -> set[str]:
        wanted = {self.dhcp_namespace(n.network_id) for n in plan.networks if n.dhcp}
        wanted |= {self.router_namespace(r.router_id) for r in plan.routers}
        if plan.external is not None:
            wanted.add(self.external_namespace(plan.external))
        return wanted

    def _owned_namespaces(self) -> set[str]:
        return {n for n in namespaces.names() if self._owned(n)}

    # -- apply ---------------------------------------------------------------------------

    async def apply(self, plan: d.HostPlan) -> None:
        """Make the host match ``plan`` (see the module docstring). Raises
        :class:`InvalidPlan` before changing anything when the plan cannot be
        applied, and another :class:`DatapathError` naming the device or
        namespace when the host refuses a step (the next apply resumes)."""
        problems = plan.problems()
        if problems:
            raise InvalidPlan("; ".join(problems))
        root_tables = security_groups.tables(plan.ports)
        router_tables = {self.router_namespace(r.router_id): nat.tables(r) for r in plan.routers}
        async with self._lock:
            changes: list[str] = []
            self.changes = changes
            await self._remove_stale(plan, changes)
            owned = self._owned_namespaces()
            # A file left by a creation cut short (cancelled, killed) is no namespace.
            missing = {
                n
                for n in self._wanted_namespaces(plan)
                if n not in owned or not namespaces.mounted(n)
            }
            for namespace in sorted(missing):
                await namespaces.create(namespace)
                changes.append(f"create namespace {namespace}")
            await self._nl.call(self._converge_links, plan, changes)
            for network in plan.networks:
                if dhcp.served(network):
                    await self._converge_dhcp(network, changes)
            await self._converge_tables(self._root, root_tables, changes)
            for namespace, tables in sorted(router_tables.items()):
                await self._converge_tables(namespace, tables, changes)
            await self._converge_metadata(plan, changes)

    async def teardown(self) -> None:
        """Remove everything this datapath owns (an apply of the empty plan)."""
        await self.apply(d.HostPlan())

    async def _remove_stale(self, plan: d.HostPlan, changes: list[str]) -> None:
        wanted = self._wanted_namespaces(plan)
        for namespace in sorted(await asyncio.to_thread(self._owned_namespaces) - wanted):
            await self._remove_namespace(namespace, changes)
        serving = {n.network_id for n in plan.networks if dhcp.served(n)}
        for network_id in sorted(await asyncio.to_thread(dhcp.owned, self._state) - serving):
            await self._stop_metadata(network_id, changes)
            await dhcp.stop(self._state, network_id)
            changes.append(f"stop dnsmasq of {network_id}")

    async def _stop_metadata(self, network_id: str, changes: list[str]) -> None:
        if self._metadata is not None and network_id in self._metadata.serving():
            await self._metadata.stop(network_id)
            changes.append(f"stop metadata of {network_id}")

    async def _remove_namespace(self, namespace: str, changes: list[str]) -> None:
        dhcp_prefix = self._prefix + d.DHCP_NAMESPACE_PREFIX
        if namespace.startswith(dhcp_prefix):
            network_id = namespace.removeprefix(dhcp_prefix)
            await self._stop_metadata(network_id, changes)
            await dhcp.stop(self._state, network_id)
        killed = await asyncio.to_thread(namespaces.kill_all, namespace)
        if killed:
            changes.append(f"kill {killed} left in {namespace}")
        await self._nl.call(self._nl.forget, namespace)
        await namespaces.delete(namespace)
        changes.append(f"delete namespace {namespace}")

    # -- devices (on the netlink thread) -------------------------------------------------

    def _ns(self, namespace: str | None, changes: list[str]) -> Ns:
        return Ns(self._nl.handle(namespace), namespace, changes)

    def _converge_links(self, plan: d.HostPlan, changes: list[str]) -> None:
        root = self._ns(self._root, changes)
        existing = links.links(root)
        keep: set[str] = set()
        bridges: dict[str, Link] = {}
        for network in plan.networks:
            bridge = links.ensure_bridge(root, existing, network.bridge, network.mtu)
            bridges[network.bridge] = bridge
            keep.add(network.bridge)
            if network.vxlan is not None:
                name = d.vxlan_name(network.vxlan.vni)
                keep.add(name)
                vxlan = links.ensure_vxlan(root, existing, name, network.vxlan, network.mtu, bridge)
                links.sync_flood_list(root, vxlan, set(network.vxlan.remotes))
            if network.physical_interface is not None:
                links.ensure_port_of(root, existing, network.physical_interface, bridge)
            if network.dhcp:
                self._converge_dhcp_leg(root, existing, network, bridge, keep)
        for router in plan.routers:
            self._converge_router(root, existing, router, bridges, keep)
        if plan.external is not None:
            self._converge_external(root, existing, plan.external, bridges, keep)
        for name in sorted(existing):
            if name.startswith(d.OWNED_LINK_PREFIXES) and name not in keep:
                links.delete(root, name)

    def _converge_dhcp_leg(
        self,
        root: Ns,
        existing: dict[str, Link],
        network: d.NetworkSpec,
        bridge: Link,
        keep: set[str],
    ) -> None:
        inner = self._ns(self.dhcp_namespace(network.network_id), root.changes)
        leg = d.dhcp_leg(network.network_id)
        keep.add(leg)
        device = links.ensure_veth(
            root,
            existing,
            leg,
            inner,
            links.links(inner),
            d.dhcp_device(network.network_id),
            mtu=network.mtu,
            mac=network.dhcp_mac,
            bridge=bridge,
        )
        addresses = set()
        for subnet in network.dhcp:
            net = ipaddress.ip_network(subnet.cidr, strict=False)
            if net.version == 4:
                addresses.add(f"{subnet.server_ip}/{net.prefixlen}")
        if any(subnet.metadata for subnet in network.dhcp):
            addresses.add(f"{d.METADATA_IP}/32")
        links.sync_addresses(inner, device, addresses)

    def _converge_router(
        self,
        root: Ns,
        existing: dict[str, Link],
        router: d.RouterSpec,
        bridges: dict[str, Link],
        keep: set[str],
    ) -> None:
        inner = self._ns(self.router_namespace(router.router_id), root.changes)
        inner_links = links.links(inner)
        links.sysctl(inner, "net.ipv4.ip_forward", "1" if router.forwarding else "0")
        ports = [(port, False) for port in router.interfaces]
        if router.gateway is not None:
            ports.append((router.gateway, True))
        devices = set()
        present = links.addresses(inner)
        for port, gateway in ports:
            leg = d.router_leg(port.port_id)
            device_name = d.router_device(port.port_id, gateway=gateway)
            keep.add(leg)
            devices.add(device_name)
            device = links.ensure_veth(
                root,
                existing,
                leg,
                inner,
                inner_links,
                device_name,
                mtu=port.mtu,
                mac=port.mac,
                bridge=bridges[port.bridge],
            )
            addresses = {_interface(port.ip_cidr)}
            if gateway:
                addresses |= {f"{ip}/32" for ip in nat.floating_addresses(router)}
            added = addresses - present.get(device.index, set())
            links.sync_addresses(inner, device, addresses, present)
            if gateway:
                for cidr in sorted(added):
                    links.announce(inner, device_name, cidr.partition("/")[0], port.mac)
        for name in sorted(inner_links):
            prefixes = (d.ROUTER_INTERFACE_PREFIX, d.ROUTER_GATEWAY_PREFIX)
            if name.startswith(prefixes) and name not in devices:
                links.delete(inner, name)
        routes = {str(ipaddress.ip_network(dst, strict=False)): hop for dst, hop in router.routes}
        if router.gateway is not None and router.gateway_nexthop is not None:
            routes["0.0.0.0/0"] = router.gateway_nexthop
        links.sync_routes(inner, routes)

    def _converge_external(
        self,
        root: Ns,
        existing: dict[str, Link],
        external: d.ExternalSpec,
        bridges: dict[str, Link],
        keep: set[str],
    ) -> None:
        inner = self._ns(self.external_namespace(external), root.changes)
        bridge = bridges[external.bridge]
        leg = d.external_leg(external.bridge)
        keep.add(leg)
        device = links.ensure_veth(
            root,
            existing,
            leg,
            inner,
            links.links(inner),
            d.EXTERNAL_DEVICE,
            mtu=bridge.mtu,
            mac=None,
            bridge=bridge,
        )
        links.sync_addresses(inner, device, {_interface(external.ip_cidr)})
        routes = {str(ipaddress.ip_network(dst, strict=False)): hop for dst, hop in external.routes}
        links.sync_routes(inner, routes)

    # -- dnsmasq, nftables, metadata -----------------------------------------------------

    async def _converge_dhcp(self, network: d.NetworkSpec, changes: list[str]) -> None:
        namespace = self.dhcp_namespace(network.network_id)
        device = d.dhcp_device(network.network_id)
        done = await dhcp.ensure(network, self._state, namespace, device)
        if done is not None:
            changes.append(f"{namespace}: dnsmasq {done}")

    async def _converge_tables(
        self, namespace: str | None, wanted: list[nft.Table], changes: list[str]
    ) -> None:
        present = await self._nl.call(self._tables_in, namespace)
        load, drop = nft.stale(wanted, present)
        if load or drop:
            await nft.load(nft.script(load, drop), namespace)
            for table in load:
                changes.append(f"{namespace or 'root'}: load table {table.family} {table.name}")
            for family, name in drop:
                changes.append(f"{namespace or 'root'}: drop table {family} {name}")

    def _tables_in(self, namespace: str | None) -> dict[tuple[str, str], str]:
        return nft.tables(self._nl.nft_handle(namespace), namespace)

    async def _converge_metadata(self, plan: d.HostPlan, changes: list[str]) -> None:
        if self._metadata is None:
            return
        wanted = {
            n.network_id
            for n in plan.networks
            if n.dhcp and any(subnet.metadata for subnet in n.dhcp)
        }
        for network_id in sorted(self._metadata.serving() - wanted):
            await self._stop_metadata(network_id, changes)
        for network_id in sorted(wanted):
            if await self._metadata.serve(network_id, self.dhcp_namespace(network_id)):
                changes.append(f"serve metadata in {self.dhcp_namespace(network_id)}")

    # -- wired -----------------------------------------------------------------------------

    async def wired(self, plan: d.HostPlan) -> set[str]:
        """The port ids whose datapath is in place: a VM port's tap exists, is a
        port of its network's bridge and (with port security) its filter is
        loaded; a router port's veth joins its bridge and its inner end exists;
        a DHCP port's veth is in place and its dnsmasq runs."""
        wanted = security_groups.tables(plan.ports)
        present = await self._nl.call(self._tables_in, self._root)
        filtered = all(present.get(t.key) == t.fingerprint for t in wanted)
        found = await self._nl.call(self._wired_links, plan)
        for network in plan.networks:
            if network.dhcp_port_id in found and dhcp.served(network):
                folder = dhcp.directory(self._state, network.network_id)
                if await asyncio.to_thread(dhcp.running, folder) is None:
                    found.discard(network.dhcp_port_id)
        return {
            port_id
            for port_id in found
            if filtered or not any(p.port_id == port_id and p.port_security for p in plan.ports)
        }

    def _wired_links(self, plan: d.HostPlan) -> set[str]:
        root = links.links(self._ns(self._root, []))

        def joined(name: str, bridge: str) -> bool:
            link, master = root.get(name), root.get(bridge)
            return link is not None and master is not None and link.master == master.index

        devices: dict[str, set[str]] = {}

        def inside(namespace: str, device: str) -> bool:
            if namespace not in devices:
                try:
                    devices[namespace] = set(links.links(self._ns(namespace, [])))
                except DatapathError:
                    devices[namespace] = set()
            return device in devices[namespace]

        found = {port.port_id for port in plan.ports if joined(port.tap, port.bridge)}
        for router in plan.routers:
            namespace = self.router_namespace(router.router_id)
            ports = [(p, False) for p in router.interfaces]
            ports += [(router.gateway, True)] if router.gateway is not None else []
            for port, gateway in ports:
                device = d.router_device(port.port_id, gateway=gateway)
                if joined(d.router_leg(port.port_id), port.bridge) and inside(namespace, device):
                    found.add(port.port_id)
        for network in plan.networks:
            if network.dhcp_port_id is None or not network.dhcp:
                continue
            namespace = self.dhcp_namespace(network.network_id)
            leg, device = d.dhcp_leg(network.network_id), d.dhcp_device(network.network_id)
            if joined(leg, network.bridge) and inside(namespace, device):
                found.add(network.dhcp_port_id)
        return found
