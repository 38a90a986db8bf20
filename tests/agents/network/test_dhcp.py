"""DHCP on a real bridge: busybox's udhcpc in a guest namespace asks dnsmasq."""

from __future__ import annotations

import uuid
from pathlib import Path

from cairn.agents.network.desired import HostPlan, Lease, NetworkSpec, SubnetDhcp, tap_name

from .conftest import Host
from .lab import Lab, dnsmasq_under

MAC = "fa:16:3e:00:00:05"
STRANGER = "fa:16:3e:00:00:99"


def network(*leases: Lease, metadata: bool = True) -> NetworkSpec:
    return NetworkSpec(
        network_id=str(uuid.uuid4()),
        mtu=1450,
        dhcp_mac="fa:16:3e:00:00:02",
        dhcp=(
            SubnetDhcp(
                subnet_id=str(uuid.uuid4()),
                cidr="10.0.0.0/24",
                server_ip="10.0.0.2",
                gateway_ip="10.0.0.1",
                dns_nameservers=("10.0.0.53", "10.0.0.54"),
                host_routes=(("192.168.50.0/24", "10.0.0.250"),),
                mtu=1450,
                leases=leases,
                metadata=metadata,
                lease_seconds=3600,
            ),
        ),
    )


async def test_a_known_mac_gets_its_lease_and_options_and_a_stranger_nothing(
    host: Host, lab: Lab, tmp_path: Path
) -> None:
    net = network(Lease(MAC, "10.0.0.5", "vm-one"))
    await host.datapath.apply(HostPlan(networks=(net,)))

    port = str(uuid.uuid4())
    guest = await lab.guest(host.namespace, "g1", tap=tap_name(port), mac=MAC, bridge=net.bridge)
    env = await guest.udhcpc(tmp_path)

    assert env is not None
    assert env["ip"] == "10.0.0.5"
    assert env["subnet"] == "255.255.255.0"
    assert env["router"] == "10.0.0.1"
    assert env["dns"].split() == ["10.0.0.53", "10.0.0.54"]
    assert env["mtu"] == "1450"
    assert env["lease"] == "3600"
    assert env["hostname"] == "vm-one"
    # option 121: host routes, metadata via the DHCP server, and the default route
    assert env["staticroutes"].split() == [
        "192.168.50.0/24", "10.0.0.250",
        "169.254.169.254/32", "10.0.0.2",
        "0.0.0.0/0", "10.0.0.1",
    ]  # fmt: skip

    other = str(uuid.uuid4())
    stranger = await lab.guest(
        host.namespace, "g2", tap=tap_name(other), mac=STRANGER, bridge=net.bridge
    )
    assert await stranger.udhcpc(tmp_path, tries=2) is None


async def test_a_change_of_leases_reloads_only_that_networks_dnsmasq(
    host: Host, lab: Lab, tmp_path: Path
) -> None:
    one, two = network(Lease(MAC, "10.0.0.5", "a")), network(Lease(MAC, "10.0.0.5", "b"))
    await host.datapath.apply(HostPlan(networks=(one, two)))
    pids = sorted(dnsmasq_under(host.state_dir))
    assert len(pids) == 2

    moved = network(Lease(STRANGER, "10.0.0.9", "c"))
    one_changed = NetworkSpec(
        network_id=one.network_id,
        mtu=one.mtu,
        dhcp_mac=one.dhcp_mac,
        dhcp=(
            SubnetDhcp(
                **{**one.dhcp[0].__dict__, "leases": (*one.dhcp[0].leases, *moved.dhcp[0].leases)}
            ),
        ),
    )
    await host.datapath.apply(HostPlan(networks=(one_changed, two)))

    assert sorted(dnsmasq_under(host.state_dir)) == pids  # reloaded (SIGHUP), not restarted
    assert [c for c in host.datapath.changes if "dnsmasq" in c] == [
        c for c in host.datapath.changes if "reloaded" in c
    ]
    assert len(host.datapath.changes) == 1
    port = str(uuid.uuid4())
    guest = await lab.guest(
        host.namespace, "g1", tap=tap_name(port), mac=STRANGER, bridge=one.bridge
    )
    env = await guest.udhcpc(tmp_path)
    assert env is not None
    assert env["ip"] == "10.0.0.9"
