"""Access addresses (boot and update) and tags at boot (2.52+)."""

from __future__ import annotations

from typing import Any

from tests.compute.conftest import IMAGE_ID, ComputeCloud

BAD_ADDRESSES: list[dict[str, Any]] = [
    {"accessIPv4": "1.1.1.1.1"},
    {"accessIPv6": "2001::1::2"},
    {"accessIPv4": "2001::1"},
    {"accessIPv6": "1.2.3.4"},
    {"accessIPv4": 7},
]


async def test_access_addresses_are_recorded_shown_and_changed(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner, other = await cloud.member(), await cloud.member()
    status, body = await cloud.boot(owner, accessIPv4="1.1.1.1", accessIPv6="2001:2001::3")
    assert status == 202, body
    server_id = body["server"]["id"]
    status, body = await cloud.call("GET", f"/servers/{server_id}", owner)
    assert (body["server"]["accessIPv4"], body["server"]["accessIPv6"]) == (
        "1.1.1.1",
        "2001:2001::3",
    )
    status, body = await cloud.call(
        "PUT", f"/servers/{server_id}", owner, {"server": {"accessIPv4": "4.3.2.1"}}
    )
    assert status == 200
    assert (body["server"]["accessIPv4"], body["server"]["accessIPv6"]) == (
        "4.3.2.1",
        "2001:2001::3",
    )
    status, body = await cloud.call(
        "PUT", f"/servers/{server_id}", owner, {"server": {"accessIPv6": ""}}
    )
    assert body["server"]["accessIPv6"] == ""
    for bad in BAD_ADDRESSES:
        status, body = await cloud.boot(owner, **bad)
        assert status == 400, bad
        assert "accessIPv" in body["badRequest"]["message"]
        status, body = await cloud.call("PUT", f"/servers/{server_id}", owner, {"server": bad})
        assert status == 400, bad
    status, _ = await cloud.call(
        "PUT", f"/servers/{server_id}", other, {"server": {"accessIPv4": "9.9.9.9"}}
    )
    assert status == 404
    status, body = await cloud.call("GET", f"/servers/{server_id}", owner)
    assert body["server"]["accessIPv4"] == "4.3.2.1"


async def test_tags_at_boot(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    status, body = await cloud.boot(owner, tags=["web", "prod", "web"])
    assert status == 202, body
    server_id = body["server"]["id"]
    status, body = await cloud.call("GET", f"/servers/{server_id}/tags", owner, version="2.52")
    assert body == {"tags": ["web", "prod"]}
    for bad in (["a/b"], "web", [f"t{i}" for i in range(51)]):
        status, body = await cloud.boot(owner, tags=bad)
        assert status == 400, bad
    server = {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "tags": ["x"]}
    body = {"server": {**server, "networks": "none"}}
    status, answer = await cloud.call("POST", "/servers", owner, body, version="2.51")
    assert status == 400
    assert "'tags' was unexpected" in answer["badRequest"]["message"]
