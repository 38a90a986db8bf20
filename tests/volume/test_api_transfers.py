"""Volume transfers between projects: the key, the quota of the receiver, the
snapshots that move with the volume, and who sees what."""

from __future__ import annotations

from tests.volume.conftest import MV, VolumeCloud


async def test_transfer_a_volume_with_its_snapshot(cloud: VolumeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    vid = (await cloud.volume(alice, size=2))["id"]
    await cloud.wait(f"/volumes/{vid}", alice)
    sid = (await cloud.ok("POST", "/snapshots", alice, {"snapshot": {"volume_id": vid}}))[
        "snapshot"
    ]["id"]
    await cloud.wait(f"/snapshots/{sid}", alice)
    made = (
        await cloud.ok(
            "POST", "/os-volume-transfer", alice, {"transfer": {"volume_id": vid, "name": "t"}}
        )
    )["transfer"]
    key, tid = made["auth_key"], made["id"]
    assert key not in str(await cloud.store.read_stream(f"volume-{vid}"))  # only its hash
    assert (await cloud.ok("GET", f"/volumes/{vid}", alice))["volume"]["status"] == (
        "awaiting-transfer"
    )
    listed = (await cloud.ok("GET", "/os-volume-transfer", alice))["transfers"]
    assert [t["id"] for t in listed] == [tid]
    assert (await cloud.ok("GET", "/os-volume-transfer", bob))["transfers"] == []
    status, _ = await cloud.call("GET", f"/os-volume-transfer/{tid}", bob)
    assert status == 404
    status, _ = await cloud.call(
        "POST", "/os-volume-transfer", alice, {"transfer": {"volume_id": vid}}
    )
    assert status == 400  # already awaiting a transfer
    status, body = await cloud.call(
        "POST", f"/os-volume-transfer/{tid}/accept", bob, {"accept": {"auth_key": "wrong"}}
    )
    assert status == 400
    assert "invalid auth key" in body["badRequest"]["message"]
    await cloud.ok("PUT", f"/os-quota-sets/{bob.project_id}", None, {"quota_set": {"gigabytes": 3}})
    status, body = await cloud.call(
        "POST", f"/os-volume-transfer/{tid}/accept", bob, {"accept": {"auth_key": key}}
    )
    assert status == 413  # 2 GB of volume and 2 GB of snapshot do not fit in 3
    await cloud.ok("PUT", f"/os-quota-sets/{bob.project_id}", None, {"quota_set": {"gigabytes": 4}})
    accepted = await cloud.ok(
        "POST", f"/os-volume-transfer/{tid}/accept", bob, {"accept": {"auth_key": key}}
    )
    assert accepted["transfer"]["volume_id"] == vid
    shown = (await cloud.ok("GET", f"/volumes/{vid}", bob))["volume"]
    assert (shown["status"], shown["os-vol-tenant-attr:tenant_id"]) == ("available", bob.project_id)
    assert (await cloud.ok("GET", f"/snapshots/{sid}", bob))["snapshot"]["id"] == sid
    status, _ = await cloud.call("GET", f"/volumes/{vid}", alice)
    assert status == 404
    alice_usage = await cloud.ok("GET", f"/os-quota-sets/{alice.project_id}?usage=true", alice)
    assert alice_usage["quota_set"]["gigabytes"]["in_use"] == 0
    bob_usage = await cloud.ok("GET", f"/os-quota-sets/{bob.project_id}?usage=true", bob)
    assert bob_usage["quota_set"]["gigabytes"]["in_use"] == 4


async def test_delete_a_transfer_and_the_355_form(cloud: VolumeCloud) -> None:
    alice = await cloud.member()
    vid = (await cloud.volume(alice))["id"]
    await cloud.wait(f"/volumes/{vid}", alice)
    status, _ = await cloud.call(
        "POST", "/volume-transfers", alice, {"transfer": {"volume_id": vid, "no_snapshots": True}}
    )
    assert status == 400  # no_snapshots needs 3.55
    made = await cloud.ok(
        "POST",
        "/volume-transfers",
        alice,
        {"transfer": {"volume_id": vid, "no_snapshots": True}},
        headers=MV,
    )
    transfer = made["transfer"]
    assert (transfer["no_snapshots"], transfer["accepted"]) == (True, False)
    assert transfer["source_project_id"] == alice.project_id
    for bad in ({"transfer": {}}, {"transfer": {"volume_id": 5}}, {"accept": {}}):
        status, _ = await cloud.call("POST", "/volume-transfers", alice, bad)
        assert status == 400, bad
    await cloud.ok("DELETE", f"/volume-transfers/{transfer['id']}", alice)
    assert (await cloud.ok("GET", f"/volumes/{vid}", alice))["volume"]["status"] == "available"
    status, _ = await cloud.call("DELETE", f"/volume-transfers/{transfer['id']}", alice)
    assert status == 404
