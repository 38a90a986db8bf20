"""qcow2 headers: the virtual size read, and the empty image QEMU accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cairn.image import qcow2


def test_virtual_size_of_a_header() -> None:
    assert qcow2.virtual_size(qcow2.empty_qcow2(12345 * 512)[:32]) == 12345 * 512
    assert qcow2.virtual_size(b"QFI\xfb") is None  # too short
    assert qcow2.virtual_size(b"\0" * 64) is None  # not qcow2


@pytest.mark.parametrize("size", [64 * 1024 * 1024, 3 * 1024**4 + 512])
def test_qemu_img_reads_the_empty_image_and_finds_it_clean(tmp_path: Path, size: int) -> None:
    if shutil.which("qemu-img") is None:
        pytest.skip("qemu-img is not installed (scripts/libvirtd installs qemu-utils)")
    path = tmp_path / "disk.qcow2"
    path.write_bytes(qcow2.empty_qcow2(size))
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert (info["format"], info["virtual-size"]) == ("qcow2", size)
    check = subprocess.run(["qemu-img", "check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    made = tmp_path / "made.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(made), str(size)], check=True,
                   capture_output=True)  # fmt: skip
    assert qcow2.virtual_size(made.read_bytes()[:32]) == size
