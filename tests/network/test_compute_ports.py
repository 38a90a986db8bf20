"""A boot's networks become ports, and a deleted server's ports go (or are freed).

Identity, networking and compute in one application; no compute host is
registered, so each boot ends in ERROR ("No valid host") and its delete is
immediate: what is tested is the control plane's side of NICs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS
from cairn.api.compute import COMPUTE, IMAGE_PORT
from cairn.api.compute import SERVICE as COMPUTE_SERVICE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.api.network import SERVICE as NETWORK_SERVICE
from cairn.compute.images import MemoryImages
from cairn.events import Metadata, registry
from cairn.events import compute as ev
from cairn.runtime import build_app
from cairn.store.port import StreamWrite
from tests.network.conftest import ADMIN_PASSWORD, Caller, NetworkCloud, settings_for

IMAGE = ev.ImageSnapshot(
    image_id="2f1c7e0a-5b7d-4a7e-9d1e-000000000001", name="img", disk_format="qcow2"
)


class Cloud(NetworkCloud):
    async def compute(
        self,
        method: str,
        path: str,
        who: Caller,
        json: Any = None,
    ) -> tuple[int, Any]:
        response = await self.client.request(
            method,
            "/compute/v2.1" + path,
            json=json,
            headers={"X-Auth-Token": who.token, "OpenStack-API-Version": "compute 2.100"},
        )
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body

    async def boot(self, who: Caller, networks: Any, **extra: Any) -> tuple[int, Any]:
        server = {
            "name": "vm",
            "imageRef": IMAGE.image_id,
            "flavorRef": "1",
            "networks": networks,
            **extra,
        }
        return await self.compute("POST", "/servers", who, {"server": server})

    async def settle(self, server_id: str, who: Caller, status: str) -> None:
        deadline = time.monotonic() + 10
        while True:
            code, body = await self.compute("GET", f"/servers/{server_id}", who)
            if (status == "gone" and code == 404) or (
                code == 200 and body["server"]["status"] == status
            ):
                return
            assert time.monotonic() < deadline, (code, body)
            await asyncio.sleep(0.05)

    async def ports_of(self, server_id: str, who: Caller | None = None) -> list[dict[str, Any]]:
        body = await self.ok("GET", f"/ports?device_id={server_id}", who)
        return body["ports"]  # type: ignore[no-any-return]


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    app = build_app(
        settings_for(tmp_path), services=[IDENTITY_SERVICE, NETWORK_SERVICE, COMPUTE_SERVICE]
    )
    app[IMAGE_PORT] = MemoryImages([IMAGE])
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    made = Cloud(client)
    token = await made.token("admin", ADMIN_PASSWORD, "admin")
    made.admin = Caller(token, "", "")
    try:
        yield made
    finally:
        await client.close()


async def test_boot_makes_ports_and_delete_removes_them(cloud: Cloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo, name="blue")
    await cloud.subnet(network["id"], "10.50.0.0/24", demo)
    web = (await cloud.ok("POST", "/security-groups", demo, {"security_group": {"name": "web"}}))[
        "security_group"
    ]
    status, body = await cloud.boot(
        demo, [{"uuid": network["id"], "fixed_ip": "10.50.0.77"}], security_groups=[{"name": "web"}]
    )
    assert status == 202, body
    server_id = body["server"]["id"]
    assert body["server"]["security_groups"] == [{"name": "web"}]
    [port] = await cloud.ports_of(server_id, demo)
    assert port["device_owner"] == "compute:nova"
    assert port["fixed_ips"][0]["ip_address"] == "10.50.0.77"
    assert port["security_groups"] == [web["id"]]
    await cloud.settle(server_id, demo, "ERROR")  # no host in this cloud
    assert await cloud.compute("GET", f"/servers/{server_id}/ips", demo) == (200, {"addresses": {}})
    status, _ = await cloud.compute("GET", f"/servers/{server_id}/ips/blue", demo)
    assert status == 404  # it never got an address: it never reached a host
    other = await cloud.member()
    status, _ = await cloud.compute("GET", f"/servers/{server_id}/ips", other)
    assert status == 404
    status, _ = await cloud.compute("DELETE", f"/servers/{server_id}", demo)
    assert status == 204
    await cloud.settle(server_id, demo, "gone")
    deadline = time.monotonic() + 10
    while await cloud.ports_of(server_id, demo):
        assert time.monotonic() < deadline, "the server's port outlived it"
        await asyncio.sleep(0.05)


async def test_a_given_port_is_taken_and_freed(cloud: Cloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo)
    await cloud.subnet(network["id"], "10.51.0.0/24", demo)
    mine = await cloud.port(network["id"], demo, name="keep")
    status, body = await cloud.boot(demo, [{"port": mine["id"]}])
    assert status == 202, body
    server_id = body["server"]["id"]
    taken = (await cloud.ok("GET", f"/ports/{mine['id']}", demo))["port"]
    assert taken["device_id"] == server_id
    status, body = await cloud.boot(demo, [{"port": mine["id"]}])
    assert status == 409, body
    status, body = await cloud.boot(demo, [{"port": mine["id"]}], max_count=2)
    assert status == 400, body
    await cloud.settle(server_id, demo, "ERROR")
    await cloud.compute("DELETE", f"/servers/{server_id}", demo)
    deadline = time.monotonic() + 10
    while (await cloud.ok("GET", f"/ports/{mine['id']}", demo))["port"]["device_id"]:
        assert time.monotonic() < deadline, "the given port stayed bound"
        await asyncio.sleep(0.05)


async def test_auto_and_refusals(cloud: Cloud) -> None:
    demo = await cloud.member()
    status, body = await cloud.boot(demo, "auto")
    assert status == 202, body
    [port] = await cloud.ports_of(body["server"]["id"], demo)
    auto = (await cloud.ok("GET", f"/networks/{port['network_id']}", demo))["network"]
    assert auto["name"] == "auto_allocated_network"
    await cloud.network(demo, name="second")
    status, body = await cloud.boot(demo, "auto")
    assert status == 409, body
    status, body = await cloud.boot(demo, [{"uuid": "0b7f3f43-52a9-4d8c-9a3c-6b0b2f6f1c21"}])
    assert status == 400, body
    other = await cloud.member()
    status, body = await cloud.boot(other, [{"uuid": auto["id"]}])
    assert status == 400, body
    status, body = await cloud.boot(
        demo, [{"uuid": auto["id"]}], security_groups=[{"name": "nope"}]
    )
    assert status == 400, body
    ports = (await cloud.ok("GET", f"/ports?network_id={auto['id']}", demo))["ports"]
    assert len(ports) == 3  # DHCP, router interface and the first server's: no leftovers


async def test_novas_security_group_proxy_is_networkings_groups(cloud: Cloud) -> None:
    demo = await cloud.member()
    status, body = await cloud.compute("GET", "/os-security-groups", demo)
    assert status == 404  # deprecated at 2.36: the cloud's client asks for 2.100
    old = {"X-Auth-Token": demo.token, "OpenStack-API-Version": "compute 2.1"}

    async def nova(method: str, path: str, json: Any = None) -> tuple[int, Any]:
        response = await cloud.client.request(
            method, "/compute/v2.1" + path, json=json, headers=old
        )
        found = await response.json() if response.content_type == "application/json" else None
        return response.status, found

    status, body = await nova("GET", "/os-security-groups")
    assert status == 200
    assert [g["name"] for g in body["security_groups"]] == ["default"]
    status, body = await nova(
        "POST", "/os-security-groups", {"security_group": {"name": "web", "description": "w"}}
    )
    assert status == 200, body
    group = body["security_group"]
    assert group["rules"] == []  # its egress rules are not Nova's to show
    status, body = await nova(
        "POST",
        "/os-security-group-rules",
        {
            "security_group_rule": {
                "parent_group_id": group["id"],
                "ip_protocol": "tcp",
                "from_port": 80,
                "to_port": 80,
                "cidr": "10.0.0.0/8",
            }
        },
    )
    assert status == 200, body
    rule = body["security_group_rule"]
    assert rule["ip_range"] == {"cidr": "10.0.0.0/8"}
    neutron = (await cloud.ok("GET", f"/security-groups/{group['id']}", demo))["security_group"]
    assert rule["id"] in {r["id"] for r in neutron["security_group_rules"]}
    for bad in (
        {"security_group": {"name": ""}},
        {"security_group": {"name": " "}},
        {"security_group": {"name": "x" * 260}},
        {"security_group": {"name": "n", "description": "d" * 260}},
    ):
        status, _ = await nova("POST", "/os-security-groups", bad)
        assert status == 400, bad
    for bad in (
        {"ip_protocol": "tcp", "from_port": 90, "to_port": 80},
        {"ip_protocol": "bogus", "from_port": 1, "to_port": 2},
        {"ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "nope"},
    ):
        status, _ = await nova(
            "POST",
            "/os-security-group-rules",
            {"security_group_rule": {"parent_group_id": group["id"], **bad}},
        )
        assert status == 400, bad
    status, _ = await nova(
        "POST",
        "/os-security-group-rules",
        {
            "security_group_rule": {
                "parent_group_id": "0b7f3f43-52a9-4d8c-9a3c-6b0b2f6f1c21",
                "ip_protocol": "icmp",
                "from_port": -1,
                "to_port": -1,
            }
        },
    )
    assert status == 404
    default = next(
        g
        for g in (await nova("GET", "/os-security-groups"))[1]["security_groups"]
        if g["name"] == "default"
    )
    assert (await nova("DELETE", f"/os-security-groups/{default['id']}"))[0] == 400
    other = await cloud.member()
    response = await cloud.client.get(
        f"/compute/v2.1/os-security-groups/{group['id']}",
        headers={"X-Auth-Token": other.token, "OpenStack-API-Version": "compute 2.1"},
    )
    assert response.status == 404  # another project's group
    network = await cloud.network(demo)
    await cloud.subnet(network["id"], "10.52.0.0/24", demo)
    status, body = await cloud.boot(demo, [{"uuid": network["id"]}])
    server_id = body["server"]["id"]
    assert (
        await nova("POST", f"/servers/{server_id}/action", {"addSecurityGroup": {"name": "web"}})
    )[0] == 202
    status, body = await nova("GET", f"/servers/{server_id}/os-security-groups")
    assert sorted(g["name"] for g in body["security_groups"]) == ["default", "web"]
    assert (
        await nova(
            "POST", f"/servers/{server_id}/action", {"removeSecurityGroup": {"name": "default"}}
        )
    )[0] == 202
    [port] = await cloud.ports_of(server_id, demo)
    assert port["security_groups"] == [group["id"]]
    assert (await nova("DELETE", f"/os-security-group-rules/{rule['id']}"))[0] == 202
    status, _ = await nova("DELETE", f"/os-security-groups/{group['id']}")
    assert status == 400  # the server's port still uses it


async def test_compute_quota_sets_before_2_36_carry_networkings(cloud: Cloud) -> None:
    demo = await cloud.member()
    await cloud.ok("PUT", f"/quotas/{demo.project_id}", None, {"quota": {"floatingip": 7}})
    path = f"/compute/v2.1/os-quota-sets/{demo.project_id}"
    for version, shown in (("2.1", True), ("2.35", True), ("2.36", False)):
        response = await cloud.client.get(
            path,
            headers={"X-Auth-Token": demo.token, "OpenStack-API-Version": f"compute {version}"},
        )
        body = (await response.json())["quota_set"]
        assert ("floating_ips" in body) is shown, version
        if shown:
            assert body["floating_ips"] == 7
            assert body["security_groups"] == 10
            assert body["fixed_ips"] == -1
    response = await cloud.client.get(
        path + "/defaults",
        headers={"X-Auth-Token": demo.token, "OpenStack-API-Version": "compute 2.1"},
    )
    assert (await response.json())["quota_set"]["floating_ips"] == 50


# -- os-interface: the control plane's side, the test playing the compute agent -------------


async def _append(cloud: Cloud, stream: str, *events: ev.DomainEvent) -> None:
    result = await cloud.store.append(
        StreamWrite(stream, [registry.new(e, Metadata(user_id="test-agent")) for e in events])
    )
    await cloud.client.server.app[COMPUTE].runner.wait_for(result.position)


async def _register(cloud: Cloud, host: str, capabilities: list[str]) -> None:
    event = ev.ComputeHostRegistered(
        host=host,
        hypervisor_type="QEMU",
        hypervisor_version=7002000,
        hypervisor_uri="qemu:///system",
        availability_zone="nova",
        capacity=ev.ResourceAmounts(vcpus=8, memory_mb=8192, disk_gb=100),
        capabilities=capabilities,
    )
    await _append(cloud, f"computehost-{host}", event)


async def _active_server(cloud: Cloud, who: Caller, network_id: str, host: str) -> str:
    status, body = await cloud.boot(who, [{"uuid": network_id}])
    assert status == 202, body
    server_id: str = body["server"]["id"]
    compute = cloud.client.server.app[COMPUTE]
    deadline = time.monotonic() + 10
    while compute.state.servers[server_id].host != host:
        assert time.monotonic() < deadline, "the scheduler did not place the server"
        await asyncio.sleep(0.02)
    spawned = ev.ServerSpawned(
        server_id=server_id, host=host, launched_at="2026-12-03T10:00:00Z", instance_name="g"
    )
    await _append(cloud, f"server-{server_id}", spawned)
    await cloud.settle(server_id, who, "ACTIVE")
    return server_id


async def _agent_answers(cloud: Cloud, server_id: str, outcome: ev.DomainEvent | None) -> None:
    """Wait for the interface action in flight, then answer it as the agent would."""
    compute = cloud.client.server.app[COMPUTE]
    deadline = time.monotonic() + 10
    while compute.state.servers[server_id].pending_action not in (
        "attach_interface",
        "detach_interface",
    ):
        assert time.monotonic() < deadline, "no interface action was requested"
        await asyncio.sleep(0.02)
    action = compute.state.servers[server_id].pending_action or ""
    events: list[ev.DomainEvent]
    if outcome is None:
        events = [
            ev.ServerActionFailed(
                server_id=server_id, host="h1", action=action, reason="the guest refused it"
            )
        ]
    else:
        events = [
            outcome,
            ev.ServerActionCompleted(
                server_id=server_id, host="h1", action=action, vm_state="active", power_state=1
            ),
        ]
    await _append(cloud, f"server-{server_id}", *events)


async def test_an_interface_is_attached_listed_and_detached(cloud: Cloud) -> None:
    demo = await cloud.member()
    blue = await cloud.network(demo, name="blue")
    await cloud.subnet(blue["id"], "10.52.0.0/24", demo)
    green = await cloud.network(demo, name="green")
    green_subnet = await cloud.subnet(green["id"], "10.53.0.0/24", demo)
    await _register(cloud, "h1", [])
    server_id = await _active_server(cloud, demo, blue["id"], "h1")
    path = f"/servers/{server_id}/os-interface"
    attach = {"interfaceAttachment": {"net_id": green["id"]}}

    # A host whose hypervisor cannot hot-plug refuses, as Nova's NotImplemented does.
    status, body = await cloud.compute("POST", path, demo, attach)
    assert status == 501, body
    await _register(cloud, "h1", ["hot-plug"])  # the agent restarted on QEMU
    for bad in (
        {"interfaceAttachment": {"net_id": green["id"], "port_id": green["id"]}},
        {"interfaceAttachment": {"port_id": "not-a-uuid"}},
        {"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.53.0.9"}]}},
        {"interfaceAttachment": {"net_id": green["id"], "colour": "red"}},
        {"interfaceAttachment": {"net_id": green["id"], "fixed_ips": "10.53.0.9"}},
        {"interfaceAttachment": {"net_id": "0b7f3f43-52a9-4d8c-9a3c-6b0b2f6f1c21"}},
        {"nope": {}},
    ):
        status, body = await cloud.compute("POST", path, demo, bad)
        assert status == 400, (bad, body)
        assert set(body) == {"badRequest"}, body
    other = await cloud.member()
    status, body = await cloud.compute("POST", path, other, attach)
    assert status == 404, body
    assert len(await cloud.ports_of(server_id, demo)) == 1  # no refusal made a port

    # A plug the agent fails answers 500 and gives the port back.
    fixed = {"net_id": green["id"], "fixed_ips": [{"ip_address": "10.53.0.9"}]}
    answer = asyncio.ensure_future(
        cloud.compute("POST", path, demo, {"interfaceAttachment": fixed})
    )
    await _agent_answers(cloud, server_id, None)
    status, body = await answer
    assert status == 500, body
    assert "the guest refused it" in body["computeFault"]["message"]
    deadline = time.monotonic() + 10
    while len(await cloud.ports_of(server_id, demo)) != 1:
        assert time.monotonic() < deadline, "the failed attach's port was not given back"
        await asyncio.sleep(0.05)

    # A plug that works answers with the attachment once the agent has plugged it.
    answer = asyncio.ensure_future(
        cloud.compute("POST", path, demo, {"interfaceAttachment": fixed})
    )
    compute = cloud.client.server.app[COMPUTE]
    deadline = time.monotonic() + 10
    while not compute.state.servers[server_id].pending_nic:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    nic = compute.state.servers[server_id].pending_nic
    [port] = [p for p in await cloud.ports_of(server_id, demo) if p["id"] == nic["port"]]
    attached = ev.ServerInterfaceAttached(
        server_id=server_id,
        host="h1",
        nic={**nic, "mac": port["mac_address"]},
        addresses={
            "green": [
                {
                    "addr": "10.53.0.9",
                    "version": 4,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                }
            ]
        },
    )
    await _agent_answers(cloud, server_id, attached)
    status, body = await answer
    assert status == 200, body
    assert body["interfaceAttachment"] == {
        "port_id": port["id"],
        "net_id": green["id"],
        "mac_addr": port["mac_address"],
        "port_state": "DOWN",
        "fixed_ips": [{"subnet_id": green_subnet["id"], "ip_address": "10.53.0.9"}],
        "tag": None,
    }
    status, body = await cloud.compute("GET", path, demo)
    assert status == 200, body
    assert [a["net_id"] for a in body["interfaceAttachments"]] == [blue["id"], green["id"]]
    status, body = await cloud.compute("GET", f"{path}/{port['id']}", demo)
    assert status == 200, body
    assert body["interfaceAttachment"]["port_id"] == port["id"]
    status, body = await cloud.compute("GET", f"{path}/{port['id']}", other)
    assert status == 404, body
    status, body = await cloud.compute("GET", f"/servers/{server_id}/ips", demo)
    assert set(body["addresses"]) == {"green"}  # the boot's NIC never got an address here

    # Detaching answers at once; the port the attach made goes once the NIC is out.
    status, body = await cloud.compute("DELETE", f"{path}/{green['id']}", demo)
    assert status == 404, body  # not an attached port
    status, body = await cloud.compute("DELETE", f"{path}/{port['id']}", other)
    assert status == 404, body
    status, _ = await cloud.compute("DELETE", f"{path}/{port['id']}", demo)
    assert status == 202
    status, body = await cloud.compute("POST", path, demo, attach)
    assert status == 409, body  # one interface action at a time
    detached = ev.ServerInterfaceDetached(
        server_id=server_id, host="h1", port_id=port["id"], mac=port["mac_address"]
    )
    await _agent_answers(cloud, server_id, detached)
    deadline = time.monotonic() + 10
    while len(await cloud.ports_of(server_id, demo)) != 1:
        assert time.monotonic() < deadline, "the detached port was not deleted"
        await asyncio.sleep(0.05)
    status, body = await cloud.compute("GET", f"/servers/{server_id}/ips", demo)
    assert body == {"addresses": {}}
