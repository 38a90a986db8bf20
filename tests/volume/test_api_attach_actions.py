"""Cinder's legacy attach actions (what a compute service tells the volume
service around its hot-plug) and retype: statuses, attachments, refusals."""

from __future__ import annotations

import uuid

from tests.volume.conftest import VolumeCloud


async def test_reserve_attach_detach(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    vid = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    action = f"/volumes/{vid}/action"

    async def do(body: object, who: object = demo) -> int:
        status, _ = await cloud.call("POST", action, who, body)  # type: ignore[arg-type]
        return status

    assert await do({"os-reserve": {}}) == 202
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["status"] == "attaching"
    assert await do({"os-reserve": {}}) == 400  # already reserved
    assert await do({"os-unreserve": {}}) == 202
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["status"] == "available"
    server = str(uuid.uuid4())
    for bad in (
        {"os-attach": {"mountpoint": "/dev/vdb"}},
        {"os-attach": {"instance_uuid": "not-a-uuid", "mountpoint": "/dev/vdb"}},
        {"os-attach": {"instance_uuid": server}},
        {"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb", "mode": "rx"}},
        {"os-attach": "x"},
    ):
        assert await do(bad) == 400, bad
    assert await do({"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb"}}) == 202
    shown = (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]
    assert shown["status"] == "in-use"
    (attachment,) = shown["attachments"]
    assert (attachment["server_id"], attachment["device"], attachment["volume_id"]) == (
        server,
        "/dev/vdb",
        vid,
    )
    status, _body = await cloud.call("DELETE", f"/volumes/{vid}", demo)
    assert status == 400
    assert await do({"os-begin_detaching": {}}) == 202
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["status"] == "detaching"
    assert await do({"os-roll_detaching": {}}) == 202
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["status"] == "in-use"
    assert await do({"os-detach": {"attachment_id": "other"}}) == 400
    assert await do({"os-detach": {"attachment_id": attachment["attachment_id"]}}) == 202
    shown = (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]
    assert (shown["status"], shown["attachments"]) == ("available", [])
    assert await do({"os-detach": {}}) == 202  # not attached: nothing to do, as Cinder
    assert await do({"os-begin_detaching": {}}) == 400
    # an admin's force detach
    assert await do({"os-attach": {"host_name": "backup-host", "mountpoint": "/mnt"}}) == 202
    assert await do({"os-force_detach": {}}) == 403
    assert await do({"os-force_detach": {}}, None) == 202
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["status"] == "available"
    # a status an admin reset, then a detach with nothing attached: available again
    await cloud.ok("POST", action, None, {"os-reset_status": {"status": "error"}})
    assert await do({"os-detach": {}}) == 202
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["status"] == "available"
    other = await cloud.member()
    assert await do({"os-reserve": {}}, other) == 404
    status, _ = await cloud.call(
        "POST", f"/volumes/{uuid.uuid4()}/action", demo, {"os-reserve": {}}
    )
    assert status == 404


async def test_retype(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    vid = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    await cloud.ok("POST", "/types", None, {"volume_type": {"name": "fast"}})
    action = f"/volumes/{vid}/action"
    status, _ = await cloud.call("POST", action, demo, {"os-retype": {"new_type": "nope"}})
    assert status == 404
    status, _ = await cloud.call("POST", action, demo, {"os-retype": {"new_type": "__DEFAULT__"}})
    assert status == 400  # the same type
    status, _ = await cloud.call("POST", action, demo, {"os-retype": {}})
    assert status == 400
    status, _ = await cloud.call(
        "POST", action, demo, {"os-retype": {"new_type": "fast", "migration_policy": "never"}}
    )
    assert status == 202
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["volume_type"] == "fast"
