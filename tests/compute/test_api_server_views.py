"""What a server's view holds in each answer: a show, a listing, a change."""

from __future__ import annotations

from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server

CHANGE_LEAVES_OUT = (
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "OS-EXT-STS:vm_state",
    "OS-SRV-USG:launched_at",
    "security_groups",
    "os-extended-volumes:volumes_attached",
)


async def test_update_answer_before_275_leaves_out_extended_attributes(
    cloud: ComputeCloud,
) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    status, shown = await cloud.call("GET", f"/servers/{server_id}", owner)
    assert status == 200
    assert "OS-EXT-AZ:availability_zone" in shown["server"]
    assert "OS-EXT-IPS:type" in shown["server"]["addresses"]["private"][0]
    for version in ("2.1", "2.74"):
        status, body = await cloud.call(
            "PUT", f"/servers/{server_id}", owner, {"server": {"name": "renamed"}}, version=version
        )
        assert status == 200, body
        changed = body["server"]
        assert changed["name"] == "renamed"
        for key in CHANGE_LEAVES_OUT:
            assert key not in changed, (version, key)
        assert changed["addresses"] == {"private": [{"version": 4, "addr": "10.0.0.5"}]}
    status, body = await cloud.call(
        "PUT", f"/servers/{server_id}", json={"server": {"name": "again"}}, version="2.74"
    )
    assert not any(k.startswith("OS-EXT-SRV-ATTR:") for k in body["server"])  # admin too
    status, body = await cloud.call(
        "PUT", f"/servers/{server_id}", owner, {"server": {"name": "full"}}, version="2.75"
    )
    assert body["server"]["OS-EXT-STS:vm_state"] == "active"
    assert body["server"]["server_groups"] == []
    assert "OS-EXT-IPS:type" in body["server"]["addresses"]["private"][0]


async def test_server_groups_shown_for_one_server_never_in_a_listing(
    cloud: ComputeCloud,
) -> None:
    await cloud.register_host("h1")
    owner, other = await cloud.member(), await cloud.member()
    server_id = await running_server(cloud, owner)
    status, body = await cloud.call("GET", f"/servers/{server_id}", owner, version="2.71")
    assert body["server"]["server_groups"] == []
    status, body = await cloud.call("GET", "/servers/detail", owner, version="2.100")
    assert status == 200
    assert [s["id"] for s in body["servers"]] == [server_id]
    assert "server_groups" not in body["servers"][0]
    status, body = await cloud.call("GET", "/servers/detail", other, version="2.100")
    assert body["servers"] == []
    status, body = await cloud.call(
        "PUT", f"/servers/{server_id}", other, {"server": {"name": "x"}}
    )
    assert status == 404
    assert body["itemNotFound"]["code"] == 404
