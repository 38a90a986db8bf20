"""Quotas, limits, volume types, availability zones and extensions."""

from __future__ import annotations

from tests.volume.conftest import VolumeCloud


async def test_quota_sets_limits_and_usage(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    pid = demo.project_id
    shown = (await cloud.ok("GET", f"/os-quota-sets/{pid}", demo))["quota_set"]
    assert shown["id"] == pid
    assert (shown["volumes"], shown["gigabytes"], shown["snapshots"]) == (10, 1000, 10)
    assert shown["volumes___DEFAULT__"] == -1
    defaults = (await cloud.ok("GET", f"/os-quota-sets/{pid}/defaults", demo))["quota_set"]
    assert defaults["volumes"] == 10
    status, _ = await cloud.call("GET", f"/os-quota-sets/{cloud.admin.project_id}", demo)
    assert status == 403
    status, _ = await cloud.call(
        "PUT", f"/os-quota-sets/{pid}", demo, {"quota_set": {"volumes": 1}}
    )
    assert status == 403
    for bad in ({"volumes": "many"}, {"volumes": -2}, {"nonsense": 1}, {"volumes": True}):
        status, body = await cloud.call("PUT", f"/os-quota-sets/{pid}", None, {"quota_set": bad})
        assert status == 400, bad
        assert body["badRequest"]["code"] == 400
    updated = await cloud.ok("PUT", f"/os-quota-sets/{pid}", None, {"quota_set": {"gigabytes": 3}})
    assert updated["quota_set"]["gigabytes"] == 3
    first = await cloud.volume(demo, size=2)
    status, body = await cloud.call("POST", "/volumes", demo, {"volume": {"size": 2}})
    assert status == 413
    assert "gigabytes quota" in body["overLimit"]["message"]
    await cloud.wait(f"/volumes/{first['id']}", demo)
    status, body = await cloud.call(
        "POST", f"/volumes/{first['id']}/action", demo, {"os-extend": {"new_size": 4}}
    )
    assert status == 413
    status, body = await cloud.call(
        "POST", "/snapshots", demo, {"snapshot": {"volume_id": first["id"]}}
    )
    assert status == 413  # a snapshot counts its size towards gigabytes
    usage = (await cloud.ok("GET", f"/os-quota-sets/{pid}?usage=true", demo))["quota_set"]
    assert usage["gigabytes"] == {"limit": 3, "in_use": 2, "reserved": 0, "allocated": 0}
    assert usage["volumes"]["in_use"] == 1
    limits = (await cloud.ok("GET", "/limits", demo))["limits"]["absolute"]
    assert limits["maxTotalVolumeGigabytes"] == 3
    assert limits["totalGigabytesUsed"] == 2
    assert limits["totalVolumesUsed"] == 1
    await cloud.ok(
        "PUT", f"/os-quota-sets/{pid}", None, {"quota_set": {"volumes": 1, "gigabytes": 100}}
    )
    status, body = await cloud.call("POST", "/volumes", demo, {"volume": {"size": 1}})
    assert status == 413
    assert "'volumes'" in body["overLimit"]["message"]
    await cloud.ok("DELETE", f"/os-quota-sets/{pid}", None)
    assert (await cloud.ok("GET", f"/os-quota-sets/{pid}", demo))["quota_set"]["volumes"] == 10
    await cloud.ok("DELETE", f"/volumes/{first['id']}", demo)
    await cloud.wait(f"/volumes/{first['id']}", demo, status="deleted")
    usage = (await cloud.ok("GET", f"/os-quota-sets/{pid}?usage=true", demo))["quota_set"]
    assert usage["gigabytes"]["in_use"] == 0


async def test_volume_types(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    listed = (await cloud.ok("GET", "/types", demo))["volume_types"]
    assert [t["name"] for t in listed] == ["__DEFAULT__"]
    assert "extra_specs" not in listed[0]
    default = (await cloud.ok("GET", "/types/default", demo))["volume_type"]
    assert default["id"] == listed[0]["id"]
    status, _ = await cloud.call("POST", "/types", demo, {"volume_type": {"name": "gold"}})
    assert status == 403
    for bad in ({}, {"name": ""}, {"name": 5}, {"name": "x", "extra_specs": ["a"]}):
        status, _ = await cloud.call("POST", "/types", None, {"volume_type": bad})
        assert status == 400, bad
    gold = (
        await cloud.ok(
            "POST", "/types", None, {"volume_type": {"name": "gold", "extra_specs": {"tier": "1"}}}
        )
    )["volume_type"]
    assert gold["extra_specs"] == {"tier": "1"}
    status, _ = await cloud.call("POST", "/types", None, {"volume_type": {"name": "gold"}})
    assert status == 409
    tid = gold["id"]
    await cloud.ok("POST", f"/types/{tid}/extra_specs", None, {"extra_specs": {"speed": "fast"}})
    specs = (await cloud.ok("GET", f"/types/{tid}/extra_specs", None))["extra_specs"]
    assert specs == {"tier": "1", "speed": "fast"}
    assert await cloud.ok("GET", f"/types/{tid}/extra_specs/speed", None) == {"speed": "fast"}
    await cloud.ok("PUT", f"/types/{tid}/extra_specs/speed", None, {"speed": "slow"})
    await cloud.ok("DELETE", f"/types/{tid}/extra_specs/tier", None)
    status, _ = await cloud.call("GET", f"/types/{tid}/extra_specs/tier", None)
    assert status == 404
    renamed = await cloud.ok("PUT", f"/types/{tid}", None, {"volume_type": {"description": "d"}})
    assert renamed["volume_type"]["description"] == "d"
    # "speed" is no capability the file backend reports: no backend takes it, the
    # volume is in error at once and the project is told why (3.3's messages)
    made = await cloud.volume(demo, volume_type="gold")
    assert (made["volume_type"], made["status"]) == ("gold", "error")
    messages = await cloud.ok(
        "GET", "/messages", demo, headers={"OpenStack-API-Version": "volume 3.3"}
    )
    (message,) = messages["messages"]
    assert (message["resource_uuid"], message["event_id"]) == (made["id"], "VOLUME_000002")
    status, _ = await cloud.call("GET", "/messages", demo)
    assert status == 404  # before 3.3
    await cloud.ok(
        "DELETE",
        f"/messages/{message['id']}",
        demo,
        headers={"OpenStack-API-Version": "volume 3.3"},
    )
    await cloud.ok("DELETE", f"/types/{tid}/extra_specs/speed", None)
    await cloud.ok(
        "POST", f"/types/{tid}/extra_specs", None, {"extra_specs": {"vendor_name": "Cairn"}}
    )
    placed = await cloud.volume(demo, volume_type="gold")
    await cloud.wait(f"/volumes/{placed['id']}", demo)
    status, _body = await cloud.call("DELETE", f"/types/{tid}", None)
    assert status == 400  # still in use
    await cloud.ok("DELETE", f"/volumes/{placed['id']}", demo)
    await cloud.wait(f"/volumes/{placed['id']}", demo, status="deleted")
    await cloud.ok("DELETE", f"/volumes/{made['id']}", demo)
    await cloud.wait(f"/volumes/{made['id']}", demo, status="deleted")
    await cloud.ok("DELETE", f"/types/{tid}", None)
    status, _ = await cloud.call("GET", f"/types/{tid}", demo)
    assert status == 404
    status, _ = await cloud.call("DELETE", f"/types/{default['id']}", None)
    assert status == 400
    private = (
        await cloud.ok("POST", "/types", None, {"volume_type": {"name": "p", "is_public": False}})
    )["volume_type"]
    status, _ = await cloud.call("GET", f"/types/{private['id']}", demo)
    assert status == 404


async def test_zones_and_extensions(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    zones = (await cloud.ok("GET", "/os-availability-zone", demo))["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}}]
    aliases = {e["alias"] for e in (await cloud.ok("GET", "/extensions", demo))["extensions"]}
    assert "os-volume-actions" in aliases


async def test_private_type_access(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    made = await cloud.ok(
        "POST", "/types", None, {"volume_type": {"name": "priv", "is_public": False}}
    )
    tid = made["volume_type"]["id"]
    status, _ = await cloud.call(
        "POST", "/volumes", demo, {"volume": {"size": 1, "volume_type": "priv"}}
    )
    assert status == 404
    add = {"addProjectAccess": {"project": demo.project_id}}
    status, _ = await cloud.call("POST", f"/types/{tid}/action", demo, add)
    assert status == 403
    assert (await cloud.call("POST", f"/types/{tid}/action", None, add))[0] == 202
    assert (await cloud.call("POST", f"/types/{tid}/action", None, add))[0] == 409
    access = (await cloud.ok("GET", f"/types/{tid}/os-volume-type-access"))["volume_type_access"]
    assert access == [{"volume_type_id": tid, "project_id": demo.project_id}]
    names = [t["name"] for t in (await cloud.ok("GET", "/types", demo))["volume_types"]]
    assert names == ["__DEFAULT__", "priv"]
    volume = await cloud.volume(demo, volume_type="priv")
    assert volume["volume_type"] == "priv"
    remove = {"removeProjectAccess": {"project": demo.project_id}}
    assert (await cloud.call("POST", f"/types/{tid}/action", None, remove))[0] == 202
    assert (await cloud.call("POST", f"/types/{tid}/action", None, remove))[0] == 404
    status, _ = await cloud.call("GET", f"/types/{tid}", demo)
    assert status == 404
    public = (await cloud.ok("GET", "/types/default"))["volume_type"]["id"]
    status, _ = await cloud.call("POST", f"/types/{public}/action", None, add)
    assert status == 400
    status, _ = await cloud.call("POST", f"/types/{tid}/action", None, {"frob": {}})
    assert status == 400


async def test_per_type_quotas(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    pid = demo.project_id
    await cloud.ok("POST", "/types", None, {"volume_type": {"name": "gold"}})
    shown = (await cloud.ok("GET", f"/os-quota-sets/{pid}", demo))["quota_set"]
    assert (shown["volumes_gold"], shown["gigabytes_gold"], shown["snapshots_gold"]) == (-1, -1, -1)
    await cloud.ok("PUT", f"/os-quota-sets/{pid}", None, {"quota_set": {"gigabytes_gold": 2}})
    gold = await cloud.volume(demo, size=2, volume_type="gold")
    status, body = await cloud.call(
        "POST", "/volumes", demo, {"volume": {"size": 1, "volume_type": "gold"}}
    )
    assert status == 413
    assert "gigabytes_gold" in body["overLimit"]["message"]
    await cloud.volume(demo, size=1)  # the default type has no such limit
    usage = (await cloud.ok("GET", f"/os-quota-sets/{pid}?usage=true", demo))["quota_set"]
    assert usage["gigabytes_gold"]["in_use"] == 2
    assert usage["gigabytes___DEFAULT__"]["in_use"] == 1
    assert usage["gigabytes"]["in_use"] == 3
    await cloud.wait(f"/volumes/{gold['id']}", demo)
    status, _ = await cloud.call(
        "POST", "/snapshots", demo, {"snapshot": {"volume_id": gold["id"]}}
    )
    assert status == 413  # its snapshot counts towards the type's gigabytes
    updated = await cloud.ok(
        "PUT", "/os-quota-class-sets/default", None, {"quota_class_set": {"volumes_gold": 5}}
    )
    assert updated["quota_class_set"]["volumes_gold"] == 5


async def test_group_types(cloud: VolumeCloud) -> None:
    mv = {"OpenStack-API-Version": "volume 3.11"}
    status, _ = await cloud.call("GET", "/group_types", None)
    assert status == 404  # before 3.11
    demo = await cloud.member()
    status, _ = await cloud.call("POST", "/group_types", demo, {"group_type": {"name": "g"}}, mv)
    assert status == 403
    made = await cloud.ok(
        "POST",
        "/group_types",
        None,
        {"group_type": {"name": "a-g", "group_specs": {"k": "v"}}},
        headers=mv,
    )
    gid = made["group_type"]["id"]
    await cloud.ok(
        "POST",
        "/group_types",
        None,
        {"group_type": {"name": "b-g", "is_public": False}},
        headers=mv,
    )
    status, _ = await cloud.call("POST", "/group_types", None, {"group_type": {"name": "a-g"}}, mv)
    assert status == 409
    public = await cloud.ok("GET", "/group_types", None, headers=mv)
    assert [t["name"] for t in public["group_types"]] == ["a-g"]
    everyone = await cloud.ok("GET", "/group_types?is_public=None&sort=name:desc", None, headers=mv)
    assert [t["name"] for t in everyone["group_types"]] == ["b-g", "a-g"]
    await cloud.ok("PUT", f"/group_types/{gid}", None, {"group_type": {"name": "c-g"}}, headers=mv)
    assert (await cloud.ok("GET", f"/group_types/{gid}", demo, headers=mv))["group_type"][
        "name"
    ] == "c-g"
    specs = f"/group_types/{gid}/group_specs"
    await cloud.ok("POST", specs, None, {"group_specs": {"x": "1"}}, headers=mv)
    assert (await cloud.ok("GET", specs, None, headers=mv))["group_specs"] == {"k": "v", "x": "1"}
    assert await cloud.ok("PUT", specs + "/x", None, {"x": "2"}, headers=mv) == {"x": "2"}
    await cloud.ok("DELETE", specs + "/x", None, headers=mv)
    status, _ = await cloud.call("GET", specs + "/x", None, headers=mv)
    assert status == 404
    await cloud.ok("DELETE", f"/group_types/{gid}", None, headers=mv)
    status, _ = await cloud.call("GET", f"/group_types/{gid}", None, headers=mv)
    assert status == 404
