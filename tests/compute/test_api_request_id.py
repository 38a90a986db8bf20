"""x-compute-request-id: the request id under Nova's own header, errors included."""

from __future__ import annotations

from tests.compute.conftest import IMAGE_ID, ComputeCloud


async def test_compute_answers_carry_the_request_id_twice(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    headers = {"X-Auth-Token": cloud.admin.token, "OpenStack-API-Version": "compute 2.100"}
    server = {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none"}
    body = {"server": server}
    response = await cloud.client.post("/compute/v2.1/servers", json=body, headers=headers)
    assert response.status == 202
    request_id = response.headers["x-compute-request-id"]
    assert request_id == response.headers["x-openstack-request-id"]
    server_id = (await response.json())["server"]["id"]
    _, actions = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions")
    assert actions["instanceActions"][0]["request_id"] == request_id
    for path in ("/compute/v2.1/servers/nope", "/compute/v2.1/flavors?limit=x"):
        response = await cloud.client.get(path, headers=headers)
        assert response.status in (400, 404)
        assert response.headers["x-compute-request-id"].startswith("req-")
