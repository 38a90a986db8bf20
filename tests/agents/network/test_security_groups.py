"""Security groups on a real bridge: two guests, pings, and a spoofed source."""

from __future__ import annotations

import uuid

from cairn.agents.network.desired import HostPlan, NetworkSpec, PortFilter, SecurityRule

from .conftest import Host
from .lab import Guest, Lab, check, plug

EGRESS_ALL = SecurityRule("egress")
ICMP_IN = SecurityRule("ingress", protocol="icmp")


def port(
    net: NetworkSpec, mac: str, ip: str, *rules: SecurityRule, secure: bool = True
) -> PortFilter:
    return PortFilter(
        port_id=str(uuid.uuid4()),
        bridge=net.bridge,
        mac=mac,
        fixed_ips=(ip,),
        port_security=secure,
        rules=rules,
    )


async def two_guests(lab: Lab, host: Host, a: PortFilter, b: PortFilter) -> tuple[Guest, Guest]:
    ga = await lab.guest(
        host.namespace, "ga", tap=a.tap, mac=a.mac, bridge=a.bridge, address=f"{a.fixed_ips[0]}/24"
    )
    gb = await lab.guest(
        host.namespace, "gb", tap=b.tap, mac=b.mac, bridge=b.bridge, address=f"{b.fixed_ips[0]}/24"
    )
    return ga, gb


async def test_rules_decide_who_pings_whom_and_replies_pass_by_conntrack(
    host: Host, lab: Lab
) -> None:
    net = NetworkSpec(network_id=str(uuid.uuid4()))
    a = port(net, "fa:16:3e:00:00:0a", "10.0.0.10", EGRESS_ALL)  # no ingress rule at all
    b = port(net, "fa:16:3e:00:00:0b", "10.0.0.11", EGRESS_ALL, ICMP_IN)
    plan = HostPlan(networks=(net,), ports=(a, b))
    await host.datapath.apply(plan)
    ga, gb = await two_guests(lab, host, a, b)

    assert await ga.sees("10.0.0.11")  # b lets ICMP in; the reply to a is a tracked reply
    assert not await gb.ping("10.0.0.10")  # a lets nothing in

    without_icmp = PortFilter(**{**b.__dict__, "rules": (EGRESS_ALL,)})
    await host.datapath.apply(HostPlan(networks=(net,), ports=(a, without_icmp)))
    assert not await ga.ping("10.0.0.11")

    await host.datapath.apply(plan)
    assert await ga.sees("10.0.0.11")


async def test_port_security_drops_a_spoofed_source_and_its_absence_lets_it_through(
    host: Host, lab: Lab
) -> None:
    net = NetworkSpec(network_id=str(uuid.uuid4()))
    a = port(net, "fa:16:3e:00:00:0a", "10.0.0.10", EGRESS_ALL)
    b = port(net, "fa:16:3e:00:00:0b", "10.0.0.11", EGRESS_ALL, ICMP_IN)
    await host.datapath.apply(HostPlan(networks=(net,), ports=(a, b)))
    ga, _ = await two_guests(lab, host, a, b)
    await check(ga.namespace, "ip", "addr", "add", "10.0.0.66/24", "dev", "eth0")

    assert await ga.sees("10.0.0.11")
    spoofed = ("busybox", "ping", "-c", "1", "-W", "1", "-I", "10.0.0.66", "10.0.0.11")
    assert (await _sh(ga, *spoofed)) != 0

    open_a = PortFilter(**{**a.__dict__, "port_security": False, "rules": ()})
    await host.datapath.apply(HostPlan(networks=(net,), ports=(open_a, b)))
    assert await _retry(ga, *spoofed)


async def test_a_tap_that_appears_later_is_filtered_without_a_reapply(host: Host, lab: Lab) -> None:
    net = NetworkSpec(network_id=str(uuid.uuid4()))
    a = port(net, "fa:16:3e:00:00:0a", "10.0.0.10", EGRESS_ALL)
    b = port(net, "fa:16:3e:00:00:0b", "10.0.0.11", EGRESS_ALL)  # lets nothing in
    plan = HostPlan(networks=(net,), ports=(a, b))
    await host.datapath.apply(plan)
    assert await host.datapath.wired(plan) == set()

    ga = await lab.guest(
        host.namespace, "ga", tap=a.tap, mac=a.mac, bridge=None, address="10.0.0.10/24"
    )
    gb = await lab.guest(
        host.namespace, "gb", tap=b.tap, mac=b.mac, bridge=None, address="10.0.0.11/24"
    )
    assert await host.datapath.wired(plan) == set()  # taps exist, not yet in the bridge
    await plug(host.namespace, a.tap, net.bridge)
    await plug(host.namespace, b.tap, net.bridge)

    assert await host.datapath.wired(plan) == {a.port_id, b.port_id}
    assert not await ga.ping("10.0.0.11")
    assert not await gb.ping("10.0.0.10")
    assert host.datapath.changes  # (the first apply's; wired changes nothing)


async def _sh(guest: Guest, *argv: str) -> int:
    from .lab import sh

    return (await sh(guest.namespace, *argv)).rc


async def _retry(guest: Guest, *argv: str) -> bool:
    for _ in range(3):
        if await _sh(guest, *argv) == 0:
            return True
    return False
