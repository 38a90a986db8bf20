"""Host aggregates through the HTTP API: CRUD, hosts, metadata, the zones they give."""

from __future__ import annotations

from typing import Any

from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server

BAD_BODIES: list[dict[str, Any]] = [
    {"name": ""},
    {"name": "a" * 256},
    {"name": " padded "},
    {},
    {"name": "x", "availability_zone": "a:b"},
    {"name": "x", "colour": "red"},
    {"name": 7},
]


async def _create(cloud: ComputeCloud, name: str, **extra: Any) -> dict[str, Any]:
    status, body = await cloud.call(
        "POST", "/os-aggregates", json={"aggregate": {"name": name, **extra}}
    )
    assert status == 200, body
    aggregate: dict[str, Any] = body["aggregate"]
    return aggregate


async def _act(cloud: ComputeCloud, aggregate_id: int, body: Any, who: Any = None) -> Any:
    return await cloud.call("POST", f"/os-aggregates/{aggregate_id}/action", who, body)


async def test_aggregate_lifecycle(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    made = await _create(cloud, "rack-1")
    assert isinstance(made["id"], int)
    assert "hosts" not in made
    assert made["availability_zone"] is None
    assert made["deleted"] is False
    second = await _create(cloud, "rack-2", availability_zone="zone-b")
    assert second["id"] == made["id"] + 1
    status, body = await cloud.call("GET", "/os-aggregates")
    assert [a["name"] for a in body["aggregates"]] == ["rack-1", "rack-2"]
    assert body["aggregates"][1]["metadata"] == {"availability_zone": "zone-b"}
    assert "uuid" not in body["aggregates"][0]
    status, body = await cloud.call("GET", f"/os-aggregates/{made['id']}", version="2.41")
    assert len(body["aggregate"]["uuid"]) == 36

    status, body = await _act(cloud, made["id"], {"add_host": {"host": "h1"}})
    assert (status, body["aggregate"]["hosts"]) == (200, ["h1"])
    status, body = await _act(cloud, made["id"], {"add_host": {"host": "h1"}})
    assert status == 409
    assert body["conflictingRequest"]["message"] == f"Aggregate {made['id']} already has host h1."
    status, body = await _act(cloud, made["id"], {"add_host": {"host": "nowhere"}})
    assert status == 404
    assert body["itemNotFound"]["message"] == "Compute host nowhere could not be found."

    status, body = await _act(
        cloud, made["id"], {"set_metadata": {"metadata": {"ssd": "true", "gpu": None}}}
    )
    assert body["aggregate"]["metadata"] == {"ssd": "true"}
    status, body = await _act(cloud, made["id"], {"set_metadata": {"metadata": {"ssd": None}}})
    assert body["aggregate"]["metadata"] == {}

    status, body = await cloud.call(
        "PUT", f"/os-aggregates/{made['id']}", json={"aggregate": {"name": "rack-one"}}
    )
    assert status == 200
    assert body["aggregate"]["name"] == "rack-one"
    assert body["aggregate"]["updated_at"] is not None
    status, body = await cloud.call(
        "PUT", f"/os-aggregates/{made['id']}", json={"aggregate": {"name": "rack-2"}}
    )
    assert status == 409

    status, body = await cloud.call("DELETE", f"/os-aggregates/{made['id']}")
    assert status == 400
    assert "not empty" in body["badRequest"]["message"]
    status, body = await _act(cloud, made["id"], {"remove_host": {"host": "h1"}})
    assert (status, body["aggregate"]["hosts"]) == (200, [])
    status, body = await _act(cloud, made["id"], {"remove_host": {"host": "h1"}})
    assert status == 404
    status, _ = await cloud.call("DELETE", f"/os-aggregates/{made['id']}")
    assert status == 200
    status, body = await cloud.call("GET", f"/os-aggregates/{made['id']}")
    assert status == 404
    assert body["itemNotFound"]["message"] == f"Aggregate {made['id']} could not be found."
    # Ids are never given twice.
    assert (await _create(cloud, "rack-3"))["id"] == second["id"] + 1


async def test_aggregate_bad_input_is_400_and_names_are_unique(cloud: ComputeCloud) -> None:
    await _create(cloud, "taken")
    status, body = await cloud.call("POST", "/os-aggregates", json={"aggregate": {"name": "taken"}})
    assert status == 409
    assert body["conflictingRequest"]["message"] == "Aggregate taken already exists."
    for bad in BAD_BODIES:
        status, body = await cloud.call("POST", "/os-aggregates", json={"aggregate": bad})
        assert status == 400, bad
        assert body["badRequest"]["code"] == 400
    for path in ("/os-aggregates/-1", "/os-aggregates/999"):
        status, _ = await cloud.call("GET", path)
        assert status == 404
        status, _ = await cloud.call("DELETE", path)
        assert status == 404
    status, _ = await cloud.call("GET", "/os-aggregates/abc")
    assert status == 400
    status, _ = await _act(cloud, 1, {"add_host": {"host": "h1"}, "remove_host": {"host": "h1"}})
    assert status == 400
    status, _ = await _act(cloud, 1, {"set_metadata": {"metadata": {"bad/key": "x"}}})
    assert status == 400
    status, body = await cloud.call("GET", "/os-aggregates")
    assert [a["name"] for a in body["aggregates"]] == ["taken"]


async def test_members_may_not_touch_aggregates(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    member = await cloud.member()
    made = await _create(cloud, "admins-only")
    calls = [
        ("GET", "/os-aggregates", None),
        ("POST", "/os-aggregates", {"aggregate": {"name": "mine"}}),
        ("GET", f"/os-aggregates/{made['id']}", None),
        ("PUT", f"/os-aggregates/{made['id']}", {"aggregate": {"name": "mine"}}),
        ("DELETE", f"/os-aggregates/{made['id']}", None),
        ("POST", f"/os-aggregates/{made['id']}/action", {"add_host": {"host": "h1"}}),
        ("POST", f"/os-aggregates/{made['id']}/action", {"remove_host": {"host": "h1"}}),
    ]
    for method, path, body in calls:
        status, answer = await cloud.call(method, path, member, body)
        assert status == 403, (method, path)
        assert answer["forbidden"]["code"] == 403
    status, body = await cloud.call("GET", f"/os-aggregates/{made['id']}")
    assert (body["aggregate"]["name"], body["aggregate"]["hosts"]) == ("admins-only", [])


async def test_an_aggregates_zone_is_its_hosts_zone(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    await cloud.register_host("h2")
    member = await cloud.member()
    fast = await _create(cloud, "fast", availability_zone="fast-zone")
    await _act(cloud, fast["id"], {"add_host": {"host": "h2"}})
    status, body = await cloud.call("GET", "/os-availability-zone")
    zones = {z["zoneName"] for z in body["availabilityZoneInfo"]}
    assert zones == {"nova", "fast-zone"}
    # A boot into the zone lands on the aggregate's host.
    server_id = await running_server(cloud, member, host="h2", availability_zone="fast-zone")
    assert cloud.compute.state.servers[server_id].host == "h2"
    status, body = await cloud.call("GET", f"/servers/{server_id}", member)
    assert body["server"]["OS-EXT-AZ:availability_zone"] == "fast-zone"
    # A host is in one named zone only; a zone does not move under its servers.
    other = await _create(cloud, "other", availability_zone="other-zone")
    status, body = await _act(cloud, other["id"], {"add_host": {"host": "h2"}})
    assert status == 409
    status, body = await cloud.call(
        "PUT", f"/os-aggregates/{fast['id']}", json={"aggregate": {"availability_zone": "moved"}}
    )
    assert status == 400
    assert "contain instances" in body["badRequest"]["message"]
    # Without servers the zone follows the aggregate, and a restarted agent keeps it.
    status, _ = await _act(cloud, other["id"], {"add_host": {"host": "h1"}})
    assert status == 200
    await cloud.register_host("h1")
    assert cloud.compute.state.hosts["h1"].availability_zone == "other-zone"
    await _act(cloud, other["id"], {"set_metadata": {"metadata": {"availability_zone": None}}})
    assert cloud.compute.state.hosts["h1"].availability_zone == "nova"
