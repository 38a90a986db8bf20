"""The metadata service, answered inside the DHCP namespace, asked from guests."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cairn.agents.compute.instance_metadata import InstanceMetadata
from cairn.agents.network.desired import HostPlan, Lease, NetworkSpec, SubnetDhcp, tap_name

from .conftest import Host, close_host, open_host
from .lab import Guest, Lab, check, sh

NETWORK = str(uuid.uuid4())
INSTANCES = {
    "10.0.0.5": InstanceMetadata(
        uuid=str(uuid.uuid4()),
        name="one",
        hostname="one.novalocal",
        project_id="p1",
        public_keys={"mykey": "ssh-ed25519 AAAA one"},
        user_data=b"#!/bin/sh\necho one\n",
        meta={"role": "web"},
        network_data={"links": [], "networks": [{"id": "network0"}], "services": []},
    ),
    "10.0.0.6": InstanceMetadata(
        uuid=str(uuid.uuid4()), name="two", hostname="two.novalocal", project_id="p2"
    ),
}


async def lookup(network_id: str, ip: str) -> InstanceMetadata | None:
    return INSTANCES.get(ip) if network_id == NETWORK else None


@pytest.fixture
async def metadata_host(lab: Lab, tmp_path: Path) -> AsyncIterator[Host]:
    host = await open_host(lab, tmp_path, "h1", lookup)
    try:
        yield host
    finally:
        await close_host(lab, host)


async def _guest(lab: Lab, host: Host, net: NetworkSpec, name: str, ip: str, mac: str) -> Guest:
    guest = await lab.guest(
        host.namespace, name, tap=tap_name(str(uuid.uuid4())), mac=mac, bridge=net.bridge,
        address=f"{ip}/24",
    )  # fmt: skip
    # what DHCP's option 121 gives a guest (the DHCP test checks that it does)
    await check(guest.namespace, "ip", "route", "add", "169.254.169.254/32", "via", "10.0.0.2")
    return guest


async def get(guest: Guest, path: str) -> tuple[int, str]:
    result = await sh(
        guest.namespace, "busybox", "wget", "-q", "-O", "-", f"http://169.254.169.254{path}"
    )
    return result.rc, result.out


async def test_each_guest_gets_its_own_metadata_and_strangers_nothing(
    metadata_host: Host, lab: Lab
) -> None:
    host = metadata_host
    leases = (
        Lease("fa:16:3e:00:00:05", "10.0.0.5", "one"),
        Lease("fa:16:3e:00:00:06", "10.0.0.6", "two"),
    )
    subnet = SubnetDhcp(
        str(uuid.uuid4()), "10.0.0.0/24", "10.0.0.2", "10.0.0.1", leases=leases, metadata=True
    )
    net = NetworkSpec(NETWORK, dhcp=(subnet,))
    await host.datapath.apply(HostPlan(networks=(net,)))
    one = await _guest(lab, host, net, "g1", "10.0.0.5", "fa:16:3e:00:00:05")
    two = await _guest(lab, host, net, "g2", "10.0.0.6", "fa:16:3e:00:00:06")
    stranger = await _guest(lab, host, net, "g3", "10.0.0.7", "fa:16:3e:00:00:07")

    rc, body = await get(one, "/openstack/latest/meta_data.json")
    assert rc == 0
    data = json.loads(body)
    assert data["uuid"] == INSTANCES["10.0.0.5"].uuid
    assert data["name"] == "one"
    assert data["hostname"] == "one.novalocal"
    assert data["project_id"] == "p1"
    assert data["availability_zone"] == "nova"
    assert data["public_keys"] == {"mykey": "ssh-ed25519 AAAA one"}
    assert data["meta"] == {"role": "web"}
    rc, body = await get(two, "/openstack/latest/meta_data.json")
    assert rc == 0
    assert json.loads(body)["uuid"] == INSTANCES["10.0.0.6"].uuid

    assert await get(one, "/openstack/latest/user_data") == (0, "#!/bin/sh\necho one\n")
    assert (await get(two, "/openstack/latest/user_data"))[0] != 0  # 404: none
    rc, body = await get(one, "/openstack/latest/network_data.json")
    assert json.loads(body)["networks"] == [{"id": "network0"}]
    rc, body = await get(one, "/openstack")
    assert body.splitlines()[-1] == "latest"
    assert "2012-08-10" in body.splitlines()
    rc, body = await get(one, "/openstack/latest")
    assert {"meta_data.json", "network_data.json", "user_data"} <= set(body.splitlines())

    assert (await get(one, "/latest/meta-data/local-ipv4")) == (0, "10.0.0.5")
    assert (await get(one, "/latest/meta-data/hostname")) == (0, "one.novalocal")
    rc, body = await get(one, "/latest/meta-data/")
    assert {"instance-id", "local-ipv4", "public-keys/"} <= set(body.splitlines())
    assert (await get(one, "/latest/meta-data/public-keys/")) == (0, "0=mykey")
    rc, body = await get(one, "/latest/meta-data/public-keys/0/openssh-key")
    assert body == "ssh-ed25519 AAAA one"
    assert (await get(one, "/latest/user-data"))[1] == "#!/bin/sh\necho one\n"

    assert (await get(stranger, "/openstack/latest/meta_data.json"))[0] != 0


async def test_metadata_stops_with_its_network(metadata_host: Host, lab: Lab) -> None:
    host = metadata_host
    subnet = SubnetDhcp(str(uuid.uuid4()), "10.0.0.0/24", "10.0.0.2", "10.0.0.1", metadata=True)
    net = NetworkSpec(NETWORK, dhcp=(subnet,))
    await host.datapath.apply(HostPlan(networks=(net,)))
    await host.datapath.apply(HostPlan(networks=(net,)))
    assert host.datapath.changes == []

    await host.datapath.apply(HostPlan())
    assert host.datapath.dhcp_namespace(NETWORK) not in lab.leftovers()
    assert any("metadata" in change for change in host.datapath.changes)
