"""Server tags (2.26+) through the HTTP API."""

from __future__ import annotations

from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server

V = "2.26"


async def test_tags_add_check_replace_delete(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    base = f"/servers/{server_id}/tags"
    status, body = await cloud.call("GET", base, owner, version=V)
    assert (status, body) == (200, {"tags": []})
    response = await cloud.client.put(
        f"/compute/v2.1{base}/blue",
        headers={"X-Auth-Token": owner.token, "OpenStack-API-Version": f"compute {V}"},
    )
    assert response.status == 201
    assert response.headers["Location"].endswith(f"/compute/v2.1/servers/{server_id}/tags/blue")
    status, _ = await cloud.call("PUT", f"{base}/blue", owner, version=V)
    assert status == 204  # already there
    status, _ = await cloud.call("GET", f"{base}/blue", owner, version=V)
    assert status == 204
    status, body = await cloud.call("GET", f"{base}/red", owner, version=V)
    assert status == 404
    assert body["itemNotFound"]["message"] == f"Tag red does not exist for instance {server_id}"
    status, body = await cloud.call("PUT", base, owner, {"tags": ["a", "b", "a"]}, version=V)
    assert (status, body) == (200, {"tags": ["a", "b"]})
    status, body = await cloud.call("GET", f"/servers/{server_id}", owner, version=V)
    assert body["server"]["tags"] == ["a", "b"]
    status, _ = await cloud.call("DELETE", f"{base}/a", owner, version=V)
    assert status == 204
    status, _ = await cloud.call("DELETE", f"{base}/a", owner, version=V)
    assert status == 404
    status, body = await cloud.call("GET", base, owner, version=V)
    assert body == {"tags": ["b"]}
    status, _ = await cloud.call("DELETE", base, owner, version=V)
    assert status == 204
    status, body = await cloud.call("GET", base, owner, version=V)
    assert body == {"tags": []}


async def test_tags_bad_input_limits_versions_and_isolation(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner, other = await cloud.member(), await cloud.member()
    server_id = await running_server(cloud, owner)
    base = f"/servers/{server_id}/tags"
    status, _ = await cloud.call("GET", base, owner, version="2.25")
    assert status == 404
    bad_bodies = [
        {"tags": ["a/b"]},
        {"tags": ["x" * 61]},
        {"tags": [""]},
        {"tags": [1]},
        {"tags": "a"},
        {"tags": ["a"], "more": 1},
    ]
    for bad in bad_bodies:
        status, body = await cloud.call("PUT", base, owner, bad, version=V)
        assert status == 400, bad
        assert body["badRequest"]["code"] == 400
    status, body = await cloud.call("PUT", f"{base}/a,b", owner, version=V)
    assert status == 400
    assert "is invalid" in body["badRequest"]["message"]
    status, body = await cloud.call(
        "PUT", base, owner, {"tags": [f"t{i}" for i in range(51)]}, version=V
    )
    assert status == 400
    assert "per-server limit 50" in body["badRequest"]["message"]
    fifty = {"tags": [f"t{i}" for i in range(50)]}
    status, _ = await cloud.call("PUT", base, owner, fifty, version=V)
    assert status == 200
    status, body = await cloud.call("PUT", f"{base}/one-more", owner, version=V)
    assert status == 400
    for method, path in (("GET", base), ("PUT", f"{base}/mine"), ("DELETE", base)):
        status, body = await cloud.call(method, path, other, version=V)
        assert status == 404, method
        assert body["itemNotFound"]["code"] == 404
    status, body = await cloud.call("GET", base, owner, version=V)
    assert len(body["tags"]) == 50


async def test_tags_need_a_settled_server(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    status, answer = await cloud.boot(owner)
    server_id = answer["server"]["id"]
    status, body = await cloud.call("PUT", f"/servers/{server_id}/tags/early", owner, version=V)
    assert status == 409
    assert "vm_state building" in body["conflictingRequest"]["message"]
