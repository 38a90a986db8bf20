"""A first user's networking session with the real ``openstack`` CLI and openstacksdk
against ``cairn up`` (libvirt's test driver; the network agent off, so ports stay
DOWN): networks, subnets, routers, floating IPs, ports, security groups, quotas,
and a server booted on a network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack import connection
from openstack.config import loader

from tests.cloud_process import Running, cairn_up

DEMO = {"cloud": "cairn-demo"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("network-cli") / "data"
    with cairn_up(data, "--hypervisor", "test:///default", "--guest-dir", "none") as (running, _):
        yield running


def _json(running: Running, *args: str, **kw: Any) -> dict[str, Any]:
    found = running.json(*args, **kw)
    assert isinstance(found, dict)
    return found


def test_the_first_session(cloud: Running) -> None:
    network = _json(cloud, "network", "create", "web", **DEMO)
    assert network["status"] == "ACTIVE"
    subnet = _json(
        cloud,
        "subnet",
        "create",
        "--network",
        "web",
        "--subnet-range",
        "10.70.0.0/24",
        "--dns-nameserver",
        "10.70.0.53",
        "web-v4",
        **DEMO,
    )
    assert subnet["gateway_ip"] == "10.70.0.1"
    router = _json(cloud, "router", "create", "edge", **DEMO)
    cloud.openstack("router", "set", "--external-gateway", "public", "edge", **DEMO)
    cloud.openstack("router", "add", "subnet", "edge", "web-v4", **DEMO)
    shown = _json(cloud, "router", "show", "edge", **DEMO)
    assert (
        shown["external_gateway_info"]["network_id"]
        == _json(cloud, "network", "show", "public", **DEMO)["id"]
    )
    floating = _json(cloud, "floating", "ip", "create", "public", **DEMO)
    assert floating["floating_ip_address"].startswith("172.24.4.")
    port = _json(
        cloud,
        "port",
        "create",
        "--network",
        "web",
        "--fixed-ip",
        "ip-address=10.70.0.20",
        "lonely",
        **DEMO,
    )
    assert port["status"] == "DOWN"
    cloud.openstack("floating", "ip", "set", "--port", "lonely", floating["id"], **DEMO)
    assert _json(cloud, "floating", "ip", "show", floating["id"], **DEMO)["fixed_ip_address"] == (
        "10.70.0.20"
    )
    group = _json(cloud, "security", "group", "create", "web", **DEMO)
    rule = _json(
        cloud,
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "80",
        "web",
        **DEMO,
    )
    assert rule["port_range_min"] == 80
    assert group["name"] == "web"
    duplicate = cloud.openstack(
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "80",
        "web",
        check=False,
        **DEMO,
    )
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stderr
    quota = cloud.json("quota", "show", "--network", **DEMO)
    assert isinstance(quota, list)
    limits = {row["Resource"]: row["Limit"] for row in quota}
    assert limits["networks"] == 100
    assert limits["floating_ips"] == 50
    assert router["name"] == "edge"


def test_a_server_on_a_network_gets_a_port_and_addresses(cloud: Running) -> None:
    image = cloud.data.parent / "disk.img"
    image.write_bytes(b"\0" * 1024)
    cloud.openstack("image", "create", "--file", str(image), "--disk-format", "raw", "blank")
    cloud.openstack("image", "set", "--public", "blank")
    cloud.openstack("network", "create", "app", **DEMO)
    cloud.openstack(
        "subnet", "create", "--network", "app", "--subnet-range", "10.71.0.0/24", "app-v4", **DEMO
    )
    server = _json(
        cloud,
        "server",
        "create",
        "--image",
        "blank",
        "--flavor",
        "m1.nano",
        "--network",
        "app",
        "--wait",
        "vm",
        **DEMO,
    )
    assert server["status"] == "ACTIVE"
    assert list(server["addresses"]) == ["app"]
    ports = cloud.json("port", "list", "--server", "vm", **DEMO)
    assert isinstance(ports, list)
    assert len(ports) == 1
    cloud.openstack("server", "delete", "--wait", "vm", **DEMO)
    assert (
        cloud.json("port", "list", "--network", "app", "--device-owner", "compute:nova", **DEMO)
        == []
    )


# The SDK warns about its own deprecations (InfluxDB support, _compute_attributes).
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_openstacksdk_sees_the_same_cloud(cloud: Running) -> None:
    config = loader.OpenStackConfig(config_files=[str(cloud.data / "clouds.yaml")])
    conn = connection.Connection(config=config.get_one("cairn-demo"))
    try:
        made = conn.network.create_network(name="sdk-net")
        subnet = conn.network.create_subnet(network_id=made.id, cidr="10.72.0.0/24", ip_version=4)
        port = conn.network.create_port(network_id=made.id)
        assert port.fixed_ips[0]["subnet_id"] == subnet.id
        assert {n.name for n in conn.network.networks()} >= {"sdk-net", "public"}
        conn.network.delete_port(port)
        conn.network.delete_subnet(subnet)
        conn.network.delete_network(made)
        assert conn.network.find_network("sdk-net") is None
    finally:
        conn.close()
