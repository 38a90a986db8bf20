"""Snapshots, volumes made from snapshots, images and other volumes, and deletes
with and without cascade: checked on the files the agent made."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from tests.volume.conftest import MV, VolumeCloud
from tests.volume.test_api_volumes import qemu_info


def write_pattern(path: Path, pattern: int) -> None:
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern:#x} 0 4096", str(path)],
        check=True,
        capture_output=True,
    )


def pattern_at_start(path: Path, fmt: str = "qcow2") -> int:
    out = subprocess.run(
        ["qemu-io", "-f", fmt, "-c", "read -v 0 16", str(path)], check=True, capture_output=True
    ).stdout.decode()
    first = out.splitlines()[0].split(":", 1)[1].split()
    return int(first[0], 16)


async def test_snapshot_then_volume_from_it_and_clone(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    source = await cloud.volume(demo, name="source")
    await cloud.wait(f"/volumes/{source['id']}", demo)
    source_file = cloud.pool / f"volume-{source['id']}"
    await asyncio.to_thread(write_pattern, source_file, 0x5A)
    body = await cloud.ok(
        "POST",
        "/snapshots",
        demo,
        {"snapshot": {"volume_id": source["id"], "name": "s1", "metadata": {"a": "b"}}},
    )
    snap = body["snapshot"]
    assert snap["status"] == "creating"
    shown = await cloud.wait(f"/snapshots/{snap['id']}", demo)
    assert shown["os-extended-snapshot-attributes:progress"] == "100%"
    assert shown["os-extended-snapshot-attributes:project_id"] == demo.project_id
    assert shown["metadata"] == {"a": "b"}
    listed = (await cloud.ok("GET", "/snapshots", demo))["snapshots"]
    assert [s["id"] for s in listed] == [snap["id"]]
    assert "os-extended-snapshot-attributes:progress" not in listed[0]
    assert (await cloud.ok("GET", "/snapshots/detail", demo))["snapshots"][0]["size"] == 1
    assert (cloud.pool / f"snapshot-{snap['id']}").exists()
    await asyncio.to_thread(write_pattern, source_file, 0x11)  # after the snapshot
    from_snap = await cloud.volume(demo, size=2, snapshot_id=snap["id"])
    assert from_snap["snapshot_id"] == snap["id"]
    clone = await cloud.volume(demo, source_volid=source["id"])
    assert clone["source_volid"] == source["id"]
    assert clone["size"] == 1  # the size is the source's when not given
    await cloud.wait(f"/volumes/{from_snap['id']}", demo)
    await cloud.wait(f"/volumes/{clone['id']}", demo)
    snap_file = cloud.pool / f"volume-{from_snap['id']}"
    assert qemu_info(snap_file)["virtual-size"] == 2 * 1024**3
    assert await asyncio.to_thread(pattern_at_start, snap_file) == 0x5A
    clone_file = cloud.pool / f"volume-{clone['id']}"
    assert await asyncio.to_thread(pattern_at_start, clone_file) == 0x11
    status, body = await cloud.call(
        "POST", "/volumes", demo, {"volume": {"size": 1, "snapshot_id": snap["id"]}}
    )
    assert status == 202  # equal to the snapshot's size is fine
    status, body = await cloud.call(
        "POST",
        "/volumes",
        demo,
        {"volume": {"snapshot_id": snap["id"], "source_volid": source["id"]}},
    )
    assert status == 400


async def test_delete_refused_with_snapshots_and_cascade(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    volume = await cloud.volume(demo)
    vid = volume["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    snaps = []
    for name in ("a", "b"):
        made = await cloud.ok(
            "POST", "/snapshots", demo, {"snapshot": {"volume_id": vid, "name": name}}
        )
        snaps.append(made["snapshot"]["id"])
    for sid in snaps:
        await cloud.wait(f"/snapshots/{sid}", demo)
    status, body = await cloud.call("DELETE", f"/volumes/{vid}", demo)
    assert status == 400
    assert "dependent snapshots" in body["badRequest"]["message"]
    assert (cloud.pool / f"volume-{vid}").exists()
    status, _ = await cloud.call("DELETE", f"/volumes/{vid}?cascade=true", demo)
    assert status == 202
    await cloud.wait(f"/volumes/{vid}", demo, status="deleted")
    for sid in snaps:
        await cloud.wait(f"/snapshots/{sid}", demo, status="deleted")
    assert sorted(p.name for p in cloud.pool.iterdir()) == ["tmp"]


async def test_snapshot_rules(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    volume = await cloud.volume(demo)
    vid = volume["id"]
    # not yet available: refused
    status, body = await cloud.call("POST", "/snapshots", demo, {"snapshot": {"volume_id": vid}})
    assert status in (202, 400)
    await cloud.wait(f"/volumes/{vid}", demo)
    for bad in (
        {"snapshot": {}},
        {"snapshot": {"volume_id": vid, "force": "sometimes"}},
        {"snapshot": {"volume_id": vid, "metadata": {"k": 5}}},
        {"snapshot": {"volume_id": vid, "colour": "red"}},
        {"snapshots": {"volume_id": vid}},
    ):
        status, body = await cloud.call("POST", "/snapshots", demo, bad)
        assert status == 400, bad
    made = (await cloud.ok("POST", "/snapshots", demo, {"snapshot": {"volume_id": vid}}))[
        "snapshot"
    ]
    sid = made["id"]
    await cloud.wait(f"/snapshots/{sid}", demo)
    updated = await cloud.ok("PUT", f"/snapshots/{sid}", demo, {"snapshot": {"name": "renamed"}})
    assert updated["snapshot"]["name"] == "renamed"
    meta = await cloud.ok("POST", f"/snapshots/{sid}/metadata", demo, {"metadata": {"x": "1"}})
    assert meta["metadata"] == {"x": "1"}
    assert (await cloud.ok("GET", f"/snapshots/{sid}/metadata/x", demo))["meta"] == {"x": "1"}
    shown = await cloud.ok("GET", f"/snapshots/{sid}", demo, headers=MV)
    assert shown["snapshot"]["user_id"] == demo.user_id  # 3.41
    other = await cloud.member()
    for method, path, body in (
        ("GET", f"/snapshots/{sid}", None),
        ("PUT", f"/snapshots/{sid}", {"snapshot": {"name": "x"}}),
        ("DELETE", f"/snapshots/{sid}", None),
        ("POST", "/volumes", {"volume": {"snapshot_id": sid}}),
    ):
        status, _ = await cloud.call(method, path, other, body)
        assert status == 404, (method, path)
    assert (await cloud.ok("GET", "/snapshots", other))["snapshots"] == []
    status, _ = await cloud.call(
        "POST", f"/snapshots/{sid}/action", demo, {"os-reset_status": {"status": "error"}}
    )
    assert status == 403
    status, _ = await cloud.call(
        "POST", f"/snapshots/{sid}/action", None, {"os-reset_status": {"status": "error"}}
    )
    assert status == 202
    assert (await cloud.ok("GET", f"/snapshots/{sid}", demo))["snapshot"]["status"] == "error"
    await cloud.ok("DELETE", f"/snapshots/{sid}", demo)
    await cloud.wait(f"/snapshots/{sid}", demo, status="deleted")
    assert not (cloud.pool / f"snapshot-{sid}").exists()


async def _upload_image(cloud: VolumeCloud, tmp_path: Path, **attrs: Any) -> str:
    disk = tmp_path / "disk.qcow2"
    await asyncio.to_thread(
        subprocess.run, ["qemu-img", "create", "-f", "qcow2", str(disk), "32M"], check=True
    )
    await asyncio.to_thread(write_pattern, disk, 0x77)
    headers = {"X-Auth-Token": cloud.admin.token}
    response = await cloud.client.post(
        "/image/v2/images",
        json={"name": "tiny", "disk_format": "qcow2", "container_format": "bare", **attrs},
        headers=headers,
    )
    assert response.status == 201, await response.text()
    image_id: str = (await response.json())["id"]
    response = await cloud.client.put(
        f"/image/v2/images/{image_id}/file",
        data=disk.read_bytes(),
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert response.status == 204, await response.text()
    return image_id


async def test_volume_from_an_image(cloud: VolumeCloud, tmp_path: Path) -> None:
    demo = await cloud.member()
    image_id = await _upload_image(cloud, tmp_path, visibility="public", os_distro="busybox")
    made = await cloud.volume(demo, size=1, imageRef=image_id, name="boot")
    assert made["bootable"] == "true"
    shown = await cloud.wait(f"/volumes/{made['id']}", demo)
    assert shown["volume_image_metadata"]["image_id"] == image_id
    assert shown["volume_image_metadata"]["os_distro"] == "busybox"
    path = cloud.pool / f"volume-{made['id']}"
    info = qemu_info(path)
    assert (info["format"], info["virtual-size"]) == ("qcow2", 1024**3)
    assert await asyncio.to_thread(pattern_at_start, path) == 0x77
    action = f"/volumes/{made['id']}/action"
    body = await cloud.ok("POST", action, demo, {"os-set_image_metadata": {"metadata": {"k": "v"}}})
    assert body["metadata"]["k"] == "v"
    await cloud.ok("POST", action, demo, {"os-unset_image_metadata": {"key": "k"}})
    shown_meta = await cloud.ok("POST", action, demo, {"os-show_image_metadata": {}})
    assert "k" not in shown_meta["metadata"]
    assert list((cloud.pool / "tmp").iterdir()) == []  # the download is gone


async def test_private_images_of_others_are_not_found(cloud: VolumeCloud, tmp_path: Path) -> None:
    demo = await cloud.member()
    image_id = await _upload_image(cloud, tmp_path)  # the admin project's, private
    status, body = await cloud.call(
        "POST", "/volumes", demo, {"volume": {"size": 1, "imageRef": image_id}}
    )
    assert status == 404
    assert body["itemNotFound"]["code"] == 404
    status, body = await cloud.call("POST", "/volumes", None, {"volume": {"imageRef": image_id}})
    assert status == 400  # a volume from an image needs its size


async def test_a_reset_status_is_only_a_status(cloud: VolumeCloud) -> None:
    """An admin's reset to "deleting" deletes nothing (as in Cinder); a force
    delete then does; os-update_snapshot_status moves only along Cinder's map."""
    demo = await cloud.member()
    vid = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    sid = (await cloud.ok("POST", "/snapshots", demo, {"snapshot": {"volume_id": vid}}))[
        "snapshot"
    ]["id"]
    await cloud.wait(f"/snapshots/{sid}", demo)
    action = f"/snapshots/{sid}/action"
    await cloud.ok("POST", action, None, {"os-reset_status": {"status": "deleting"}})
    await cloud.agent.idle()
    assert (cloud.pool / f"snapshot-{sid}").exists()
    assert (await cloud.ok("GET", f"/snapshots/{sid}", demo))["snapshot"]["status"] == "deleting"
    await cloud.ok("POST", action, None, {"os-force_delete": {}})
    await cloud.wait(f"/snapshots/{sid}", demo, status="deleted")
    assert not (cloud.pool / f"snapshot-{sid}").exists()
    # os-update_snapshot_status
    sid = (await cloud.ok("POST", "/snapshots", demo, {"snapshot": {"volume_id": vid}}))[
        "snapshot"
    ]["id"]
    await cloud.wait(f"/snapshots/{sid}", demo)
    action = f"/snapshots/{sid}/action"
    update = {"os-update_snapshot_status": {"status": "error", "progress": "80%"}}
    status, _ = await cloud.call("POST", action, demo, update)
    assert status == 400  # an available snapshot is not the hypervisor's to report on
    await cloud.ok("POST", action, None, {"os-reset_status": {"status": "creating"}})
    await cloud.ok("POST", action, demo, update)
    shown = (await cloud.ok("GET", f"/snapshots/{sid}", demo))["snapshot"]
    assert (shown["status"], shown["os-extended-snapshot-attributes:progress"]) == ("error", "80%")
    listed = await cloud.ok("GET", "/snapshots?sort=display_name:asc", demo)
    assert [s["id"] for s in listed["snapshots"]] == [sid]


