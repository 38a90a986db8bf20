"""The in-process qcow2 overlay, judged by qemu's own tools: ``qemu-img check``
and ``info``, and ``qemu-io`` writing through it (cluster allocation on our
metadata) and reading the backing image's data through it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cairn.agents.compute import disk, qcow2

GIB = 1024**3


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def info(path: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads(run("qemu-img", "info", "--output=json", str(path)))
    return result


def check(path: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads(run("qemu-img", "check", "--output=json", str(path)))
    return result


@pytest.mark.parametrize("size", [16 * 1024**2, GIB, 3 * GIB + 1, 600 * GIB])
async def test_an_overlay_reads_as_qemu_img_would_write_it(tmp_path: Path, size: int) -> None:
    base = tmp_path / "base.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(base), "16M")
    ours, theirs = tmp_path / "ours.qcow2", tmp_path / "theirs.qcow2"

    qcow2.write_overlay(ours, base, size, "qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
        str(theirs), str(size))  # fmt: skip

    keys = ("format", "virtual-size", "cluster-size", "backing-filename",
            "full-backing-filename", "backing-filename-format")  # fmt: skip
    assert {k: info(ours).get(k) for k in keys} == {k: info(theirs).get(k) for k in keys}
    assert ours.stat().st_size == theirs.stat().st_size  # (ours is sparse: no zeros written)
    report = check(ours)
    assert report["check-errors"] == 0
    assert "leaks" not in report
    assert "corruptions" not in report
    # The refcount table, refcount block and L1 table are qemu-img's, byte for byte.
    with ours.open("rb") as a, theirs.open("rb") as b:
        a.seek(qcow2.CLUSTER)
        b.seek(qcow2.CLUSTER)
        assert a.read() == b.read()


async def test_qemu_writes_and_reads_through_the_overlay(tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(b"\xab" * 1024**2)
    overlay = tmp_path / "disk"

    await disk.create_overlay(overlay, base, size_gb=2, backing_format="raw")

    run("qemu-io", "-f", "qcow2", "-c", "write -P 0xcd 512k 1M", "-c", "write -P 0xef 1G 64k",
        "-c", f"write -P 0x11 {2 * GIB - 4096} 4096", str(overlay))  # fmt: skip
    run("qemu-io", "-f", "qcow2", "-c", "read -P 0xab 0 512k", "-c", "read -P 0xcd 512k 1M",
        "-c", "read -P 0xef 1G 64k", "-c", f"read -P 0x11 {2 * GIB - 4096} 4096",
        str(overlay))  # fmt: skip
    report = check(overlay)
    assert report["check-errors"] == 0
    assert "leaks" not in report
    assert "corruptions" not in report
    assert info(overlay)["backing-filename-format"] == "raw"


async def test_without_a_size_the_overlay_takes_the_backing_size(tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(b"\0" * 3 * 1024**2)

    await disk.create_overlay(tmp_path / "o", base, backing_format="raw")

    assert info(tmp_path / "o")["virtual-size"] == 3 * 1024**2


async def test_a_backing_file_of_another_format_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(b"not a qcow2 image, just bytes" * 10)

    with pytest.raises(disk.DiskError, match="not a qcow2 image"):
        await disk.create_overlay(tmp_path / "o", base, backing_format="qcow2")

    assert not (tmp_path / "o").exists()
