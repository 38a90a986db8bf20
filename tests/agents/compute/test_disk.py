"""The qemu-img helper, on real files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cairn.agents.compute import disk


async def test_create_and_overlay(tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    overlay = tmp_path / "overlay.qcow2"

    await disk.create(base, size_gb=1)
    await disk.create_overlay(overlay, base, size_gb=3)

    info = await disk.info(overlay)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == 3 * 1024**3
    assert info["backing-filename"] == str(base)
    assert (await disk.info(base))["virtual-size"] == 1024**3


async def test_an_overlay_without_a_size_takes_the_backing_size(tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    await disk.create(base, size_gb=2)

    await disk.create_overlay(tmp_path / "o.qcow2", base)

    assert (await disk.info(tmp_path / "o.qcow2"))["virtual-size"] == 2 * 1024**3


async def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    taken = tmp_path / "taken.qcow2"
    taken.write_bytes(b"precious")

    with pytest.raises(disk.DiskError, match="exists"):
        await disk.create(taken, size_gb=1)

    assert taken.read_bytes() == b"precious"


async def test_a_failed_overlay_leaves_no_file(tmp_path: Path) -> None:
    overlay = tmp_path / "o.qcow2"

    with pytest.raises(disk.DiskError, match=r"missing\.qcow2"):
        await disk.create_overlay(overlay, tmp_path / "missing.qcow2")

    assert not overlay.exists()


async def test_a_relative_backing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="absolute"):
        await disk.create_overlay(tmp_path / "o.qcow2", Path("base.qcow2"))


async def test_a_cancelled_create_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "big.qcow2"
    task = asyncio.create_task(disk.create(target, size_gb=1))
    await asyncio.sleep(0)  # the subprocess is being started

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert not target.exists()
