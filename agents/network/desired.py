"""The desired state of one host's network datapath: pure data, no I/O.

A :class:`HostPlan` says everything the host should have: the bridges of the
networks it carries (with their VXLAN tunnels or physical uplinks and their
DHCP namespaces), the router namespaces it hosts, the filters of the ports
(virtual machine taps) plugged into its bridges, and, on an all-in-one, the
stand-in for the outside world. :meth:`cairn.agents.network.datapath.Datapath.apply`
makes the host match a plan and removes what Cairn owns that the plan no longer
names; whoever builds the plan (from the network read model) never says "add"
or "remove", only "this is how it should be".

Names of devices and namespaces are derived from ids in one place (the helpers
below), so the datapath can tell what it owns by a name's prefix alone, also
after a crash left something half made. Linux caps interface names at 15
characters: every prefix here is at most 4, and ids are cut to 11.

Every value object is frozen and hashable, and compares by value (the ones
without optional fields also sort): two plans
built from the same read model are equal, which is how a re-apply knows that
nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Linux's interface name limit (IFNAMSIZ - 1).
IFNAMSIZ = 15
#: How much of an id goes into an interface name (with a prefix of at most 4).
ID_SLICE = 11

# -- names -------------------------------------------------------------------------------
# Devices in the datapath's root namespace (the host, or the host namespace a
# Datapath was pointed at): the ones Cairn owns carry one of these prefixes.
BRIDGE_PREFIX = "brq"  # a network's bridge (Neutron's linuxbridge name)
VXLAN_PREFIX = "vx-"  # a network's VXLAN device, by VNI
DHCP_LEG_PREFIX = "dh-"  # root end of a DHCP namespace's veth (a bridge port)
ROUTER_LEG_PREFIX = "rt-"  # root end of a router port's veth (a bridge port)
EXTERNAL_LEG_PREFIX = "ex-"  # root end of the external namespace's veth
#: Every root-namespace prefix Cairn owns (``tap`` is not one: libvirt makes taps).
OWNED_LINK_PREFIXES = (
    BRIDGE_PREFIX,
    VXLAN_PREFIX,
    DHCP_LEG_PREFIX,
    ROUTER_LEG_PREFIX,
    EXTERNAL_LEG_PREFIX,
)
# Devices inside Cairn's namespaces.
DHCP_DEVICE_PREFIX = "ns-"  # in qdhcp-: the DHCP/metadata address holder
ROUTER_INTERFACE_PREFIX = "qr-"  # in qrouter-: a leg on a tenant network
ROUTER_GATEWAY_PREFIX = "qg-"  # in qrouter-: the leg on the external network
EXTERNAL_DEVICE = "ex0"  # in the external namespace
# Namespaces (names are file names under /run/netns: no length limit).
DHCP_NAMESPACE_PREFIX = "qdhcp-"
ROUTER_NAMESPACE_PREFIX = "qrouter-"
EXTERNAL_NAMESPACE_PREFIX = "cairn-"
#: nftables tables Cairn owns start with this, in any family and namespace.
NFT_TABLE_PREFIX = "cairn-"
#: The metadata service's address, on every DHCP namespace that serves metadata.
METADATA_IP = "169.254.169.254"


def _slice(object_id: str) -> str:
    return object_id[:ID_SLICE]


def bridge_name(network_id: str) -> str:
    """The bridge of a network: ``brq`` + the first 11 characters of its id."""
    return BRIDGE_PREFIX + _slice(network_id)


def vxlan_name(vni: int) -> str:
    """The VXLAN device of a VNI (24 bits: at most 8 digits, 11 characters)."""
    return f"{VXLAN_PREFIX}{vni}"


def tap_name(port_id: str) -> str:
    """The tap of a VM port, as the compute agent asks libvirt to name it."""
    return "tap" + _slice(port_id)


def dhcp_namespace(network_id: str) -> str:
    """The DHCP (and metadata) namespace of a network."""
    return DHCP_NAMESPACE_PREFIX + network_id


def router_namespace(router_id: str) -> str:
    """The namespace of a router."""
    return ROUTER_NAMESPACE_PREFIX + router_id


def dhcp_leg(network_id: str) -> str:
    """Root end of the DHCP namespace's veth, a port of the network's bridge."""
    return DHCP_LEG_PREFIX + _slice(network_id)


def dhcp_device(network_id: str) -> str:
    """The DHCP namespace's end of its veth (holds the servers' addresses)."""
    return DHCP_DEVICE_PREFIX + _slice(network_id)


def router_leg(port_id: str) -> str:
    """Root end of a router port's veth, a port of that network's bridge."""
    return ROUTER_LEG_PREFIX + _slice(port_id)


def router_device(port_id: str, *, gateway: bool) -> str:
    """The router namespace's end of a router port's veth (``qg-`` on the gateway)."""
    return (ROUTER_GATEWAY_PREFIX if gateway else ROUTER_INTERFACE_PREFIX) + _slice(port_id)


def external_leg(bridge: str) -> str:
    """Root end of the external namespace's veth (named after the bridge it joins)."""
    return EXTERNAL_LEG_PREFIX + bridge.removeprefix(BRIDGE_PREFIX)[:ID_SLICE]


