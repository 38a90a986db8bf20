"""A router between two networks and the outside world: routing, SNAT, floating
IPs and a port forwarding, with guests and an external namespace exchanging packets."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

import pytest

from cairn.agents.network.desired import (
    ExternalSpec,
    FloatingIP,
    HostPlan,
    NetworkSpec,
    PortFilter,
    PortForward,
    RouterPort,
    RouterSpec,
    SecurityRule,
)

from .conftest import Host
from .lab import Guest, Lab, connect, listening

RULES = (
    SecurityRule("egress"),
    SecurityRule("ingress", protocol="icmp"),
    SecurityRule("ingress", protocol="tcp", port_min=2222, port_max=2222),
)


@dataclass
class Topology:
    plan: HostPlan
    a: Guest  # 10.0.0.5 on net A, floating IP 172.24.4.10
    b: Guest  # 10.1.0.5 on net B, no floating IP, port 2222 forwarded from 172.24.4.11:8022
    outside: str  # the external namespace (172.24.4.1)


def _port(net: NetworkSpec, mac: str, ip: str) -> PortFilter:
    return PortFilter(str(uuid.uuid4()), net.bridge, mac, fixed_ips=(ip,), rules=RULES)


@pytest.fixture
async def topology(host: Host, lab: Lab) -> Topology:
    net_a, net_b, public = (NetworkSpec(str(uuid.uuid4())) for _ in range(3))
    a = _port(net_a, "fa:16:3e:00:0a:05", "10.0.0.5")
    b = _port(net_b, "fa:16:3e:00:0b:05", "10.1.0.5")
    router = RouterSpec(
        router_id=str(uuid.uuid4()),
        gateway=RouterPort(str(uuid.uuid4()), public.bridge, "172.24.4.2/24", "fa:16:3e:00:ff:02"),
        gateway_nexthop="172.24.4.1",
        interfaces=(
            RouterPort(str(uuid.uuid4()), net_a.bridge, "10.0.0.1/24", "fa:16:3e:00:0a:01"),
            RouterPort(str(uuid.uuid4()), net_b.bridge, "10.1.0.1/24", "fa:16:3e:00:0b:01"),
        ),
        snat=True,
        floating_ips=(FloatingIP("172.24.4.10", "10.0.0.5"),),
        port_forwardings=(PortForward("172.24.4.11", "tcp", 8022, "10.1.0.5", 2222),),
    )
    # The outside world knows a route to net A through the router: it still must
    # not get in, except through the floating IP.
    external = ExternalSpec(public.bridge, "172.24.4.1/24", routes=(("10.0.0.0/24", "172.24.4.2"),))
    plan = HostPlan(
        networks=(net_a, net_b, public), routers=(router,), ports=(a, b), external=external
    )
    await host.datapath.apply(plan)
    ga = await lab.guest(
        host.namespace, "ga", tap=a.tap, mac=a.mac, bridge=net_a.bridge,
        address="10.0.0.5/24", gateway="10.0.0.1",
    )  # fmt: skip
    gb = await lab.guest(
        host.namespace, "gb", tap=b.tap, mac=b.mac, bridge=net_b.bridge,
        address="10.1.0.5/24", gateway="10.1.0.1",
    )  # fmt: skip
    return Topology(plan, ga, gb, host.datapath.external_namespace(external))


async def test_a_guest_on_one_network_reaches_a_guest_on_the_other(topology: Topology) -> None:
    assert await topology.a.sees("10.1.0.5")
    assert await topology.b.sees("10.0.0.5")


async def test_guests_reach_the_outside_as_the_gateway_or_their_floating_ip(
    topology: Topology,
) -> None:
    assert await topology.b.sees("172.24.4.1")
    async with listening(topology.outside, 7000) as peers:
        assert await connect(topology.b.namespace, "172.24.4.1", 7000) == b"hello\n"
        assert await connect(topology.a.namespace, "172.24.4.1", 7000) == b"hello\n"
    assert peers == ["172.24.4.2", "172.24.4.10"]  # SNAT to the gateway; the floating IP


async def test_the_outside_reaches_a_floating_ip_and_never_a_fixed_ip(
    topology: Topology, lab: Lab
) -> None:
    from .lab import sh

    async def ping(ip: str) -> bool:
        for _ in range(2):
            if (await sh(topology.outside, "busybox", "ping", "-c", "1", "-W", "1", ip)).rc == 0:
                return True
        return False

    assert await ping("172.24.4.10")
    assert not await ping("10.0.0.5")
    async with listening(topology.a.namespace, 2222) as peers:
        assert await connect(topology.outside, "172.24.4.10", 2222) == b"hello\n"
        assert await connect(topology.outside, "10.0.0.5", 2222, timeout=1) is None
    assert peers == ["172.24.4.1"]


async def test_a_port_forwarding_reaches_the_internal_port(topology: Topology) -> None:
    async with listening(topology.b.namespace, 2222) as peers:
        assert await connect(topology.outside, "172.24.4.11", 8022) == b"hello\n"
        assert await connect(topology.outside, "172.24.4.11", 8023, timeout=1) is None
    assert peers == ["172.24.4.1"]


async def test_an_administratively_down_router_forwards_nothing(
    host: Host, topology: Topology
) -> None:
    assert await topology.a.sees("10.1.0.5")
    (router,) = topology.plan.routers
    down = dataclasses.replace(router, forwarding=False)
    await host.datapath.apply(dataclasses.replace(topology.plan, routers=(down,)))
    assert not await topology.a.sees("10.1.0.5")
    assert await topology.a.sees("10.0.0.1")  # its leg on net A is still there
    await host.datapath.apply(topology.plan)
    assert await topology.a.sees("10.1.0.5")
