"""The whole path on libvirt's test driver: API -> quota -> scheduler -> agents (in
this process, fed by the bus) -> back to the API. Real agents, real libvirt API,
fake guests: what ``cairn up --hypervisor test:///default --compute-hosts 2`` runs."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.compute.conftest import (
    ADMIN_PASSWORD,
    IMAGE_ID,
    Caller,
    ComputeCloud,
    _whoami,
    settings_for,
)

from cairn.agents.compute.images import ImageInfo
from cairn.agents.compute.images_local import LocalImageSource
from cairn.api import RUNNER_OPTIONS
from cairn.api import build_app as build_api
from cairn.api.compute import IMAGE_PORT
from cairn.api.compute import SERVICE as COMPUTE_SERVICE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.audit import check, replay
from cairn.compute.images import MemoryImages
from cairn.compute_hosts import compute_hosts_context
from cairn.events import compute as ev
from cairn.projections.catalog import catalog
from cairn.runtime import resource_contexts


def _agent_images(directory: Path) -> LocalImageSource:
    directory.mkdir(parents=True, exist_ok=True)
    root = directory / "root.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(root), "16M"], check=True)
    source = LocalImageSource({})
    source.add(root, ImageInfo(id=IMAGE_ID, name="cirros", disk_format="qcow2"))
    return source


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[ComputeCloud]:
    settings = settings_for(tmp_path, hypervisor="test:///default", compute_hosts=2)
    app = build_api([IDENTITY_SERVICE, COMPUTE_SERVICE], contexts=resource_contexts(settings))
    app.cleanup_ctx.append(
        compute_hosts_context(settings, images=_agent_images(tmp_path / "images"),
                              heartbeat_interval=5.0)
    )  # fmt: skip
    images = MemoryImages([ev.ImageSnapshot(image_id=IMAGE_ID, name="cirros", disk_format="qcow2")])
    app[IMAGE_PORT] = images
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    made = ComputeCloud(client, images)
    token = await made.token("admin", ADMIN_PASSWORD, "admin")
    project_id, user_id = await _whoami(made, token)
    made.admin = Caller(token, project_id, user_id)
    try:
        yield made
    finally:
        await client.close()


async def _status_is(cloud: ComputeCloud, server_id: str, wanted: str) -> None:
    async def reached() -> bool:
        status = await cloud.server_status(server_id)
        assert status != "ERROR" or wanted == "ERROR", status
        return status == wanted

    await cloud.wait_for(reached, timeout=20)


async def _act(cloud: ComputeCloud, server_id: str, body: dict[str, Any], wanted: str) -> None:
    status, answer = await cloud.call("POST", f"/servers/{server_id}/action", json=body)
    assert status == 202, answer
    await _status_is(cloud, server_id, wanted)
    _, shown = await cloud.call("GET", f"/servers/{server_id}")
    assert shown["server"]["OS-EXT-STS:task_state"] is None


async def test_boot_act_and_delete_on_the_test_driver(cloud: ComputeCloud) -> None:
    await cloud.wait_for(lambda: len(cloud.compute.state.hosts) == 2)
    _, body = await cloud.call("GET", "/os-hypervisors/detail", version="2.53")
    assert len(body["hypervisors"]) == 2
    assert {h["state"] for h in body["hypervisors"]} == {"up"}

    status, body = await cloud.boot(name="e2e")
    assert status == 202, body
    server_id = body["server"]["id"]
    await _status_is(cloud, server_id, "ACTIVE")
    _, shown = await cloud.call("GET", f"/servers/{server_id}", version="2.100")
    server = shown["server"]
    assert server["OS-EXT-SRV-ATTR:host"] in cloud.compute.state.hosts
    assert server["OS-EXT-STS:power_state"] == 1
    assert server["OS-SRV-USG:launched_at"]

    await _act(cloud, server_id, {"os-stop": None}, "SHUTOFF")
    await _act(cloud, server_id, {"os-start": None}, "ACTIVE")
    await _act(cloud, server_id, {"reboot": {"type": "HARD"}}, "ACTIVE")
    await _act(cloud, server_id, {"pause": None}, "PAUSED")
    await _act(cloud, server_id, {"unpause": None}, "ACTIVE")
    await _act(cloud, server_id, {"suspend": None}, "SUSPENDED")
    await _act(cloud, server_id, {"resume": None}, "ACTIVE")
    # A paused server cannot be paused again: 409 with Nova's words.
    status, body = await cloud.call("POST", f"/servers/{server_id}/action", json={"unpause": None})
    assert status == 409
    assert "vm_state active" in body["conflictingRequest"]["message"]

    # The host's agent answers: libvirt's test driver keeps no console (Nova's 501).
    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": {"length": 5}}
    )
    assert status == 501, body
    assert "does not support" in body["notImplemented"]["message"]

    _, body = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions")
    assert [a["action"] for a in body["instanceActions"]][-1] == "create"
    request_id = body["instanceActions"][0]["request_id"]
    _, body = await cloud.call(
        "GET", f"/servers/{server_id}/os-instance-actions/{request_id}", version="2.84"
    )
    assert body["instanceAction"]["action"] == "resume"
    assert body["instanceAction"]["events"][0]["result"] == "Success"

    status, _ = await cloud.call("DELETE", f"/servers/{server_id}")
    assert status == 204

    async def gone() -> bool:
        status, _ = await cloud.call("GET", f"/servers/{server_id}")
        return status == 404

    await cloud.wait_for(gone, timeout=20)
    state = cloud.compute.state
    assert all(not host.claims for host in state.hosts.values())
    assert state.usage[cloud.admin.project_id].instances == 0


async def test_servers_spread_over_the_hosts(cloud: ComputeCloud) -> None:
    await cloud.wait_for(lambda: len(cloud.compute.state.hosts) == 2)
    status, body = await cloud.boot(name="many", min_count=4, max_count=4)
    assert status == 202, body
    state = cloud.compute.state
    await cloud.wait_for(
        lambda: sum(s.vm_state == "active" for s in state.servers.values()) == 4, timeout=20
    )
    hosts = [s.host for s in state.servers.values()]
    assert sorted(hosts.count(h) for h in state.hosts) == [2, 2]
    _, body = await cloud.call("GET", "/servers?name=^many-")
    assert len(body["servers"]) == 4


async def test_a_spawn_that_fails_everywhere_ends_in_error_with_nothing_held(
    cloud: ComputeCloud,
) -> None:
    await cloud.wait_for(lambda: len(cloud.compute.state.hosts) == 2)
    broken = ev.ImageSnapshot(
        image_id="4c1f2b7e-0000-4000-8000-00000000dead", name="broken",
        properties={"kernel_id": "00000000-0000-4000-8000-00000000beef"},
    )  # fmt: skip
    cloud.images.add(broken)
    status, body = await cloud.boot(imageRef=broken.image_id)
    assert status == 202, body
    server_id = body["server"]["id"]
    await _status_is(cloud, server_id, "ERROR")
    server = cloud.compute.state.servers[server_id]
    assert server.tried_hosts  # placed, failed, and given up on (or retried first)
    assert server.fault is not None
    assert "not found" in server.fault.message
    state = cloud.compute.state
    await cloud.wait_for(lambda: all(not h.claims for h in state.hosts.values()))
    _, body = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions/"
                               f"{server.actions[0].request_id}", version="2.84")  # fmt: skip
    assert body["instanceAction"]["events"][0]["result"] == "Error"
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}")
    assert status == 204
    assert state.usage[cloud.admin.project_id].instances == 0


async def test_the_audit_replays_servers_and_finds_compute_consistent(cloud: ComputeCloud) -> None:
    await cloud.wait_for(lambda: len(cloud.compute.state.hosts) == 2)
    ids = []
    for name in ("kept", "gone"):
        status, body = await cloud.boot(name=name)
        assert status == 202, body
        ids.append(body["server"]["id"])
    for server_id in ids:
        await _status_is(cloud, server_id, "ACTIVE")
    before_delete = await cloud.store.head()
    assert (await cloud.call("DELETE", f"/servers/{ids[1]}"))[0] == 204
    await cloud.wait_for(lambda: cloud.compute.state.servers[ids[1]].vm_state == "deleted")

    servers = catalog.get("servers")
    then = await replay(cloud.store, catalog.projections([servers]), upto=before_delete)
    rows = servers.rows(then.states["compute"], None)
    assert {(row["name"], row["vm_state"]) for row in rows} == {
        ("kept", "active"),
        ("gone", "active"),
    }
    now = await replay(cloud.store, catalog.projections([servers]), upto=await cloud.store.head())
    rows = servers.rows(now.states["compute"], cloud.admin.project_id)
    assert {(row["name"], row["vm_state"]) for row in rows} == {
        ("kept", "active"),
        ("gone", "deleted"),
    }
    assert servers.rows(now.states["compute"], "another-project") == []
    usage = catalog.get("quotas").rows(now.states["compute"], cloud.admin.project_id)
    assert usage == [{"project": cloud.admin.project_id, "instances": 1, "cores": 1, "ram_mb": 128}]

    # The read model the cloud keeps matches a rebuild from the log.
    await cloud.compute.runner.snapshot()
    result = {r.projection: r for r in await check(cloud.store, catalog.projections(catalog))}
    assert result["compute"].status == "consistent", result["compute"].differences
