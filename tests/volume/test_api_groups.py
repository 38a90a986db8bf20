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


async def test_group_snapshots_and_groups_from_them(cloud: VolumeCloud) -> None:
    mv = {"OpenStack-API-Version": "volume 3.25"}
    demo = await cloud.member()
    gtype = (
        await cloud.ok("POST", "/group_types", None, {"group_type": {"name": "gs"}}, headers=mv)
    )["group_type"]["id"]
    vtype = (await cloud.ok("GET", "/types/default"))["volume_type"]["id"]
    group = {"group": {"group_type": gtype, "volume_types": [vtype]}}
    gid = (await cloud.ok("POST", "/groups", demo, group, headers=mv))["group"]["id"]
    status, _ = await cloud.call(
        "POST", "/group_snapshots", demo, {"group_snapshot": {"group_id": gid}}, mv
    )
    assert status == 400  # nothing to snapshot yet
    members = []
    for _ in range(2):
        body = {"volume": {"size": 1, "group_id": gid}}
        members.append((await cloud.ok("POST", "/volumes", demo, body, headers=mv))["volume"]["id"])
    for vid in members:
        await cloud.wait(f"/volumes/{vid}", demo)
    made = await cloud.ok(
        "POST",
        "/group_snapshots",
        demo,
        {"group_snapshot": {"group_id": gid, "name": "gs1"}},
        headers=mv,
    )
    gsid = made["group_snapshot"]["id"]
    shown = await cloud.wait(f"/group_snapshots/{gsid}", demo)
    assert (shown["group_id"], shown["name"]) == (gid, "gs1")
    snaps = (await cloud.ok("GET", "/snapshots/detail", demo, headers=mv))["snapshots"]
    assert sorted(s["volume_id"] for s in snaps) == sorted(members)
    assert {s["group_snapshot_id"] for s in snaps} == {gsid}
    for snap in snaps:
        assert (cloud.pool / f"snapshot-{snap['id']}").exists()
        status, _ = await cloud.call("DELETE", f"/snapshots/{snap['id']}", demo)
        assert status == 400  # part of the group snapshot
    # a group made from the group snapshot, and one cloned from the group
    copy = await cloud.ok(
        "POST", "/groups/action", demo, {"create-from-src": {"group_snapshot_id": gsid}}, headers=mv
    )
    clone = await cloud.ok(
        "POST", "/groups/action", demo, {"create-from-src": {"source_group_id": gid}}, headers=mv
    )
    for new in (copy["group"]["id"], clone["group"]["id"]):
        volumes = (await cloud.ok("GET", f"/groups/{new}", demo, headers=mv))["group"]["volumes"]
        assert len(volumes) == 2
        for vid in volumes:
            await cloud.wait(f"/volumes/{vid}", demo)
            assert (cloud.pool / f"volume-{vid}").exists()
    reset = {"reset_status": {"status": "error"}}
    action = f"/group_snapshots/{gsid}/action"
    await cloud.ok("POST", action, None, reset, headers={"OpenStack-API-Version": "volume 3.19"})
    assert (await cloud.ok("GET", f"/group_snapshots/{gsid}", demo, headers=mv))["group_snapshot"][
        "status"
    ] == "error"
    await cloud.ok("DELETE", f"/group_snapshots/{gsid}", demo, headers=mv)
    await cloud.wait(f"/group_snapshots/{gsid}", demo, status="deleted")
    for snap in snaps:
        assert not (cloud.pool / f"snapshot-{snap['id']}").exists()
    status, _ = await cloud.call("GET", "/group_snapshots", demo)
    assert status == 404  # before 3.14
