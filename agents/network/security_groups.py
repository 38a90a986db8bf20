"""Security groups as nftables tables: anti-spoofing on the bridge, rules with conntrack.

Two tables in the datapath's root namespace, loaded together in one transaction:

``table bridge cairn-sg`` (hook ``forward``, priority -200) sees every frame a
bridge forwards, with the ports it comes from and goes to (``iifname`` and
``oifname`` are the taps). For each filtered port it lets the guest send only
from its MAC and addresses (fixed IPs and allowed address pairs, checked as
``ip saddr . ether saddr`` pairs), send ARP only for them, ask DHCP (from
0.0.0.0 too) but never answer it, and never send IPv6 router advertisements.
It also marks the packet: the low 16 bits of the packet mark number the port
it comes from, the high 16 bits the port it goes to (0: not a filtered port).

``table inet cairn-sg`` does the rules. Stateful filtering needs conntrack, and
conntrack in the ``bridge`` family needs ``nf_conntrack_bridge``, which this
kernel (and many others) lacks: its ``ct`` expressions fail with EPROTO. The
bridge's netfilter hand-off (``br_nf_call_iptables``, set on each Cairn
bridge) instead runs bridged IP packets through the IP hooks, where conntrack
works on every kernel; but there the devices are the bridges, not the taps,
hence the marks. Its ``forward`` chain accepts replies (``ct state
established,related``), then jumps by mark to the sending port's egress chain
(its rules ``return``, anything else is dropped) and to the receiving port's
ingress chain (DHCP replies and IPv6 neighbour discovery always pass, then its
rules; anything else is dropped). Connections are tracked in a conntrack zone
per bridge (set in ``prerouting`` by the bridge a packet arrives on), so two
networks with the same addresses do not mix their connections.

Taps are named in the rules, not looked up: a tap libvirt creates after the
rules were loaded is filtered from its first frame, without a re-apply. A port
without port security gets no chains at all.

Rules match what Neutron's rules mean: ``protocol`` None is any protocol;
``port_min``/``port_max`` are a port range for tcp/udp (and sctp), the ICMP
type and code for icmp/icmpv6; a remote group's resolved addresses are a set
(an empty one matches nothing, so the rule is left out).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence

from cairn.agents.network.desired import PortFilter, SecurityRule
from cairn.agents.network.errors import InvalidPlan
from cairn.agents.network.nft import Table, anonymous_set

TABLE = "cairn-sg"
_PROTOCOLS = {
    "tcp": "tcp",
    "udp": "udp",
    "sctp": "sctp",
    "icmp": "icmp",
    "icmpv6": "ipv6-icmp",
    "ipv6-icmp": "ipv6-icmp",
    "gre": "gre",
    "esp": "esp",
    "ah": "ah",
}
_NUMBERS = {"6": "tcp", "17": "udp", "132": "sctp", "1": "icmp", "58": "ipv6-icmp"}
_WITH_PORTS = {"tcp", "udp", "sctp"}
_ND_TYPES = "{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, mld-listener-query }"


def zone(bridge: str) -> int:
    """A bridge's conntrack zone: stable across applies (a hash of its name)."""
    return int(hashlib.sha256(bridge.encode()).hexdigest()[:4], 16) % 65535 + 1


def tables(ports: Sequence[PortFilter]) -> list[Table]:
    """The two tables for the filtered ports (none when no port is filtered)."""
    filtered = sorted((p for p in ports if p.port_security), key=lambda p: p.tap)
    if not filtered:
        return []
    if len(filtered) >= 0xFFFF:
        raise InvalidPlan("more than 65534 filtered ports on one host")
    numbered = list(enumerate(filtered, start=1))
    return [
        Table("bridge", TABLE, _bridge_body(numbered)),
        Table("inet", TABLE, _inet_body(numbered)),
    ]


# -- layer 2: who the guest may claim to be ----------------------------------------------


def _bridge_body(numbered: list[tuple[int, PortFilter]]) -> str:
    lines = [
        "chain forward {",
        "type filter hook forward priority -200; policy accept;",
        "iifname vmap { " + ", ".join(f'"{p.tap}" : jump from-{n}' for n, p in numbered) + " }",
        "oifname vmap { " + ", ".join(f'"{p.tap}" : jump to-{n}' for n, p in numbered) + " }",
        "}",
    ]
    for n, port in numbered:
        lines += _from_port(n, port)
        lines += [f"chain to-{n} {{", f"meta mark set meta mark | 0x{n << 16:08x}", "}"]
    return "\n".join(lines)


