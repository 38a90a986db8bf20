"""Hypervisors, os-hosts and services: what the agents reported, and the operator's switches."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server

from cairn.agents.compute import host_facts
from cairn.events import compute as ev

ADMIN_PATHS = (
    "/os-hypervisors/1/uptime",
    "/os-hypervisors/compute/search",
    "/os-hypervisors/compute/servers",
)
#: how long before its registration each test's host booted: 3 days, 2:05
UP_FOR = 3 * 86400 + 2 * 3600 + 5 * 60


async def _register(cloud: ComputeCloud, host: str) -> None:
    await cloud.append(
        f"computehost-{host}",
        ev.ComputeHostRegistered(
            host=host,
            hypervisor_type="QEMU",
            hypervisor_version=7002000,
            hypervisor_uri="qemu:///system",
            availability_zone="nova",
            capacity=ev.ResourceAmounts(vcpus=8, memory_mb=8192, disk_gb=100),
            cpu_allocation_ratio=1.0,
            host_ip="192.0.2.10",
            # at registration, not at import: a long suite would age the host
            booted_at=time.time() - UP_FOR,
        ),
        ev.ComputeHostHeartbeat(host=host, load_average=[0.5, 0.25, 0.125]),
    )


async def test_detail_reports_the_agents_facts_and_real_workload(cloud: ComputeCloud) -> None:
    await _register(cloud, "h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    status, body = await cloud.call("GET", "/os-hypervisors/detail")
    assert status == 200
    (shown,) = body["hypervisors"]
    assert shown["host_ip"] == "192.0.2.10"
    assert shown["cpu_info"] == json.dumps({"arch": "x86_64"}).replace(" ", "")
    assert (shown["running_vms"], shown["current_workload"]) == (1, 0)
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner, {"os-stop": None})
    assert status == 202
    status, body = await cloud.call("GET", "/os-hypervisors/detail", version="2.28")
    (shown,) = body["hypervisors"]
    assert shown["cpu_info"] == {"arch": "x86_64"}
    assert shown["current_workload"] == 1  # powering-off is under way
    status, body = await cloud.call("GET", "/os-hypervisors/detail", version="2.88")
    uptime = body["hypervisors"][0]["uptime"]
    # 2:05 since the registration a moment ago (2:06 if a minute turned meanwhile)
    assert re.search(r" up 3 days,  2:0[56],  load average: 0\.50, 0\.25, 0\.12$", uptime), uptime


async def test_uptime_search_and_servers_before_253(cloud: ComputeCloud) -> None:
    await _register(cloud, "compute-a")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner, host="compute-a")
    await cloud.register_host("compute-b")  # an agent that said nothing of its boot
    status, body = await cloud.call("GET", "/os-hypervisors/1/uptime")
    assert status == 200
    assert body["hypervisor"]["hypervisor_hostname"] == "compute-a"
    assert "up 3 days" in body["hypervisor"]["uptime"]
    status, body = await cloud.call("GET", "/os-hypervisors/2/uptime")
    assert status == 501
    status, body = await cloud.call("GET", "/os-hypervisors/9/uptime")
    assert status == 404
    status, body = await cloud.call("GET", "/os-hypervisors/1/uptime", version="2.88")
    assert status == 404
    status, body = await cloud.call("GET", "/os-hypervisors/compute/search")
    assert [h["hypervisor_hostname"] for h in body["hypervisors"]] == ["compute-a", "compute-b"]
    status, body = await cloud.call("GET", "/os-hypervisors/nothing/search")
    assert status == 404
    assert body["itemNotFound"]["message"] == "No hypervisor matching 'nothing' could be found."
    status, body = await cloud.call("GET", "/os-hypervisors/compute/servers")
    a, b = body["hypervisors"]
    instance_name = cloud.compute.state.servers[server_id].instance_name
    assert a["servers"] == [{"uuid": server_id, "name": instance_name}]
    assert "servers" not in b
    status, body = await cloud.call(
        "GET", "/os-hypervisors?hypervisor_hostname_pattern=-a&with_servers=true", version="2.53"
    )
    (shown,) = body["hypervisors"]
    assert shown["servers"] == [{"uuid": server_id, "name": instance_name}]
    status, _ = await cloud.call("GET", "/os-hypervisors/compute/search", version="2.53")
    assert status == 404
    member = await cloud.member()
    for path in ADMIN_PATHS:
        status, body = await cloud.call("GET", path, member)
        assert status == 403, path
        assert body["forbidden"]["code"] == 403


async def test_os_hosts(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    await cloud.register_host("h2", zone="other")
    owner = await cloud.member()
    await running_server(cloud, owner)
    status, body = await cloud.call("GET", "/os-hosts")
    assert body["hosts"] == [
        {"host_name": "h1", "service": "compute", "zone": "nova"},
        {"host_name": "h2", "service": "compute", "zone": "other"},
    ]
    status, body = await cloud.call("GET", "/os-hosts?zone=other")
    assert [h["host_name"] for h in body["hosts"]] == ["h2"]
    status, body = await cloud.call("GET", "/os-hosts?zone=")
    assert len(body["hosts"]) == 2
    status, body = await cloud.call("GET", "/os-hosts?zone=xxx")
    assert body["hosts"] == []
    status, body = await cloud.call("GET", "/os-hosts/h1")
    rows = [r["resource"] for r in body["host"]]
    assert [r["project"] for r in rows] == ["(total)", "(used_now)", "(used_max)", owner.project_id]
    total = {"host": "h1", "project": "(total)", "cpu": 8, "memory_mb": 8192, "disk_gb": 100}
    assert rows[0] == total
    assert (rows[3]["cpu"], rows[3]["memory_mb"], rows[3]["disk_gb"]) == (1, 128, 1)
    status, body = await cloud.call("GET", "/os-hosts/nowhere")
    assert status == 404
    status, body = await cloud.call("PUT", "/os-hosts/h2", json={"status": "disable"})
    assert (status, body) == (200, {"host": "h2", "status": "disabled"})
    assert cloud.compute.state.hosts["h2"].enabled is False
    for bad in ({}, {"status": "off"}, {"maintenance_mode": "sometimes"}, {"colour": "red"}):
        status, body = await cloud.call("PUT", "/os-hosts/h2", json=bad)
        assert status == 400, bad
        assert body["badRequest"]["code"] == 400
    status, _ = await cloud.call("PUT", "/os-hosts/nowhere", json={"status": "enable"})
    assert status == 404
    status, _ = await cloud.call("PUT", "/os-hosts/h2", json={"maintenance_mode": "enable"})
    assert status == 501
    for action in ("startup", "shutdown", "reboot"):
        status, _ = await cloud.call("GET", f"/os-hosts/h1/{action}")
        assert status == 501
        status, _ = await cloud.call("GET", f"/os-hosts/nowhere/{action}")
        assert status == 404
        status, _ = await cloud.call("GET", f"/os-hosts/h1/{action}", owner)
        assert status == 403
    for method, path in (("GET", "/os-hosts"), ("GET", "/os-hosts/h1"), ("PUT", "/os-hosts/h1")):
        status, _ = await cloud.call(method, path, owner, {"status": "enable"})
        assert status == 403
    status, _ = await cloud.call("GET", "/os-hosts", version="2.43")
    assert status == 404


async def test_forced_down_makes_the_host_down(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    down = {"host": "h1", "binary": "nova-compute", "forced_down": True}
    status, body = await cloud.call("PUT", "/os-services/force-down", json=down, version="2.11")
    assert (status, body) == (200, {"service": down})
    status, body = await cloud.call("GET", "/os-services", version="2.11")
    (service,) = body["services"]
    assert (service["forced_down"], service["state"]) == (True, "down")
    owner = await cloud.member()
    status, answer = await cloud.boot(owner)
    server_id = answer["server"]["id"]
    await cloud.wait_for(lambda: cloud.compute.state.servers[server_id].vm_state == "error")
    # A restarted agent does not lift the operator's switch.
    await cloud.register_host("h1")
    assert cloud.compute.state.hosts["h1"].forced_down is True
    status, body = await cloud.call("GET", "/os-services", version="2.53")
    service_id = body["services"][0]["id"]
    status, body = await cloud.call(
        "PUT", f"/os-services/{service_id}", json={"forced_down": "False"}, version="2.53"
    )
    assert status == 200
    assert (body["service"]["forced_down"], body["service"]["state"]) == (False, "up")
    for bad in ({"forced_down": "perhaps"}, {"forced_down": True, "colour": "red"}):
        status, body = await cloud.call(
            "PUT", f"/os-services/{service_id}", json=bad, version="2.53"
        )
        assert status == 400, bad
    nowhere = {**down, "host": "nowhere"}
    status, _ = await cloud.call("PUT", "/os-services/force-down", json=nowhere, version="2.11")
    assert status == 404
    member = await cloud.member()
    status, _ = await cloud.call(
        "PUT", f"/os-services/{service_id}", member, {"forced_down": True}, version="2.53"
    )
    assert status == 403
    assert cloud.compute.state.hosts["h1"].forced_down is False


def test_host_facts_read_the_kernel(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\nbtime 1764750000\nprocesses 5\n")
    assert host_facts.booted_at(stat) == 1764750000.0
    assert host_facts.booted_at(tmp_path / "missing") == 0.0
    assert 0 < host_facts.booted_at() < time.time()
    assert len(host_facts.load_average()) == 3
    parts = host_facts.host_ip().split(".")
    assert len(parts) == 4
