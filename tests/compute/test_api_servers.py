"""Servers through the HTTP API: boot, list, show, update, delete; isolation; bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

from tests.compute.conftest import (
    IMAGE_ID,
    ComputeCloud,
    default_images,
    settings_for,
    start_cloud,
)

from cairn.events import compute as ev


async def test_discovery_and_microversions(cloud: ComputeCloud) -> None:
    response = await cloud.client.get("/compute")
    body = await response.json()
    assert body["versions"][0]["id"] == "v2.1"
    assert body["versions"][0]["version"] == "2.100"
    assert body["versions"][0]["min_version"] == "2.1"
    response = await cloud.client.get("/compute/v2.1")
    assert (await response.json())["version"]["status"] == "CURRENT"

    headers = {"X-Auth-Token": cloud.admin.token}
    response = await cloud.client.get("/compute/v2.1/flavors", headers=headers)
    assert response.headers["OpenStack-API-Version"] == "compute 2.1"
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in response.headers["Vary"]
    response = await cloud.client.get(
        "/compute/v2.1/flavors", headers={**headers, "X-OpenStack-Nova-API-Version": "2.60"}
    )
    assert response.headers["OpenStack-API-Version"] == "compute 2.60"
    status, _ = await cloud.call("GET", "/flavors", version="latest")
    assert status == 200
    status, body = await cloud.call("GET", "/flavors", version="2.101")
    assert status == 406
    assert "maximum is 2.100" in body["computeFault"]["message"]
    status, body = await cloud.call("GET", "/flavors", version="2.x")
    assert status == 400
    assert "invalid format" in body["badRequest"]["message"]


async def test_default_flavors_and_flavor_shapes(cloud: ComputeCloud) -> None:
    status, body = await cloud.call("GET", "/flavors/detail")
    assert status == 200
    names = {f["name"]: f for f in body["flavors"]}
    assert {"m1.tiny", "m1.small", "m1.nano", "m1.micro"} <= set(names)
    assert names["m1.nano"]["ram"] == 128
    assert "description" not in names["m1.nano"]
    status, body = await cloud.call("GET", "/flavors/42", version="2.61")
    assert body["flavor"]["extra_specs"] == {}
    assert body["flavor"]["description"] is None


async def test_boot_schedules_claims_and_quota(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    user = await cloud.member()
    status, body = await cloud.boot(user, name="web", metadata={"role": "web"})
    assert status == 202, body
    server_id = body["server"]["id"]
    assert body["server"]["links"][0]["href"].endswith(f"/compute/v2.1/servers/{server_id}")

    await cloud.wait_for(lambda: server_id in cloud.compute.state.hosts["h1"].claims)
    status, body = await cloud.call("GET", f"/servers/{server_id}", user, version="2.100")
    server = body["server"]
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("BUILD", "spawning")
    assert server["flavor"]["original_name"] == "m1.nano"
    assert server["image"]["id"] == IMAGE_ID
    assert server["metadata"] == {"role": "web"}
    assert "OS-EXT-SRV-ATTR:host" not in server  # not for a member
    assert server["tenant_id"] == user.project_id

    status, body = await cloud.call("GET", f"/os-quota-sets/{user.project_id}/detail", user)
    assert body["quota_set"]["instances"]["in_use"] == 1
    assert body["quota_set"]["ram"]["in_use"] == 128

    # The agent reports the guest running: ACTIVE.
    await cloud.append(
        f"server-{server_id}",
        ev.ServerSpawned(server_id=server_id, host="h1", launched_at="2026-11-21T12:00:00Z",
                         instance_name="cairn-h1-x"),
    )  # fmt: skip
    assert await cloud.server_status(server_id, user) == "ACTIVE"
    status, body = await cloud.call("GET", f"/servers/{server_id}", version="2.100")
    assert body["server"]["OS-EXT-SRV-ATTR:host"] == "h1"
    assert body["server"]["host_status"] == "UP"

    # Delete: the agent is asked; its answer releases the claim and the quota.
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}", user)
    assert status == 204
    status, body = await cloud.call("GET", f"/servers/{server_id}", user)
    assert body["server"]["OS-EXT-STS:task_state"] == "deleting"
    await cloud.append(
        f"server-{server_id}",
        ev.ServerDeleted(server_id=server_id, deleted_at="2026-11-21T12:01:00Z"),
    )
    await cloud.append("computehost-h1", ev.HostResourcesReleased(host="h1", server_id=server_id))
    await cloud.append(
        f"computequota-{user.project_id}",
        ev.ComputeQuotaReleased(project_id=user.project_id, server_id=server_id),
    )
    status, _ = await cloud.call("GET", f"/servers/{server_id}", user)
    assert status == 404
    status, body = await cloud.call("GET", f"/os-quota-sets/{user.project_id}/detail", user)
    assert body["quota_set"]["instances"]["in_use"] == 0
    assert cloud.compute.state.hosts["h1"].claims == {}
    # The instance actions outlive the server.
    status, body = await cloud.call(
        "GET", f"/servers/{server_id}/os-instance-actions", user, version="2.21"
    )
    assert [a["action"] for a in body["instanceActions"]] == ["delete", "create"]


async def test_no_host_means_error_with_no_valid_host(cloud: ComputeCloud) -> None:
    status, body = await cloud.boot()
    server_id = body["server"]["id"]
    await cloud.wait_for(lambda: cloud.compute.state.servers[server_id].vm_state == "error")
    status, body = await cloud.call("GET", f"/servers/{server_id}")
    assert body["server"]["status"] == "ERROR"
    assert body["server"]["fault"]["message"].startswith("No valid host was found")
    assert body["server"]["fault"]["code"] == 500
    # A server on no host is deleted at once, and its quota is given back.
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}")
    assert status == 204
    status, _ = await cloud.call("GET", f"/servers/{server_id}")
    assert status == 404
    assert cloud.compute.state.usage[cloud.admin.project_id].instances == 0


async def test_tenants_are_isolated(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    alice, bob = await cloud.member(), await cloud.member()
    _, body = await cloud.boot(alice)
    server_id = body["server"]["id"]
    for method, path in (
        ("GET", f"/servers/{server_id}"),
        ("DELETE", f"/servers/{server_id}"),
        ("GET", f"/servers/{server_id}/metadata"),
        ("GET", f"/servers/{server_id}/os-instance-actions"),
    ):
        status, body = await cloud.call(method, path, bob)
        assert status == 404, (method, path, body)
        assert "itemNotFound" in body
    status, body = await cloud.call("POST", f"/servers/{server_id}/action", bob, {"os-stop": None})
    assert status == 404
    _, body = await cloud.call("GET", "/servers", bob)
    assert body["servers"] == []
    _, body = await cloud.call("GET", "/servers?all_tenants=1", bob)
    assert "forbidden" in body
    _, body = await cloud.call("GET", "/servers?all_tenants=1")
    assert server_id in {s["id"] for s in body["servers"]}


async def test_bad_input_is_a_400_with_novas_fault_body(cloud: ComputeCloud) -> None:
    cases = [
        {"name": "vm"},  # no imageRef... nor flavorRef
        {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "nope", "networks": "none"},
        {"name": "vm", "imageRef": "not-a-uuid", "flavorRef": "42", "networks": "none"},
        {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42"},  # networks needed at 2.37+
        {"name": "", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none"},
        {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none", "bogus": 1},
        {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none",
         "user_data": "%%% not base64"},
        {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none",
         "min_count": 3, "max_count": 2},
        {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none",
         "key_name": "missing"},
        {"name": "vm", "imageRef": "2f1c7e0a-5b7d-4a7e-9d1e-0000000000ff", "flavorRef": "42",
         "networks": "none"},
        {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none",
         "config_drive": "maybe"},
        {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none",
         "config_drive": 1},
    ]  # fmt: skip
    for server in cases:
        status, body = await cloud.call("POST", "/servers", json={"server": server}, version="2.90")
        assert status == 400, (server, body)
        assert body["badRequest"]["code"] == 400
    response = await cloud.client.post(
        "/compute/v2.1/servers",
        data=b"{not json",
        headers={"X-Auth-Token": cloud.admin.token, "Content-Type": "application/json"},
    )
    assert response.status == 400
    status, body = await cloud.call("GET", "/servers?status=WRONG", version="2.38")
    assert status == 400
    status, body = await cloud.call("GET", "/servers?limit=-3")
    assert status == 400
    status, body = await cloud.call("GET", "/servers?marker=unknown")
    assert status == 400
    status, _ = await cloud.call("GET", "/servers/not-there")
    assert status == 404
    assert cloud.compute.state.servers == {}


async def test_list_filters_and_paging(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    ids = []
    for name in ("alpha", "beta", "gamma", "alpine"):
        _, body = await cloud.boot(name=name)
        ids.append(body["server"]["id"])
    _, body = await cloud.call("GET", "/servers?name=^al")
    assert {s["name"] for s in body["servers"]} == {"alpha", "alpine"}
    _, body = await cloud.call("GET", "/servers?limit=2")
    assert len(body["servers"]) == 2
    assert "marker=" in body["servers_links"][0]["href"]
    _, rest = await cloud.call("GET", f"/servers?limit=2&marker={body['servers'][-1]['id']}")
    assert len(rest["servers"]) == 2
    assert {s["id"] for s in body["servers"] + rest["servers"]} == set(ids)
    _, body = await cloud.call("GET", "/servers/detail?flavor=42&image=" + IMAGE_ID)
    assert len(body["servers"]) == 4
    _, body = await cloud.call("GET", "/servers/detail?host=h1")
    await cloud.wait_for(lambda: not cloud.compute.state.pending)
    _, body = await cloud.call("GET", "/servers/detail?host=h1")
    assert len(body["servers"]) == 4
    _, body = await cloud.call("GET", "/servers?status=ACTIVE")
    assert body["servers"] == []
    _, body = await cloud.call("GET", "/servers?changes-since=2000-01-01T00:00:00Z")
    assert len(body["servers"]) == 4


async def test_update_and_metadata(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    _, body = await cloud.boot(name="old")
    server_id = body["server"]["id"]
    status, body = await cloud.call(
        "PUT", f"/servers/{server_id}", json={"server": {"name": "new", "description": "d"}},
        version="2.75",
    )  # fmt: skip
    assert status == 200
    assert body["server"]["name"] == "new"
    assert body["server"]["description"] == "d"
    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/metadata", json={"metadata": {"a": "1", "b": "2"}}
    )
    assert body["metadata"] == {"a": "1", "b": "2"}
    status, body = await cloud.call(
        "PUT", f"/servers/{server_id}/metadata/a", json={"meta": {"a": "9"}}
    )
    assert body == {"meta": {"a": "9"}}
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}/metadata/b")
    assert status == 204
    status, body = await cloud.call("GET", f"/servers/{server_id}/metadata")
    assert body["metadata"] == {"a": "9"}
    status, body = await cloud.call(
        "PUT", f"/servers/{server_id}/metadata/a", json={"meta": {"other": "9"}}
    )
    assert status == 400


async def test_no_token_is_a_401_and_a_bad_one_too(cloud: ComputeCloud) -> None:
    response = await cloud.client.get("/compute/v2.1/servers")
    assert response.status == 401
    assert "unauthorized" in await response.json()
    response = await cloud.client.get(
        "/compute/v2.1/servers", headers={"X-Auth-Token": "not-a-token"}
    )
    assert response.status == 401
    # Version documents need no token.
    response = await cloud.client.get("/compute/")
    assert response.status == 200


async def test_odd_numbers_and_dates_are_400s_not_500s(cloud: ComputeCloud) -> None:
    """``"²"`` passes ``str.isdigit`` and ``"--5"`` passes ``lstrip("-")``; ``int``
    refuses both. A time late on 9999-12-31 west of UTC is in year 10000."""
    await cloud.register_host("h1")
    for bad in ("²", "--5"):
        for path in (f"/servers?limit={bad}", f"/flavors?minRam={bad}",
                     f"/flavors/detail?minDisk={bad}"):  # fmt: skip
            status, body = await cloud.call("GET", path)
            assert status == 400, (path, body)
        for field in ("min_count", "max_count"):
            status, body = await cloud.boot(**{field: bad})
            assert status == 400, (field, body)
        status, body = await cloud.call(
            "PUT", "/os-quota-sets/p", json={"quota_set": {"instances": bad}}
        )
        assert status == 400, body
        status, body = await cloud.call("POST", "/flavors", json={"flavor": {
            "name": f"f{bad}", "ram": bad, "vcpus": 1, "disk": 1}})  # fmt: skip
        assert status == 400, body
    for since in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"):
        status, body = await cloud.call("GET", f"/servers?changes-since={since}")
        assert status == 400, body
        assert "changes-since" in body["badRequest"]["message"]
    status, body = await cloud.boot()
    assert status == 202, body
    server_id = body["server"]["id"]
    for bad in ("²", "--5"):
        status, body = await cloud.call(
            "POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": {"length": bad}}
        )
        assert status == 400, body
    # a flavor whose id is a digit int() refuses still lists (ids sort as text)
    status, body = await cloud.call("POST", "/flavors", json={"flavor": {
        "name": "sup", "ram": 64, "vcpus": 1, "disk": 1, "id": "²"}})  # fmt: skip
    if status == 200:
        status, body = await cloud.call("GET", "/flavors")
        assert status == 200, body


async def test_a_name_pattern_that_could_backtrack_for_ages_is_a_substring(
    cloud: ComputeCloud,
) -> None:
    """Python's ``re`` has no time limit and the listing runs on the event loop."""
    await cloud.register_host("h1")
    for name in ("alpha", "beta", "gamma", "alpine"):
        await cloud.boot(name=name)
    # A pattern that could backtrack for ages matches as a plain substring;
    # one longer than a name may be is refused.
    await cloud.boot(name="a" * 20 + "!")
    for pattern in ("(a|aa)*$", "(a+)+!"):
        _, body = await cloud.call("GET", "/servers?name=" + quote(pattern))
        assert body["servers"] == [], pattern
    _, body = await cloud.call("GET", "/servers?name=" + quote("^(alp|bet)"))
    assert {s["name"] for s in body["servers"]} == {"alpha", "alpine", "beta"}
    status, _ = await cloud.call("GET", "/servers?name=" + "a" * 256)
    assert status == 400


