"""A first user's block storage session with the real ``openstack`` CLI against
``cairn up`` (the volume agent on its file pool; no compute host, no network
agent): create, list, show, set, extend, snapshot, volumes from a snapshot and
an image, delete; the files in ``<data-dir>/volumes`` follow."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud_process import Running, cairn_up

DEMO = {"cloud": "cairn-demo"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("volume-cli") / "data"
    options = ("--compute-hosts", "0", "--network-agent", "off", "--guest-dir", "none")
    with cairn_up(data, *options) as (running, _):
        yield running


def _json(running: Running, *args: str, **kw: Any) -> dict[str, Any]:
    found = running.json(*args, **kw)
    assert isinstance(found, dict)
    return found


def _wait(running: Running, kind: str, name: str, status: str = "available") -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        args = (
            ("volume", "show", name) if kind == "volume" else ("volume", "snapshot", "show", name)
        )
        shown = _json(running, *args, **DEMO)
        if shown["status"] == status:
            return shown
        assert not shown["status"].startswith("error"), shown
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)


def _virtual_size(path: Path) -> int:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", str(path)], check=True, capture_output=True
    ).stdout
    return int(json.loads(out)["virtual-size"])


def test_the_first_session(cloud: Running, tmp_path: Path) -> None:
    pool = cloud.data / "volumes"
    made = _json(
        cloud, "volume", "create", "--size", "1", "--property", "tier=gold", "data", **DEMO
    )
    assert made["status"] == "creating"
    shown = _wait(cloud, "volume", "data")
    assert shown["size"] == 1
    assert shown["type"] == "__DEFAULT__"
    assert _virtual_size(pool / f"volume-{made['id']}") == 1024**3
    listed = cloud.json("volume", "list", **DEMO)
    assert isinstance(listed, list)
    assert [v["Name"] for v in listed] == ["data"]
    changes = ("--name", "data2", "--description", "mine", "--property", "k=v", "--size", "2")
    cloud.openstack("volume", "set", *changes, "data", **DEMO)
    shown = _wait(cloud, "volume", "data2")
    assert shown["description"] == "mine"
    assert shown["properties"] == {"tier": "gold", "k": "v"}
    assert shown["size"] == 2
    assert _virtual_size(pool / f"volume-{made['id']}") == 2 * 1024**3
    snap = _json(cloud, "volume", "snapshot", "create", "--volume", "data2", "snap", **DEMO)
    _wait(cloud, "snapshot", "snap")
    assert (pool / f"snapshot-{snap['id']}").exists()
    from_snap = _json(cloud, "volume", "create", "--snapshot", "snap", "restored", **DEMO)
    assert _wait(cloud, "volume", "restored")["size"] == 2
    # a volume from an image the demo user uploads
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(disk), "16M"], check=True)
    cloud.openstack(
        "image", "create", "--disk-format", "qcow2", "--file", str(disk), "tiny", **DEMO
    )
    booted = _json(cloud, "volume", "create", "--image", "tiny", "--size", "1", "boot", **DEMO)
    shown = _wait(cloud, "volume", "boot")
    assert shown["bootable"] is True
    assert shown["volume_image_metadata"]["image_name"] == "tiny"
    # and back: the volume uploaded to a new image
    uploaded = _json(
        cloud, "image", "create", "--volume", "boot", "--disk-format", "qcow2", "again", **DEMO
    )
    _wait(cloud, "volume", "boot")
    deadline = time.monotonic() + 60
    while _json(cloud, "image", "show", "again", **DEMO)["status"] != "active":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert uploaded["disk_format"] == "qcow2"
    # a backup of it, restored into a new volume
    backup = _json(cloud, "volume", "backup", "create", "--name", "b1", "boot", **DEMO)
    deadline = time.monotonic() + 60
    while _json(cloud, "volume", "backup", "show", "b1", **DEMO)["status"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert (pool / "backups" / f"backup-{backup['id']}").exists()
    cloud.openstack("volume", "backup", "restore", "b1", "from-backup", **DEMO)
    assert _wait(cloud, "volume", "from-backup")["size"] == 1
    cloud.openstack("volume", "backup", "delete", "b1", **DEMO)
    # refused: a delete with a snapshot, another project's volume, a bad size
    refused = cloud.openstack("volume", "delete", "data2", check=False, **DEMO)
    assert refused.returncode != 0
    assert "snapshot" in refused.stderr
    admins = _json(cloud, "volume", "create", "--size", "1", "admins")  # the admin's project
    hidden = cloud.openstack("volume", "show", admins["id"], check=False, **DEMO)
    assert hidden.returncode != 0
    assert f"No Volume found for {admins['id']}" in hidden.stderr
    names = {v["Name"] for v in cloud.json("volume", "list", **DEMO)}  # type: ignore[attr-defined]
    assert names == {"data2", "restored", "boot", "from-backup"}
    bad = cloud.openstack("volume", "create", "--size", "0", "zero", check=False, **DEMO)
    assert bad.returncode != 0
    cloud.openstack("volume", "snapshot", "delete", "snap", **DEMO)
    cloud.openstack("volume", "delete", "data2", "restored", "boot", "from-backup", **DEMO)
    deadline = time.monotonic() + 60
    while cloud.json("volume", "list", **DEMO):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    for ident in (made["id"], from_snap["id"], booted["id"]):
        assert not (pool / f"volume-{ident}").exists()
    assert not (pool / f"snapshot-{snap['id']}").exists()
