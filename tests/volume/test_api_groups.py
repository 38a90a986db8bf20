"""Generic volume groups (3.13+): made with a group type and volume types, volumes
made in them and moved in and out, deleted with their volumes, reset by admins."""

from __future__ import annotations

from tests.volume.conftest import VolumeCloud

MV = {"OpenStack-API-Version": "volume 3.25"}


async def test_a_group_and_its_volumes(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    gtype = (
        await cloud.ok("POST", "/group_types", None, {"group_type": {"name": "g"}}, headers=MV)
    )["group_type"]["id"]
    vtype = (await cloud.ok("GET", "/types/default"))["volume_type"]["id"]
    status, _ = await cloud.call("POST", "/groups", demo, {"group": {"group_type": gtype}}, MV)
    assert status == 400  # volume_types are required
    status, _ = await cloud.call(
        "POST", "/groups", demo, {"group": {"group_type": "nope", "volume_types": [vtype]}}, MV
    )
    assert status == 404
    made = await cloud.ok(
        "POST",
        "/groups",
        demo,
        {"group": {"group_type": gtype, "volume_types": [vtype], "name": "g1"}},
        headers=MV,
    )
    gid = made["group"]["id"]
    shown = (await cloud.ok("GET", f"/groups/{gid}", demo, headers=MV))["group"]
    assert (shown["status"], shown["volume_types"], shown["volumes"]) == ("available", [vtype], [])
    in_group = await cloud.ok(
        "POST", "/volumes", demo, {"volume": {"size": 1, "group_id": gid}}, headers=MV
    )
    assert in_group["volume"]["group_id"] == gid
    await cloud.wait(f"/volumes/{in_group['volume']['id']}", demo)
    loose = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{loose}", demo)
    await cloud.ok(
        "PUT", f"/groups/{gid}", demo, {"group": {"name": "g2", "add_volumes": loose}}, headers=MV
    )
    shown = (await cloud.ok("GET", f"/groups/{gid}", demo, headers=MV))["group"]
    assert shown["name"] == "g2"
    assert sorted(shown["volumes"]) == sorted([in_group["volume"]["id"], loose])
    status, _body = await cloud.call("DELETE", f"/volumes/{loose}", demo)
    assert status == 400  # a group's volume goes with its group
    await cloud.ok("PUT", f"/groups/{gid}", demo, {"group": {"remove_volumes": loose}}, headers=MV)
    other = await cloud.member()
    status, _ = await cloud.call("GET", f"/groups/{gid}", other, headers=MV)
    assert status == 404
    assert (await cloud.ok("GET", "/groups", other, headers=MV))["groups"] == []
    action = f"/groups/{gid}/action"
    reset = {"reset_status": {"status": "error"}}
    status, _ = await cloud.call(
        "POST", action, demo, reset, {"OpenStack-API-Version": "volume 3.20"}
    )
    assert status == 403
    await cloud.ok("POST", action, None, reset, headers={"OpenStack-API-Version": "volume 3.20"})
    assert (await cloud.ok("GET", f"/groups/{gid}", demo, headers=MV))["group"]["status"] == "error"
    status, _ = await cloud.call("POST", action, demo, {"delete": {}}, MV)
    assert status == 400  # it has a volume: delete-volumes is needed
    await cloud.ok("POST", action, demo, {"delete": {"delete-volumes": True}}, headers=MV)
    await cloud.wait(f"/volumes/{in_group['volume']['id']}", demo, status="deleted")
    status, _ = await cloud.call("GET", f"/groups/{gid}", demo, headers=MV)
    assert status == 404
    status, _ = await cloud.call("GET", "/groups", demo)
    assert status == 404  # before 3.13