async def test_a_config_drive_is_recorded_and_shown(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    shown = []
    for asked in (True, "yes", "False", False):
        status, body = await cloud.boot(config_drive=asked)
        assert status == 202, body
        server_id = body["server"]["id"]
        status, body = await cloud.call("GET", f"/servers/{server_id}", version="2.90")
        assert status == 200, body
        shown.append(body["server"]["config_drive"])
        assert cloud.compute.state.servers[server_id].config_drive is (asked in (True, "yes"))
    assert shown == ["True", "True", "", ""]


async def _spawned(cloud: ComputeCloud, host: str) -> str:
    status, body = await cloud.boot()
    assert status == 202, body
    server_id: str = body["server"]["id"]
    await cloud.wait_for(lambda: cloud.compute.state.servers[server_id].host == host)
    spawned = ev.ServerSpawned(
        server_id=server_id, host=host, launched_at="2026-12-03T10:00:00Z", instance_name="g"
    )
    await cloud.append(f"server-{server_id}", spawned)
    return server_id


async def test_create_image_makes_the_image_and_asks_the_agent(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    server_id = await _spawned(cloud, "h1")
    path = f"/servers/{server_id}/action"
    for bad in (
        {"createImage": {}},
        {"createImage": {"name": "  "}},
        {"createImage": {"name": "x" * 256}},
        {"createImage": {"name": "s", "metadata": {"k": 1}}},
        {"createImage": {"name": "s", "colour": "red"}},
        {"createImage": "snap"},
    ):
        status, body = await cloud.call("POST", path, json=bad, version="2.45")
        assert status == 400, (bad, body)
        assert set(body) == {"badRequest"}
    assert cloud.images.created == {}
    other = await cloud.member()
    status, body = await cloud.call(
        "POST", path, other, json={"createImage": {"name": "s"}}, version="2.45"
    )
    assert status == 404, body

    status, body = await cloud.call(
        "POST", path, json={"createImage": {"name": "snap", "metadata": {"k": "v"}}}, version="2.45"
    )
    assert status == 202, body
    image_id = body["image_id"]
    document = cloud.images.created[image_id]
    assert document["name"] == "snap"
    assert document["k"] == "v"
    assert document["image_type"] == "snapshot"
    assert document["instance_uuid"] == server_id
    assert document["base_image_ref"] == IMAGE_ID
    server = cloud.compute.state.servers[server_id]
    assert server.task_state == "image_snapshot"
    # One task at a time: a second snapshot waits for the first.
    status, body = await cloud.call(
        "POST", path, json={"createImage": {"name": "again"}}, version="2.45"
    )
    assert status == 409, body
    assert len(cloud.images.created) == 1  # the refused one made no image
    done = ev.ServerActionCompleted(
        server_id=server_id, host="h1", action="createImage", vm_state="active", power_state=1
    )
    await cloud.append(f"server-{server_id}", done)
    assert cloud.compute.state.servers[server_id].task_state is None
    # Before 2.45 the answer is the image's address.
    response = await cloud.client.post(
        f"/compute/v2.1/servers/{server_id}/action",
        json={"createImage": {"name": "old-style"}},
        headers={"X-Auth-Token": cloud.admin.token, "OpenStack-API-Version": "compute 2.44"},
    )
    assert response.status == 202
    location = response.headers["Location"]
    assert location.rsplit("/", 1)[1] in cloud.images.created
    assert "/image/v2/images/" in location


async def test_rebuild_validates_records_and_waits_for_the_agent(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    status, body = await cloud.boot()  # never placed on an agent's guest: still building
    building = body["server"]["id"]
    server_id = await _spawned(cloud, "h1")
    path = f"/servers/{server_id}/action"
    for bad, version in (
        ({"rebuild": {}}, "2.90"),
        ({"rebuild": {"imageRef": "not-a-uuid"}}, "2.90"),
        ({"rebuild": {"imageRef": "2f1c7e0a-5b7d-4a7e-9d1e-0000000000ff"}}, "2.90"),
        ({"rebuild": {"imageRef": IMAGE_ID, "colour": "red"}}, "2.90"),
        ({"rebuild": {"imageRef": IMAGE_ID, "user_data": "aGk="}}, "2.56"),
        ({"rebuild": {"imageRef": IMAGE_ID, "user_data": "%%%"}}, "2.57"),
        ({"rebuild": {"imageRef": IMAGE_ID, "key_name": "missing"}}, "2.54"),
        ({"rebuild": {"imageRef": IMAGE_ID, "name": " padded "}}, "2.90"),
        ({"rebuild": {"imageRef": IMAGE_ID, "hostname": "h"}}, "2.90"),
        ({"rebuild": {"imageRef": IMAGE_ID, "personality": [{"path": "/x"}]}}, "2.1"),
        ({"rebuild": "now"}, "2.90"),
    ):
        status, body = await cloud.call("POST", path, json=bad, version=version)
        assert status == 400, (bad, body)
        assert set(body) == {"badRequest"}
    other = await cloud.member()
    rebuild = {"rebuild": {"imageRef": IMAGE_ID, "name": "again", "metadata": {"k": "v"}}}
    status, body = await cloud.call("POST", path, other, rebuild, version="2.90")
    assert status == 404, body
    status, body = await cloud.call(
        "POST", f"/servers/{building}/action", json=rebuild, version="2.90"
    )
    assert status == 409, body

    status, body = await cloud.call("POST", path, json=rebuild, version="2.90")
    assert status == 202, body
    assert body["server"]["status"] == "REBUILD"
    assert body["server"]["name"] == "again"
    assert body["server"]["metadata"] == {"k": "v"}
    status, body = await cloud.call("POST", path, json=rebuild, version="2.90")
    assert status == 409, body  # one task at a time
    done = ev.ServerRebuilt(server_id=server_id, host="h1", vm_state="active", power_state=1)
    await cloud.append(f"server-{server_id}", done)
    status, body = await cloud.call("GET", f"/servers/{server_id}", version="2.90")
    assert body["server"]["status"] == "ACTIVE"
    status, body = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions")
    assert [a["action"] for a in body["instanceActions"]] == ["rebuild", "create"]


async def test_trigger_crash_dump_needs_2_17_and_a_running_guest(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    _, body = await cloud.boot()
    building = body["server"]["id"]
    server_id = await _spawned(cloud, "h1")
    dump = {"trigger_crash_dump": None}
    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", json=dump, version="2.16"
    )
    assert status == 400, body
    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", json={"trigger_crash_dump": {}}, version="2.17"
    )
    assert status == 400, body
    status, body = await cloud.call(
        "POST", f"/servers/{building}/action", json=dump, version="2.17"
    )
    assert status == 409, body
    other = await cloud.member()
    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", other, dump, version="2.17"
    )
    assert status == 404, body
    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", json=dump, version="2.17"
    )
    assert status == 202, body
    assert cloud.compute.state.servers[server_id].pending_action == "trigger_crash_dump"