# -- DHCP --------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Lease:
    """A fixed address dnsmasq hands out: only MACs with a lease get an answer."""

    mac: str  #: the port's MAC, lower case, colon separated
    ip: str  #: the port's fixed IP on this subnet
    hostname: str  #: sent as option 12 (``host-10-0-0-5`` when the port has no name)


@dataclass(frozen=True)
class SubnetDhcp:
    """DHCP for one IPv4 subnet of a network (IPv6 subnets are not served yet)."""

    subnet_id: str
    cidr: str  #: ``10.0.0.0/24``
    server_ip: str  #: the DHCP port's address on this subnet (dnsmasq answers from it)
    gateway_ip: str | None  #: option 3, and the default route of option 121; None: no router
    dns_nameservers: tuple[str, ...] = ()  #: option 6; empty: no DNS option
    host_routes: tuple[tuple[str, str], ...] = ()  #: (destination cidr, nexthop), option 121
    mtu: int = 1500  #: option 26
    leases: tuple[Lease, ...] = ()
    #: route 169.254.169.254/32 via ``server_ip`` (option 121) and answer metadata there
    metadata: bool = False
    lease_seconds: int = 86400


# -- networks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VxlanSpec:
    """A VXLAN tunnel stretching the network's bridge to other hosts.

    Unicast head-end replication: broadcast and unknown unicast go to every
    remote (an all-zero FDB entry per remote); the bridge learns the rest."""

    vni: int
    local_ip: str  #: this host's underlay address (the tunnel's source)
    remotes: tuple[str, ...]  #: the underlay addresses of the other hosts on this network
    underlay: str | None = None  #: the underlay device; None: the kernel routes to remotes
    port: int = 4789  #: IANA's VXLAN port (Linux defaults to 8472 otherwise)


@dataclass(frozen=True)
class NetworkSpec:
    """One network on this host: a bridge, its uplink, and its DHCP namespace.

    The DHCP namespace (``qdhcp-<network id>``) exists when ``dhcp`` is not
    empty: one veth into the bridge holding one address per subnet (plus
    169.254.169.254/32 when a subnet serves metadata), one dnsmasq serving all
    the network's subnets."""

    network_id: str
    mtu: int = 1500  #: of the bridge's ports (taps, VXLAN, DHCP and router legs)
    dhcp: tuple[SubnetDhcp, ...] = ()
    dhcp_mac: str | None = None  #: the DHCP port's MAC; None: the kernel picks one
    #: the DHCP port's id: :meth:`Datapath.wired` reports it when DHCP is in place
    dhcp_port_id: str | None = None
    vxlan: VxlanSpec | None = None  #: a tunnelled (``vxlan``) network
    physical_interface: str | None = None  #: a flat network's uplink, enslaved to the bridge
    bridge: str = ""  #: derived from ``network_id`` (:func:`bridge_name`); leave it empty

    def __post_init__(self) -> None:
        if not self.bridge:
            object.__setattr__(self, "bridge", bridge_name(self.network_id))


# -- routers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RouterPort:
    """A router's leg on a network: a veth from the router namespace into a bridge."""

    port_id: str
    bridge: str  #: the bridge of the network the port is on
    ip_cidr: str  #: the router's address with the subnet's prefix: ``10.0.0.1/24``
    mac: str
    mtu: int = 1500


@dataclass(frozen=True, order=True)
class FloatingIP:
    """A floating IP: DNAT ``floating_ip`` -> ``fixed_ip``, SNAT back the other way."""

    floating_ip: str
    fixed_ip: str


@dataclass(frozen=True, order=True)
class PortForward:
    """A port forwarding on a floating IP (DNAT of one port to one fixed IP's port)."""

    floating_ip: str
    protocol: str  #: ``tcp`` or ``udp``
    external_port: int
    internal_ip: str
    internal_port: int