async def test_upload_a_volume_to_an_image(cloud: VolumeCloud, tmp_path: Path) -> None:
    demo = await cloud.member()
    vid = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    await asyncio.to_thread(write_pattern, cloud.pool / f"volume-{vid}", 0x42)
    action = f"/volumes/{vid}/action"
    for bad in (
        {"os-volume_upload_image": {}},
        {"os-volume_upload_image": {"image_name": "x", "disk_format": "iso"}},
        {"os-volume_upload_image": {"image_name": "x", "container_format": "ovf"}},
    ):
        status, _ = await cloud.call("POST", action, demo, bad)
        assert status == 400, bad
    body = await cloud.ok(
        "POST",
        action,
        demo,
        {"os-volume_upload_image": {"image_name": "from-volume", "disk_format": "qcow2"}},
    )
    answer = body["os-volume_upload_image"]
    assert (answer["status"], answer["disk_format"]) == ("uploading", "qcow2")
    await cloud.wait(f"/volumes/{vid}", demo)
    headers = {"X-Auth-Token": demo.token}
    response = await cloud.client.get(f"/image/v2/images/{answer['image_id']}", headers=headers)
    image = await response.json()
    assert (image["status"], image["name"], image["disk_format"]) == (
        "active",
        "from-volume",
        "qcow2",
    )
    assert image["owner"] == demo.project_id
    response = await cloud.client.get(
        f"/image/v2/images/{answer['image_id']}/file", headers=headers
    )
    copy = tmp_path / "copy.qcow2"
    copy.write_bytes(await response.read())
    assert qemu_info(copy)["format"] == "qcow2"
    assert await asyncio.to_thread(pattern_at_start, copy) == 0x42
    assert list((cloud.pool / "tmp").iterdir()) == []