async def test_with_a_reclaim_interval_a_delete_is_soft_until_reclaimed(tmp_path: Path) -> None:
    cloud = await start_cloud(
        settings_for(tmp_path, reclaim_instance_interval=0.2), default_images()
    )
    try:
        await cloud.register_host("h1")
        server_id = await _spawned(cloud, "h1")
        stream = f"server-{server_id}"

        async def agent_does(action: str, vm_state: str, power_state: int) -> None:
            await cloud.wait_for(
                lambda: cloud.compute.state.servers[server_id].pending_action == action
            )
            done = ev.ServerActionCompleted(
                server_id=server_id, host="h1", action=action, vm_state=vm_state,
                power_state=power_state,
            )  # fmt: skip
            await cloud.append(stream, done)

        status, _ = await cloud.call("DELETE", f"/servers/{server_id}")
        assert status == 204
        await agent_does("soft_delete", "soft-delete", 4)
        assert await cloud.server_status(server_id) == "SOFT_DELETED"
        assert cloud.compute.state.usage[cloud.admin.project_id].instances == 1  # still held
        other = await cloud.member()
        restore = {"restore": None}
        status, _ = await cloud.call("POST", f"/servers/{server_id}/action", other, restore)
        assert status == 404
        status, _ = await cloud.call("POST", f"/servers/{server_id}/action", json=restore)
        assert status == 202
        await agent_does("restore", "active", 1)
        assert await cloud.server_status(server_id) == "ACTIVE"
        status, body = await cloud.call("POST", f"/servers/{server_id}/action", json=restore)
        assert status == 409, body  # only a soft-deleted server is restored

        status, _ = await cloud.call("DELETE", f"/servers/{server_id}")
        await agent_does("soft_delete", "soft-delete", 4)
        assert await cloud.compute.reclaim_due() == 0  # not yet: 0.2 s have not passed
        await asyncio.sleep(0.3)
        assert await cloud.compute.reclaim_due() == 1
        server = cloud.compute.state.servers[server_id]
        assert server.task_state == "deleting"  # the agent is asked to delete it for real
        assert await cloud.compute.reclaim_due() == 0  # asked once
    finally:
        await cloud.client.close()


async def test_rebuild_answers_in_novas_shape_per_microversion(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    server_id = await _spawned(cloud, "h1")
    path = f"/servers/{server_id}/action"
    shapes = {}
    for version in ("2.53", "2.54", "2.57", "2.75"):
        status, body = await cloud.call(
            "POST", path, json={"rebuild": {"imageRef": IMAGE_ID}}, version=version
        )
        assert status == 202, body
        shapes[version] = body["server"]
        done = ev.ServerRebuilt(server_id=server_id, host="h1", vm_state="active", power_state=1)
        await cloud.append(f"server-{server_id}", done)
    assert "key_name" not in shapes["2.53"]
    assert "user_data" not in shapes["2.54"]
    assert "key_name" in shapes["2.54"]
    assert shapes["2.57"]["user_data"] is None
    assert "OS-EXT-SRV-ATTR:user_data" not in shapes["2.75"]
    assert "OS-EXT-SRV-ATTR:host" in shapes["2.75"]  # the whole show view from 2.75
    assert "adminPass" not in shapes["2.75"]
