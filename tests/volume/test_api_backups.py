"""Backups on the file backend: full and incremental (only the changed clusters,
on their parent), restored into a new volume and over an existing one, with the
data read back from the files; quota, isolation, refusals."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.volume.conftest import VolumeCloud
from tests.volume.test_api_volumes import qemu_info

MV = {"OpenStack-API-Version": "volume 3.47"}


def write(path: Path, offset: int, pattern: int, fmt: str = "qcow2") -> None:
    subprocess.run(
        ["qemu-io", "-f", fmt, "-c", f"write -P {pattern:#x} {offset} 65536", str(path)],
        check=True,
        capture_output=True,
    )


def map_of(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["qemu-img", "map", "--output=json", str(path)], check=True, capture_output=True
    ).stdout
    found: list[dict[str, Any]] = json.loads(out)
    return found


def read(path: Path, offset: int, fmt: str = "qcow2") -> int:
    out = subprocess.run(
        ["qemu-io", "-f", fmt, "-c", f"read -v {offset} 16", str(path)],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return int(out.splitlines()[0].split(":", 1)[1].split()[0], 16)


async def test_full_and_incremental_backups_and_restores(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    vid = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    volume_file = cloud.pool / f"volume-{vid}"
    await asyncio.to_thread(write, volume_file, 0, 0x11)
    status, _ = await cloud.call(
        "POST", "/backups", demo, {"backup": {"volume_id": vid, "incremental": True}}
    )
    assert status == 400  # nothing to increment on yet
    full = (await cloud.ok("POST", "/backups", demo, {"backup": {"volume_id": vid, "name": "f"}}))[
        "backup"
    ]
    shown = await cloud.wait(f"/backups/{full['id']}", demo)
    assert (shown["is_incremental"], shown["size"], shown["volume_id"]) == (False, 1, vid)
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["status"] == "available"
    await asyncio.to_thread(write, volume_file, 1 << 20, 0x22)
    incr = (
        await cloud.ok(
            "POST", "/backups", demo, {"backup": {"volume_id": vid, "incremental": True}}
        )
    )["backup"]
    shown = await cloud.wait(f"/backups/{incr['id']}", demo)
    assert shown["is_incremental"] is True
    full_file = cloud.pool / "backups" / f"backup-{full['id']}"
    incr_file = cloud.pool / "backups" / f"backup-{incr['id']}"
    info = qemu_info(incr_file)
    assert info["backing-filename"] == str(full_file)  # only the changes, on its parent
    own = [e for e in map_of(incr_file) if e["data"] and e["depth"] == 0]
    assert [(e["start"], e["length"]) for e in own] == [(1 << 20, 65536)]  # just the change
    assert (await cloud.ok("GET", f"/backups/{full['id']}", demo))["backup"][
        "has_dependent_backups"
    ]
    status, body = await cloud.call("DELETE", f"/backups/{full['id']}", demo)
    assert status == 400
    assert "Incremental backups exist" in body["badRequest"]["message"]
    # restore the incremental into a new volume: both writes are there
    restored = await cloud.ok("POST", f"/backups/{incr['id']}/restore", demo, {"restore": {}})
    new_id = restored["restore"]["volume_id"]
    await cloud.wait(f"/volumes/{new_id}", demo)
    new_file = cloud.pool / f"volume-{new_id}"
    assert await asyncio.to_thread(read, new_file, 0) == 0x11
    assert await asyncio.to_thread(read, new_file, 1 << 20) == 0x22
    # over the volume itself: the full backup's data comes back
    await asyncio.to_thread(write, volume_file, 0, 0x99)
    await cloud.ok("POST", f"/backups/{full['id']}/restore", demo, {"restore": {"volume_id": vid}})
    await cloud.wait(f"/volumes/{vid}", demo)
    assert await asyncio.to_thread(read, volume_file, 0) == 0x11
    assert await asyncio.to_thread(read, volume_file, 1 << 20) == 0  # written after it
    usage = (await cloud.ok("GET", f"/os-quota-sets/{demo.project_id}?usage=true", demo))[
        "quota_set"
    ]
    assert (usage["backups"]["in_use"], usage["backup_gigabytes"]["in_use"]) == (2, 2)
    # a volume from a backup, as 3.47 creates it
    made = await cloud.ok(
        "POST", "/volumes", demo, {"volume": {"backup_id": full["id"]}}, headers=MV
    )
    await cloud.wait(f"/volumes/{made['volume']['id']}", demo)
    # isolation
    other = await cloud.member()
    for method, path, body in (
        ("GET", f"/backups/{full['id']}", None),
        ("DELETE", f"/backups/{full['id']}", None),
        ("POST", f"/backups/{full['id']}/restore", {"restore": {}}),
    ):
        assert (await cloud.call(method, path, other, body))[0] == 404, path
    assert (await cloud.ok("GET", "/backups", other))["backups"] == []
    # backups outlive their volume, and go in order
    await cloud.ok("DELETE", f"/volumes/{new_id}", demo)
    await cloud.ok("DELETE", f"/backups/{incr['id']}", demo)
    await cloud.wait(f"/backups/{incr['id']}", demo, status="deleted")
    await cloud.ok("DELETE", f"/backups/{full['id']}", demo)
    await cloud.wait(f"/backups/{full['id']}", demo, status="deleted")
    assert not full_file.exists()
    assert not incr_file.exists()


async def test_backup_refusals(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    vid = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    for bad in ({"backup": {}}, {"backup": {"volume_id": vid, "incremental": "maybe"}}, {"x": 1}):
        status, _ = await cloud.call("POST", "/backups", demo, bad)
        assert status == 400, bad
    await cloud.ok("PUT", f"/os-quota-sets/{demo.project_id}", None, {"quota_set": {"backups": 1}})
    bid = (await cloud.ok("POST", "/backups", demo, {"backup": {"volume_id": vid}}))["backup"]["id"]
    await cloud.wait(f"/backups/{bid}", demo)
    status, _ = await cloud.call("POST", "/backups", demo, {"backup": {"volume_id": vid}})
    assert status == 413
    small = (await cloud.volume(demo))["id"]
    status, _ = await cloud.call(
        "POST", f"/backups/{bid}/restore", demo, {"restore": {"volume_id": "nope"}}
    )
    assert status == 404
    action = f"/backups/{bid}/action"
    assert (await cloud.call("POST", action, demo, {"os-reset_status": {"status": "error"}}))[
        0
    ] == 403
    await cloud.ok("POST", action, None, {"os-reset_status": {"status": "error"}})
    assert (await cloud.ok("GET", f"/backups/{bid}", demo))["backup"]["status"] == "error"
    status, _ = await cloud.call(
        "POST", f"/backups/{bid}/restore", demo, {"restore": {"volume_id": small}}
    )
    assert status == 400  # not available
    await cloud.ok("POST", action, None, {"os-force_delete": {}})
    await cloud.wait(f"/backups/{bid}", demo, status="deleted")


async def test_backups_keep_metadata_and_snapshots_can_be_backed_up(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    vid = (await cloud.volume(demo, metadata={"app": "db"}))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    volume_file = cloud.pool / f"volume-{vid}"
    await asyncio.to_thread(write, volume_file, 0, 0x33)
    sid = (await cloud.ok("POST", "/snapshots", demo, {"snapshot": {"volume_id": vid}}))[
        "snapshot"
    ]["id"]
    await cloud.wait(f"/snapshots/{sid}", demo)
    await asyncio.to_thread(write, volume_file, 0, 0x44)  # after the snapshot
    body = {"backup": {"volume_id": vid, "snapshot_id": sid}}
    bid = (await cloud.ok("POST", "/backups", demo, body))["backup"]["id"]
    shown = await cloud.wait(f"/backups/{bid}", demo)
    assert shown["snapshot_id"] == sid
    restored = await cloud.ok("POST", f"/backups/{bid}/restore", demo, {"restore": {}})
    new_id = restored["restore"]["volume_id"]
    new = await cloud.wait(f"/volumes/{new_id}", demo)
    assert new["metadata"] == {"app": "db"}
    assert await asyncio.to_thread(read, cloud.pool / f"volume-{new_id}", 0) == 0x33
    other = (await cloud.volume(demo))["id"]
    status, _ = await cloud.call(
        "POST", "/backups", demo, {"backup": {"volume_id": other, "snapshot_id": sid}}
    )
    assert status == 400  # not a snapshot of that volume


async def test_export_and_import_a_backup_record(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    vid = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    bid = (await cloud.ok("POST", "/backups", demo, {"backup": {"volume_id": vid}}))["backup"]["id"]
    await cloud.wait(f"/backups/{bid}", demo)
    status, _ = await cloud.call("GET", f"/backups/{bid}/export_record", demo)
    assert status == 403
    record = (await cloud.ok("GET", f"/backups/{bid}/export_record"))["backup-record"]
    assert record["backup_service"].startswith("cinder.backup.drivers")
    fields = json.loads(base64.b64decode(record["backup_url"]))
    status, _ = await cloud.call("POST", "/backups/import_record", None, {"backup-record": record})
    assert status == 400  # that id exists
    new_id = "5c2a3a8e-5b6a-4b0e-9a51-7d3e2f0c9a11"
    fields["id"] = new_id
    url = base64.b64encode(json.dumps(fields).encode()).decode()
    body = {"backup-record": {"backup_service": record["backup_service"], "backup_url": url}}
    imported = await cloud.ok("POST", "/backups/import_record", None, body)
    assert imported["backup"]["id"] == new_id
    await cloud.wait(f"/backups/{new_id}", None)
    for bad in (
        {"backup-record": {"backup_service": "other", "backup_url": url}},
        {"backup-record": {"backup_service": record["backup_service"], "backup_url": "%%%"}},
    ):
        status, _ = await cloud.call("POST", "/backups/import_record", None, bad)
        assert status == 400
    # the imported record shares the data: deleting it leaves the original's file
    await cloud.ok("DELETE", f"/backups/{new_id}")
    await cloud.wait(f"/backups/{new_id}", None, status="deleted")
    assert (cloud.pool / "backups" / f"backup-{bid}").exists()
    restored = await cloud.ok("POST", f"/backups/{bid}/restore", demo, {"restore": {}})
    await cloud.wait(f"/volumes/{restored['restore']['volume_id']}", demo)