@dataclass(frozen=True)
class RouterSpec:
    """A router: namespace ``qrouter-<id>`` with IP forwarding and ``table ip cairn-nat``.

    With ``snat``, every interface's subnet is masqueraded to the gateway's
    address; each floating IP is added as /32 on the gateway leg with a
    DNAT/SNAT pair; port forwardings are DNAT rules. Traffic that comes in on
    the gateway is forwarded inward only when it was DNATed (or is a reply):
    fixed IPs stay unreachable from outside."""

    router_id: str
    gateway: RouterPort | None = None
    gateway_nexthop: str | None = None  #: the default route's nexthop (the external gateway)
    interfaces: tuple[RouterPort, ...] = ()
    snat: bool = True
    floating_ips: tuple[FloatingIP, ...] = ()
    port_forwardings: tuple[PortForward, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()  #: extra routes: (destination cidr, nexthop)
    #: IP forwarding between the legs; off for an administratively down router,
    #: which keeps its legs (Neutron reports its ports) but moves no packet
    forwarding: bool = True


# -- security groups ---------------------------------------------------------------------


@dataclass(frozen=True)
class SecurityRule:
    """One security group rule, as Neutron has it (remote group already resolved)."""

    direction: str  #: ``ingress`` (to the port) or ``egress`` (from it)
    ethertype: str = "IPv4"  #: ``IPv4`` or ``IPv6``
    protocol: str | None = None  #: tcp, udp, icmp, icmpv6, or a protocol number as text
    port_min: int | None = None  #: tcp/udp: first port; icmp: the type
    port_max: int | None = None  #: tcp/udp: last port; icmp: the code
    remote_ip_prefix: str | None = None
    #: a remote group resolved to its members' addresses; None: no remote group
    remote_ips: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PortFilter:
    """A VM port on this host: its tap, and what it may send and receive.

    Without ``port_security`` the port gets no filter at all (everything
    passes). With it, the guest may only send from its MAC and fixed IPs (and
    allowed address pairs), answer ARP only for those, ask DHCP but never
    answer it; then its egress rules apply, and to it only replies and what its
    ingress rules allow."""

    port_id: str
    bridge: str  #: its network's bridge
    mac: str
    fixed_ips: tuple[str, ...] = ()
    allowed_pairs: tuple[tuple[str, str], ...] = ()  #: (ip or cidr, mac)
    port_security: bool = True
    rules: tuple[SecurityRule, ...] = ()
    tap: str = ""  #: derived from ``port_id`` (:func:`tap_name`); leave it empty

    def __post_init__(self) -> None:
        if not self.tap:
            object.__setattr__(self, "tap", tap_name(self.port_id))


# -- the outside world of an all-in-one ------------------------------------------------


@dataclass(frozen=True)
class ExternalSpec:
    """The all-in-one's stand-in for the outside world: a namespace with a veth
    into the external network's bridge, so floating IPs are reachable from there
    and nothing leaves the machine."""

    bridge: str  #: the external network's bridge
    ip_cidr: str  #: ``172.24.4.1/24``: the "upstream gateway" routers point at
    namespace: str = "cairn-public"  #: must start with ``cairn-`` (how ownership is known)
    #: routes the outside world has toward the cloud: (destination cidr, nexthop)
    routes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HostPlan:
    """Everything one host's datapath should be; see the module docstring."""

    networks: tuple[NetworkSpec, ...] = ()
    routers: tuple[RouterSpec, ...] = ()
    ports: tuple[PortFilter, ...] = ()
    external: ExternalSpec | None = None

    def problems(self) -> list[str]:
        """What makes this plan impossible to apply (empty when it is fine)."""
        found = []
        bridges = {network.bridge for network in self.networks}
        if len(bridges) != len(self.networks):
            found.append("two networks share a bridge name (their ids' first 11 characters)")
        legs = [(port.bridge, f"router port {port.port_id}") for port in _router_ports(self)]
        legs += [(port.bridge, f"port {port.port_id}") for port in self.ports]
        if self.external is not None:
            legs.append((self.external.bridge, f"external namespace {self.external.namespace}"))
            if not self.external.namespace.startswith(EXTERNAL_NAMESPACE_PREFIX):
                found.append(f"external namespace {self.external.namespace!r} lacks 'cairn-'")
        found += [
            f"{what} is on bridge {b!r}, which no network has"
            for b, what in legs
            if b not in bridges
        ]
        taps = [port.tap for port in self.ports]
        if len(set(taps)) != len(taps):
            found.append("two ports share a tap name (their ids' first 11 characters)")
        vnis = [n.vxlan.vni for n in self.networks if n.vxlan is not None]
        if len(set(vnis)) != len(vnis):
            found.append("two networks share a VNI")
        return found


def _router_ports(plan: HostPlan) -> list[RouterPort]:
    ports = []
    for router in plan.routers:
        ports += list(router.interfaces)
        if router.gateway is not None:
            ports.append(router.gateway)
    return ports
