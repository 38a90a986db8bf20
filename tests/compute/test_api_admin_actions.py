"""os-resetState: admins set a server's vm_state by hand."""

from __future__ import annotations

from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server


async def _reset(cloud: ComputeCloud, server_id: str, state: object, who: object = None) -> object:
    return await cloud.call(
        "POST", f"/servers/{server_id}/action", who, {"os-resetState": {"state": state}}
    )


async def test_reset_to_error_and_back(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    status, _ = await _reset(cloud, server_id, "error")
    assert status == 202
    assert await cloud.server_status(server_id, owner) == "ERROR"
    status, body = await cloud.call("GET", "/servers/detail?status=ERROR", owner)
    assert [s["id"] for s in body["servers"]] == [server_id]
    status, _ = await _reset(cloud, server_id, "active")
    assert status == 202
    status, body = await cloud.call("GET", f"/servers/{server_id}", owner)
    assert body["server"]["status"] == "ACTIVE"
    assert body["server"]["OS-EXT-STS:task_state"] is None


async def test_reset_ends_a_task_nobody_will_finish(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner, {"os-stop": None})
    assert status == 202  # no agent here: it stays powering-off
    assert cloud.compute.state.servers[server_id].task_state == "powering-off"
    assert server_id in cloud.compute.state.transitional
    status, _ = await _reset(cloud, server_id, "error")
    assert status == 202
    server = cloud.compute.state.servers[server_id]
    assert (server.vm_state, server.task_state) == ("error", None)
    assert server_id not in cloud.compute.state.transitional
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner, {"os-start": None})
    assert status == 409  # an errored server does not start


async def test_reset_is_for_admins_and_takes_two_states(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    status, body = await _reset(cloud, server_id, "error", owner)
    assert status == 403
    assert body["forbidden"]["code"] == 403
    for bad in ("stopped", "ACTIVE", None, 1):
        status, body = await _reset(cloud, server_id, bad)
        assert status == 400, bad
        assert body["badRequest"]["code"] == 400
    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", json={"os-resetState": None}
    )
    assert status == 400
    status, _ = await _reset(cloud, "00000000-0000-0000-0000-000000000000", "error")
    assert status == 404
    assert await cloud.server_status(server_id, owner) == "ACTIVE"
