"""``changePassword`` through the HTTP API (the host registered as its agent would,
the agent's outcome appended by the test): the password reaches the host's agent
sealed, never as written; the answer waits for the outcome; Nova's refusals."""

from __future__ import annotations

import asyncio

import msgspec
from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server

from cairn.events import compute as ev

PASSWORD = "n3w-Adm1n-pass"


async def _agent_host(cloud: ComputeCloud, *capabilities: str) -> None:
    event = ev.ComputeHostRegistered(
        host="h1",
        hypervisor_type="QEMU",
        hypervisor_version=7002000,
        hypervisor_uri="qemu:///system",
        availability_zone="nova",
        capacity=ev.ResourceAmounts(vcpus=8, memory_mb=8192, disk_gb=100),
        capabilities=list(capabilities),
    )
    await cloud.append("computehost-h1", event)


async def _requested(cloud: ComputeCloud, server_id: str) -> ev.ServerActionRequested:
    async def find() -> ev.ServerActionRequested:
        while True:
            for record in reversed(await cloud.store.read_stream(ev.server_stream(server_id))):
                if record.type == "ServerActionRequested":
                    asked = msgspec.json.decode(record.data, type=ev.ServerActionRequested)
                    if asked.action == "changePassword":
                        assert PASSWORD.encode() not in record.data  # sealed, never as written
                        return asked
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(find(), 10)


async def test_the_password_goes_sealed_and_the_answer_waits_for_the_agent(
    cloud: ComputeCloud,
) -> None:
    await _agent_host(cloud, "set-password")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    body = {"changePassword": {"adminPass": PASSWORD}}

    call = asyncio.create_task(cloud.call("POST", f"/servers/{server_id}/action", owner, body))
    asked = await _requested(cloud, server_id)
    assert asked.sealed_password is not None
    assert cloud.compute.secrets.open(asked.sealed_password) == PASSWORD
    assert cloud.compute.state.servers[server_id].task_state == "updating_password"
    assert not call.done()  # Nova's call is synchronous: it waits for the host
    done = ev.ServerActionCompleted(
        server_id=server_id, host="h1", action="changePassword", vm_state="active", power_state=1
    )
    await cloud.append(ev.server_stream(server_id), done)
    status, _ = await call
    assert status == 202
    status, actions = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions", owner)
    assert actions["instanceActions"][0]["action"] == "changePassword"

    # the agent could not: a 409 with its reason, and the server as it was
    call = asyncio.create_task(cloud.call("POST", f"/servers/{server_id}/action", owner, body))
    await _requested(cloud, server_id)
    await asyncio.sleep(0.1)
    failed = ev.ServerActionFailed(
        server_id=server_id,
        host="h1",
        action="changePassword",
        reason="libvirt: Guest agent is not responding",
    )
    await cloud.append(ev.server_stream(server_id), failed)
    status, answer = await call
    assert status == 409, answer
    assert "Guest agent is not responding" in answer["conflictingRequest"]["message"]
    assert cloud.compute.state.servers[server_id].task_state is None
    assert cloud.compute.state.servers[server_id].vm_state == "active"


async def test_change_password_refusals(cloud: ComputeCloud) -> None:
    await _agent_host(cloud, "set-password")
    owner, other = await cloud.member(), await cloud.member()
    server_id = await running_server(cloud, owner)
    path = f"/servers/{server_id}/action"
    before = len(await cloud.store.read_stream(ev.server_stream(server_id)))

    for args in ({}, {"adminPass": 5}, {"adminPass": "x", "more": 1}, "pw", None):
        status, body = await cloud.call("POST", path, owner, {"changePassword": args})
        assert status == 400, (args, body)
        assert body["badRequest"]["message"], body
    status, _ = await cloud.call("POST", path, other, {"changePassword": {"adminPass": "x"}})
    assert status == 404
    # nothing was asked of the agent by any of them
    assert len(await cloud.store.read_stream(ev.server_stream(server_id))) == before

    await cloud.append(
        ev.server_stream(server_id),
        ev.ServerPowerStateChanged(
            server_id=server_id, host="h1", vm_state="stopped", power_state=4
        ),
    )
    status, body = await cloud.call("POST", path, owner, {"changePassword": {"adminPass": "x"}})
    assert status == 409
    assert "vm_state stopped" in body["conflictingRequest"]["message"]


async def test_a_hypervisor_without_a_guest_agent_cannot(cloud: ComputeCloud) -> None:
    await _agent_host(cloud)  # the test driver's capabilities: no guest agent
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", owner, {"changePassword": {"adminPass": "x"}}
    )
    assert status == 409
    assert body["conflictingRequest"]["message"] == (
        "Set admin password is not supported by this hypervisor."
    )
