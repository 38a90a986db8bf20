"""VXLAN between two hosts: each a namespace with its own Datapath, one underlay
link between them; a guest on each host, one DHCP server for both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cairn.agents.network.desired import (
    HostPlan,
    Lease,
    NetworkSpec,
    PortFilter,
    SecurityRule,
    SubnetDhcp,
    VxlanSpec,
)

from .conftest import Host, close_host, open_host
from .lab import Lab, check

NETWORK = str(uuid.uuid4())
MACS = ("fa:16:3e:00:00:05", "fa:16:3e:00:00:06")


@pytest.fixture
async def hosts(lab: Lab, tmp_path: Path) -> AsyncIterator[tuple[Host, Host]]:
    one = await open_host(lab, tmp_path, "h1")
    two = await open_host(lab, tmp_path, "h2")
    try:
        await check(
            one.namespace, "ip", "link", "add", "fabric0", "type", "veth",
            "peer", "name", "fabric0", "netns", f"/run/netns/{two.namespace}",
        )  # fmt: skip
        for host, ip in ((one, "192.0.2.1/24"), (two, "192.0.2.2/24")):
            await check(host.namespace, "ip", "addr", "add", ip, "dev", "fabric0")
            await check(host.namespace, "ip", "link", "set", "fabric0", "up")
        yield one, two
    finally:
        await close_host(lab, two)
        await close_host(lab, one)


def plan(local: str, remote: str, *, dhcp: bool) -> HostPlan:
    subnet = SubnetDhcp(
        "8c3f1d38-0000-4000-8000-000000000001", "10.0.0.0/24", "10.0.0.2", "10.0.0.1",
        mtu=1450, leases=tuple(Lease(m, f"10.0.0.{5 + i}", f"vm{i}") for i, m in enumerate(MACS)),
    )  # fmt: skip
    net = NetworkSpec(
        NETWORK,
        mtu=1450,
        dhcp=(subnet,) if dhcp else (),
        vxlan=VxlanSpec(4242, local, (remote,), underlay="fabric0"),
    )
    ports = tuple(
        PortFilter(
            f"{i}0000000-0000-4000-8000-000000000000",
            net.bridge,
            mac,
            (f"10.0.0.{5 + i}",),
            rules=(SecurityRule("egress"), SecurityRule("ingress", protocol="icmp")),
        )
        for i, mac in enumerate(MACS)
    )
    return HostPlan(networks=(net,), ports=ports)


async def test_guests_on_two_hosts_share_a_network_and_its_dhcp(
    hosts: tuple[Host, Host], lab: Lab, tmp_path: Path
) -> None:
    one, two = hosts
    plan_one = plan("192.0.2.1", "192.0.2.2", dhcp=True)
    plan_two = plan("192.0.2.2", "192.0.2.1", dhcp=False)
    await one.datapath.apply(plan_one)
    await two.datapath.apply(plan_two)
    port_a, port_b = plan_one.ports
    bridge = plan_one.networks[0].bridge
    a = await lab.guest(
        one.namespace, "ga", tap=port_a.tap, mac=port_a.mac, bridge=bridge, mtu=1450
    )
    b = await lab.guest(
        two.namespace, "gb", tap=port_b.tap, mac=port_b.mac, bridge=bridge, mtu=1450
    )

    lease = await b.udhcpc(tmp_path)  # across the tunnel, from host one's dnsmasq
    assert lease is not None
    assert lease["ip"] == "10.0.0.6"
    await check(b.namespace, "ip", "addr", "add", "10.0.0.6/24", "dev", "eth0")
    await check(a.namespace, "ip", "addr", "add", "10.0.0.5/24", "dev", "eth0")
    assert await a.sees("10.0.0.6")
    assert await b.sees("10.0.0.5")

    fdb = await check(two.namespace, "bridge", "fdb", "show", "dev", "vx-4242")
    assert "00:00:00:00:00:00 dst 192.0.2.1" in fdb
    await two.datapath.apply(plan_two)
    assert two.datapath.changes == []
