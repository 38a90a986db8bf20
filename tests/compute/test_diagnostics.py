"""Server diagnostics come from the agent that owns the guest (api/compute/diagnostics.py,
agents/compute/diagnostics.py): on libvirt's test driver end to end, and the API's
side with the test as the agent."""

from __future__ import annotations

import asyncio

import libvirt
import pytest
from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server
from tests.compute.test_end_to_end import _status_is
from tests.compute.test_end_to_end import cloud as agents_cloud

from cairn.agents.compute import guest_stats
from cairn.api.compute import diagnostics
from cairn.events import ANY_VERSION, Metadata, registry
from cairn.events import compute as ev
from cairn.store.port import StreamWrite

__all__ = ["agents_cloud"]

STATS = ev.GuestStats(
    state="running",
    hypervisor="qemu",
    cpu_times=[1500, 2500],
    memory_max_kib=131072,
    memory_used_kib=65536,
    disks=[ev.DiskStats(name="vda", read_requests=3, read_bytes=4096, errors=0)],
    nics=[ev.NicStats(name="tap1", mac_address="fa:16:3e:00:00:01", rx_bytes=10, tx_bytes=20)],
)


def test_stats_of_a_test_driver_guest() -> None:
    connection = libvirt.open("test:///default")
    try:
        found = guest_stats.collect(connection.lookupByName("test"), "TEST")
    finally:
        connection.close()
    assert (found.state, found.hypervisor) == ("running", "test")
    assert len(found.cpu_times) == 2
    assert found.memory_max_kib == 8388608
    assert [d.name for d in found.disks] == ["vda"]
    assert found.disks[0].read_requests > 0
    assert [n.name for n in found.nics] == ["testnet0"]


async def _answer_as_the_agent(
    cloud: ComputeCloud, server_id: str, stats: ev.GuestStats | None, error: str | None
) -> None:
    stream = ev.diagnostics_stream(server_id)
    answered = {
        registry.decode(e).request_id  # type: ignore[attr-defined]
        for e in await cloud.store.read_stream(stream)
        if e.type == "ServerDiagnosticsCaptured"
    }
    while True:
        asked = [
            e
            for e in await cloud.store.read_stream(stream)
            if e.type == "ServerDiagnosticsRequested"
            and registry.decode(e).request_id not in answered  # type: ignore[attr-defined]
        ]
        if asked:
            break
        await asyncio.sleep(0.02)
    request = registry.decode(asked[-1])
    assert isinstance(request, ev.ServerDiagnosticsRequested)
    assert request.host == "h1"
    captured = ev.ServerDiagnosticsCaptured(
        server_id=server_id, request_id=request.request_id, stats=stats, error=error
    )
    await cloud.store.append(StreamWrite(stream, [registry.new(captured, Metadata())], ANY_VERSION))


async def test_the_api_asks_the_host_and_shapes_the_answer(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    path = f"/servers/{server_id}/diagnostics"
    answering = asyncio.create_task(_answer_as_the_agent(cloud, server_id, STATS, None))
    status, body = await cloud.call("GET", path)
    await answering
    assert status == 200, body
    assert body["cpu0_time"] == 1500
    assert body["cpu1_time"] == 2500
    assert (body["memory"], body["vda_read_req"], body["tap1_tx"]) == (131072, 3, 20)
    answering = asyncio.create_task(_answer_as_the_agent(cloud, server_id, STATS, None))
    status, body = await cloud.call("GET", path, version="2.48")
    await answering
    assert (body["state"], body["driver"], body["num_cpus"], body["num_nics"]) == (
        "running",
        "libvirt",
        2,
        1,
    )
    assert body["memory_details"] == {"maximum": 128, "used": 64}
    assert body["nic_details"][0]["mac_address"] == "fa:16:3e:00:00:01"
    assert body["disk_details"][0]["read_bytes"] == 4096
    answering = asyncio.create_task(_answer_as_the_agent(cloud, server_id, None, "gone"))
    status, body = await cloud.call("GET", path)
    await answering
    assert status == 409
    assert body["conflictingRequest"]["code"] == 409


async def test_diagnostics_refusals(cloud: ComputeCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnostics, "ANSWER_TIMEOUT", 0.3)
    await cloud.register_host("h1")
    owner, other = await cloud.member(), await cloud.member()
    status, answer = await cloud.boot(owner)
    building = answer["server"]["id"]
    status, body = await cloud.call("GET", f"/servers/{building}/diagnostics")
    assert status == 409
    server_id = await running_server(cloud, owner)
    status, body = await cloud.call("GET", f"/servers/{server_id}/diagnostics", owner)
    assert status == 403
    assert body["forbidden"]["code"] == 403
    status, _ = await cloud.call("GET", f"/servers/{server_id}/diagnostics", other)
    assert status == 404
    status, body = await cloud.call("GET", f"/servers/{server_id}/diagnostics")
    assert status == 503  # h1 runs no agent here: nobody answers


async def test_diagnostics_of_a_guest_on_the_test_driver(agents_cloud: ComputeCloud) -> None:
    cloud = agents_cloud
    await cloud.wait_for(lambda: len(cloud.compute.state.hosts) == 2)
    status, body = await cloud.boot(name="diag")
    assert status == 202, body
    server_id = body["server"]["id"]
    await _status_is(cloud, server_id, "ACTIVE")
    status, body = await cloud.call("GET", f"/servers/{server_id}/diagnostics", version="2.48")
    assert status == 200, body
    assert (body["state"], body["hypervisor"]) == ("running", "test")
    assert body["num_cpus"] == 1
    assert body["memory_details"]["maximum"] == 128
    status, body = await cloud.call("GET", f"/servers/{server_id}/diagnostics")
    assert status == 200
    assert "cpu0_time" in body