def _from_port(n: int, port: PortFilter) -> list[str]:
    mac = port.mac.lower()
    v4: list[str] = []
    v6 = [f"fe80::/10 . {mac}", f":: . {mac}"]  # link-local, and duplicate address detection
    for ip in port.fixed_ips:
        (v4 if ipaddress.ip_address(ip).version == 4 else v6).append(f"{ip} . {mac}")
    macs = {mac}
    for address, pair_mac in port.allowed_pairs:
        pair_mac = (pair_mac or mac).lower()
        macs.add(pair_mac)
        version = ipaddress.ip_network(address, strict=False).version
        (v4 if version == 4 else v6).append(f"{address} . {pair_mac}")
        if version == 6:
            v6.append(f"fe80::/10 . {pair_mac}")
    arp = [f"0.0.0.0 . {mac}", *v4]  # 0.0.0.0: ARP probes before an address is taken
    lines = [
        f"chain from-{n} {{",
        f"meta mark set 0x{n:08x}",
        f"ether saddr != {anonymous_set(sorted(macs))} drop",
        f"ether type arp arp saddr ip . arp saddr ether != {{ {', '.join(arp)} }} drop",
        "ether type ip udp sport 67 udp dport 68 drop",  # a guest answering DHCP
        "ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 return",  # asking it
    ]
    if v4:
        lines.append(f"ether type ip ip saddr . ether saddr != {{ {', '.join(v4)} }} drop")
    else:
        lines.append("ether type ip drop")
    lines += [
        "ether type ip6 icmpv6 type nd-router-advert drop",
        "ether type ip6 udp sport 547 udp dport 546 drop",  # a guest answering DHCPv6
        f"ether type ip6 ip6 saddr . ether saddr != {{ {', '.join(sorted(set(v6)))} }} drop",
        "ether type != { ip, ip6, arp } drop",
        "}",
    ]
    return lines


# -- layer 3/4: the rules, with conntrack ------------------------------------------------


def _inet_body(numbered: list[tuple[int, PortFilter]]) -> str:
    bridges = sorted({p.bridge for _, p in numbered})
    lines = ["chain prerouting {", "type filter hook prerouting priority raw; policy accept;"]
    lines += [f'iifname "{b}" ct zone set {zone(b)}' for b in bridges]
    lines += [
        "}",
        "chain forward {",
        "type filter hook forward priority filter; policy accept;",
        "meta mark 0 accept",
        "ct state established,related accept",
        "ct state invalid drop",
        "meta mark & 0x0000ffff vmap { "
        + ", ".join(f"0x{n:08x} : jump egress-{n}" for n, _ in numbered)
        + " }",
        "meta mark & 0xffff0000 vmap { "
        + ", ".join(f"0x{n << 16:08x} : jump ingress-{n}" for n, _ in numbered)
        + " }",
        "}",
    ]
    for n, port in numbered:
        egress = [r for r in port.rules if r.direction == "egress"]
        ingress = [r for r in port.rules if r.direction == "ingress"]
        lines += [f"chain egress-{n} {{", "udp sport 68 udp dport 67 return"]
        lines += [f"{match} return" for r in egress if (match := rule_match(r)) is not None]
        lines += ["drop", "}"]
        lines += [
            f"chain ingress-{n} {{",
            "udp sport 67 udp dport 68 accept",
            f"icmpv6 type {_ND_TYPES} accept",
        ]
        lines += [f"{match} accept" for r in ingress if (match := rule_match(r)) is not None]
        lines += ["drop", "}"]
    return "\n".join(lines)


def rule_match(rule: SecurityRule) -> str | None:
    """The nft match of one rule (None: it can match nothing, leave it out)."""
    if rule.direction not in ("ingress", "egress"):
        raise InvalidPlan(f"a security group rule's direction is {rule.direction!r}")
    if rule.ethertype not in ("IPv4", "IPv6"):
        raise InvalidPlan(f"a security group rule's ethertype is {rule.ethertype!r}")
    version = 4 if rule.ethertype == "IPv4" else 6
    family = "ip" if version == 4 else "ip6"
    parts = [f"meta nfproto ipv{version}"]
    side = "saddr" if rule.direction == "ingress" else "daddr"
    if rule.remote_ip_prefix is not None:
        network = ipaddress.ip_network(rule.remote_ip_prefix, strict=False)
        if network.version != version:
            return None
        if network.prefixlen:
            parts.append(f"{family} {side} {network}")
    if rule.remote_ips is not None:
        members = sorted(
            {ip for ip in rule.remote_ips if ipaddress.ip_address(ip).version == version}
        )
        if not members:
            return None
        parts.append(f"{family} {side} {anonymous_set(members)}")
    protocol = _protocol(rule.protocol)
    if protocol is not None:
        parts.append(f"meta l4proto {protocol}")
        if protocol in _WITH_PORTS and (rule.port_min is not None or rule.port_max is not None):
            low = rule.port_min if rule.port_min is not None else 1
            high = rule.port_max if rule.port_max is not None else 65535
            parts.append(f"th dport {low}" if low == high else f"th dport {low}-{high}")
        elif protocol in ("icmp", "ipv6-icmp") and rule.port_min is not None:
            keyword = "icmp" if protocol == "icmp" else "icmpv6"
            parts.append(f"{keyword} type {rule.port_min}")
            if rule.port_max is not None:
                parts.append(f"{keyword} code {rule.port_max}")
    return " ".join(parts)


def _protocol(protocol: str | None) -> str | None:
    if protocol is None or protocol.lower() in ("", "any", "0"):
        return None
    name = protocol.lower()
    if name in _PROTOCOLS:
        return _PROTOCOLS[name]
    if name.isdigit() and 0 < int(name) < 256:
        return _NUMBERS.get(name, name)
    raise InvalidPlan(f"a security group rule's protocol is {protocol!r}")
