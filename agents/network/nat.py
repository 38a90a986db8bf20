"""A router's NAT as one nftables table, ``table ip cairn-nat`` in its namespace.

* ``prerouting`` (dstnat): port forwardings first (a forwarded port wins over a
  floating IP on the same address), then each floating IP to its fixed IP.
* ``postrouting`` (srcnat), only out of the gateway leg: each fixed IP with a
  floating IP leaves as its floating IP; with ``snat``, the rest of every
  interface's subnet leaves as the gateway's address.
* ``forward``: what comes in on the gateway leg goes inward only when it is a
  reply or was DNATed, so a fixed IP stays unreachable from outside even for a
  neighbour that routes the tenant's subnet to the router.

Without a gateway a router only routes between its interfaces: no table.
"""

from __future__ import annotations

import ipaddress

from cairn.agents.network.desired import RouterSpec, router_device
from cairn.agents.network.errors import InvalidPlan
from cairn.agents.network.nft import Table, anonymous_set

TABLE = "cairn-nat"


def floating_addresses(router: RouterSpec) -> list[str]:
    """The addresses the gateway leg holds as /32 (floating IPs and port forwards')."""
    found = {f.floating_ip for f in router.floating_ips}
    found |= {p.floating_ip for p in router.port_forwardings}
    return sorted(found, key=ipaddress.ip_address)


def tables(router: RouterSpec) -> list[Table]:
    gateway = router.gateway
    if gateway is None:
        return []
    qg = router_device(gateway.port_id, gateway=True)
    gateway_ip = gateway.ip_cidr.partition("/")[0]
    pre = ["chain prerouting {", "type nat hook prerouting priority dstnat; policy accept;"]
    for forward in router.port_forwardings:
        if forward.protocol not in ("tcp", "udp"):
            raise InvalidPlan(
                f"router {router.router_id}: port forwarding over {forward.protocol!r}"
            )
        pre.append(
            f"ip daddr {forward.floating_ip} {forward.protocol} dport {forward.external_port} "
            f"dnat to {forward.internal_ip}:{forward.internal_port}"
        )
    pre += [f"ip daddr {f.floating_ip} dnat to {f.fixed_ip}" for f in router.floating_ips]
    pre.append("}")
    post = ["chain postrouting {", "type nat hook postrouting priority srcnat; policy accept;"]
    post += [
        f'oifname "{qg}" ip saddr {f.fixed_ip} snat to {f.floating_ip}' for f in router.floating_ips
    ]
    subnets = sorted(
        {str(ipaddress.ip_interface(i.ip_cidr).network) for i in router.interfaces},
    )
    if router.snat and subnets:
        post.append(f'oifname "{qg}" ip saddr {anonymous_set(subnets)} snat to {gateway_ip}')
    post.append("}")
    forward_chain = [
        "chain forward {",
        "type filter hook forward priority filter; policy accept;",
        f'iifname "{qg}" ct state established,related accept',
        f'iifname "{qg}" ct status dnat accept',
        f'iifname "{qg}" drop',
        "}",
    ]
    return [Table("ip", TABLE, "\n".join(pre + post + forward_chain))]
