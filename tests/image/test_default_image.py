"""The default guest image: uploaded once, as three linked public images, again only
when an earlier start was cut off before the set was complete."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cairn.events import Metadata
from cairn.image.default_image import KERNEL_FILE, NAMES, RAMDISK_FILE
from tests.image.conftest import running_cloud, settings_for


def guest(tmp_path: Path) -> Path:
    folder = tmp_path / "guest"
    folder.mkdir()
    (folder / KERNEL_FILE).write_bytes(b"kernel" * 100_000)
    (folder / RAMDISK_FILE).write_bytes(b"initramfs" * 10_000)
    return folder


async def test_the_first_start_uploads_the_guest_and_later_starts_do_not(tmp_path: Path) -> None:
    folder = guest(tmp_path)
    settings = settings_for(tmp_path, guest_dir=str(folder))
    async with running_cloud(settings) as cloud:
        images = {i.attributes.name: i for i in cloud.images.state.images.values()}
        assert sorted(images) == sorted(NAMES)
        kernel, ramdisk, disk = (images[name] for name in NAMES)
        assert all(i.status == "active" and i.visibility == "public" for i in images.values())
        assert kernel.owner == cloud.projects["admin"]
        assert kernel.data is not None
        assert kernel.data.checksum == hashlib.md5((folder / KERNEL_FILE).read_bytes()).hexdigest()
        assert (disk.attributes.disk_format, disk.data and disk.data.virtual_size) == (
            "qcow2", 64 * 1024 * 1024,
        )  # fmt: skip
        assert disk.attributes.properties["kernel_id"] == kernel.id
        assert disk.attributes.properties["ramdisk_id"] == ramdisk.id
        _, listed = await cloud.call("GET", "/v2/images?visibility=public", as_="beta")
        assert sorted(i["name"] for i in listed["images"]) == sorted(NAMES)
        first_ids = {i.id for i in images.values()}
    async with running_cloud(settings, restart=True) as cloud:
        assert {i.id for i in cloud.images.state.images.values()} == first_ids


async def test_a_set_left_incomplete_is_made_again(tmp_path: Path) -> None:
    folder = guest(tmp_path)
    settings = settings_for(tmp_path, guest_dir=str(folder))
    async with running_cloud(settings) as cloud:
        disk = next(i for i in cloud.images.state.images.values() if i.attributes.name == NAMES[2])
        await cloud.images.delete(disk.id, Metadata())  # as if the start had stopped before it
    async with running_cloud(settings, restart=True) as cloud:
        state = cloud.images.state
        names = sorted(i.attributes.name or "" for i in state.images.values())
        # the active kernel and ramdisk left over stay (a server may use them)
        assert names == sorted([*NAMES, NAMES[0], NAMES[1]])
        assert all(i.status == "active" for i in state.images.values())
        disk = next(i for i in state.images.values() if i.attributes.name == NAMES[2])
        for key in ("kernel_id", "ramdisk_id"):
            assert state.images[disk.attributes.properties[key]].status == "active"


async def test_only_the_clouds_own_inactive_leftovers_go(tmp_path: Path) -> None:
    """A protected leftover does not stop the start; another project's stays."""
    settings = settings_for(tmp_path, guest_dir=str(tmp_path / "not-built"))
    async with running_cloud(settings) as cloud:
        protected = await cloud.create(name=NAMES[2], visibility="public", protected=True)
        plain = await cloud.create(name=NAMES[0], visibility="public")
        theirs = await cloud.create(
            name=NAMES[1], visibility="public", owner=cloud.projects["alpha"]
        )
    settings = settings.replace(guest_dir=str(guest(tmp_path)))
    async with running_cloud(settings, restart=True) as cloud:
        state = cloud.images.state
        assert protected["id"] in state.images
        assert plain["id"] not in state.images
        assert theirs["id"] in state.images
        active = [i.attributes.name or "" for i in state.images.values() if i.status == "active"]
        assert sorted(active) == sorted(NAMES)


async def test_without_the_guest_the_cloud_starts_without_a_default_image(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, guest_dir=str(tmp_path / "not-built"))
    async with running_cloud(settings) as cloud:
        assert cloud.images.state.images == {}
