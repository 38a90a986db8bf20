"""The volume driver contract, run on the file driver in both formats: files are
really made, grown and removed, and ``qemu-img info`` agrees with what was asked."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cairn.agents.volume.driver import GIB, SourceMissing, VolumeDriverError
from cairn.agents.volume.file_driver import FileVolumeDriver


@pytest.fixture(params=["qcow2", "raw"])
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> FileVolumeDriver:
    made = FileVolumeDriver(tmp_path / "pool", request.param)
    await made.prepare()
    return made


def info(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", str(path)], check=True, capture_output=True
    ).stdout
    found: dict[str, Any] = json.loads(out)
    return found


def make_image(path: Path, size: str) -> None:
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(path), size], check=True)


def write_at(path: Path, fmt: str, offset: int, length: int, pattern: int = 0x5A) -> None:
    """Write ``length`` bytes of ``pattern`` into the disk at ``offset``, as a guest would."""
    subprocess.run(
        ["qemu-io", "-f", fmt, "-c", f"write -P {pattern:#x} {offset} {length}", str(path)],
        check=True,
        capture_output=True,
    )


def read_at(path: Path, fmt: str, offset: int, length: int) -> bytes:
    """Read back through qemu-img (works for both formats)."""
    out = subprocess.run(
        ["qemu-io", "-f", fmt, "-c", f"read -v {offset} {length}", str(path)],
        check=True,
        capture_output=True,
    ).stdout.decode()
    hexes = []
    for line in out.splitlines():
        if ":" in line and line[:8].strip("0123456789abcdef") == "":
            hexes += line.split(":", 1)[1].split()[:16]
    return bytes(int(h, 16) for h in hexes[:length])


async def test_create_empty_extend_delete(driver: FileVolumeDriver) -> None:
    allocated = await driver.create_empty("v1", 1)
    path = driver.path("v1")
    found = info(path)
    assert found["format"] == driver.format
    assert found["virtual-size"] == GIB
    assert allocated < 16 * 1024 * 1024  # sparse: a new volume takes almost nothing
    assert await driver.exists("v1")
    assert await driver.size_of("v1") == GIB
    await driver.extend("v1", 3)
    assert info(path)["virtual-size"] == 3 * GIB
    await driver.extend("v1", 3)  # repeated after a crash: nothing to do
    assert info(path)["virtual-size"] == 3 * GIB
    await driver.delete("v1")
    assert not path.exists()
    await driver.delete("v1")  # nothing to remove is success
    assert await driver.inventory() == (set(), set())


async def test_create_is_idempotent(driver: FileVolumeDriver) -> None:
    await driver.create_empty("v1", 1)
    before = driver.path("v1").stat().st_ino
    await driver.create_empty("v1", 1)
    assert driver.path("v1").stat().st_ino == before


async def test_snapshot_clone_and_volume_from_snapshot_carry_the_data(
    driver: FileVolumeDriver,
) -> None:
    await driver.create_empty("v1", 1)
    write_at(driver.path("v1"), driver.format, 4096, 512)
    await driver.create_snapshot("s1", "v1")
    assert info(driver.snapshot_path("s1"))["format"] == driver.format
    # the snapshot keeps the data as it was: later writes to the volume do not reach it
    write_at(driver.path("v1"), driver.format, 4096, 512, pattern=0x11)
    await driver.create_from_snapshot("v2", "s1", 2)
    assert info(driver.path("v2"))["virtual-size"] == 2 * GIB
    assert read_at(driver.path("v2"), driver.format, 4096, 16) == b"\x5a" * 16
    await driver.clone("v3", "v1", 1)
    assert read_at(driver.path("v3"), driver.format, 4096, 16) == b"\x11" * 16
    assert await driver.inventory() == ({"v1", "v2", "v3"}, {"s1"})
    await driver.delete_snapshot("s1")
    assert not driver.snapshot_path("s1").exists()


async def test_from_file_converts_and_grows(driver: FileVolumeDriver, tmp_path: Path) -> None:
    source = tmp_path / "image.qcow2"
    make_image(source, "64M")
    write_at(source, "qcow2", 0, 512)
    await driver.create_from_file("v1", source, "qcow2", 1)
    found = info(driver.path("v1"))
    assert found["format"] == driver.format
    assert found["virtual-size"] == GIB
    assert read_at(driver.path("v1"), driver.format, 0, 16) == b"\x5a" * 16


async def test_failures_leave_nothing_behind(driver: FileVolumeDriver, tmp_path: Path) -> None:
    with pytest.raises(SourceMissing):
        await driver.create_from_snapshot("v1", "no-such-snapshot", 1)
    with pytest.raises(SourceMissing):
        await driver.clone("v2", "no-such-volume", 1)
    with pytest.raises(SourceMissing):
        await driver.extend("v3", 2)
    big = tmp_path / "big.qcow2"
    make_image(big, "2G")
    with pytest.raises(VolumeDriverError, match="larger than"):
        await driver.create_from_file("v4", big, "qcow2", 1)
    not_an_image = tmp_path / "junk"
    not_an_image.write_bytes(b"x" * 100)
    with pytest.raises(VolumeDriverError):
        await driver.create_from_file("v5", not_an_image, "qcow2", 1)
    assert await driver.inventory() == (set(), set())
    assert list(driver.tmp.iterdir()) == []


async def test_a_cancelled_create_leaves_nothing(driver: FileVolumeDriver, tmp_path: Path) -> None:
    source = tmp_path / "image.raw"
    with source.open("wb") as f:
        f.truncate(512 * 1024 * 1024)
        f.seek(0)
        f.write(b"\x01" * (256 * 1024 * 1024))  # enough data that the copy takes a while
    task = asyncio.create_task(driver.create_from_file("v1", source, "raw", 1))
    for _ in range(500):  # cancel once the copy is under way
        if any(driver.tmp.iterdir()):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not driver.path("v1").exists()
    assert list(driver.tmp.iterdir()) == []


async def test_prepare_drops_leftovers(tmp_path: Path) -> None:
    driver = FileVolumeDriver(tmp_path / "pool")
    await driver.prepare()
    (driver.tmp / "volume-x.1234").write_bytes(b"half")
    await driver.prepare()
    assert list(driver.tmp.iterdir()) == []


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vmdk"):
        FileVolumeDriver(tmp_path, "vmdk")


async def test_backups_full_incremental_restore(driver: FileVolumeDriver) -> None:
    await driver.create_empty("v1", 1)
    write_at(driver.path("v1"), driver.format, 0, 4096, pattern=0x11)
    await driver.backup("b1", "v1", None)
    write_at(driver.path("v1"), driver.format, 1 << 20, 4096, pattern=0x22)
    await driver.backup("b2", "v1", "b1")
    assert info(driver.backup_path("b2"))["backing-filename"] == str(driver.backup_path("b1"))
    write_at(driver.path("v1"), driver.format, 0, 4096, pattern=0x99)
    await driver.restore("b2", "v2", 2)  # a new volume, larger than the backup
    assert info(driver.path("v2"))["virtual-size"] == 2 * GIB
    assert read_at(driver.path("v2"), driver.format, 0, 4) == b"\x11" * 4
    assert read_at(driver.path("v2"), driver.format, 1 << 20, 4) == b"\x22" * 4
    await driver.restore("b1", "v1", 1)  # over the volume itself
    assert read_at(driver.path("v1"), driver.format, 0, 4) == b"\x11" * 4
    assert read_at(driver.path("v1"), driver.format, 1 << 20, 4) == b"\x00" * 4
    with pytest.raises(SourceMissing):
        await driver.backup("b3", "v1", "missing-parent")
    await driver.delete_backup("b2")
    await driver.delete_backup("b1")
    assert not driver.backup_path("b1").exists()
    assert list(driver.tmp.iterdir()) == []
