"""Resize on real QEMU through the real ``openstack`` CLI: ``server resize``, VERIFY_RESIZE
with the new memory on the guest's console and the root disk grown, ``server resize
confirm``; another resize and ``server resize revert``: the old memory again. The
hypervisor's usage holds both flavors while a resize waits, then only the kept one."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.cloud_process import Running, build_guest, cairn_up

pytestmark = pytest.mark.qemu
QEMU = "qemu:///system"
TIMEOUT = 120.0
DEMO = {"cloud": "cairn-demo"}
OLD_API = ("--os-compute-api-version", "2.87")  # hypervisors with their usage


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("resize") / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()))
    with cairn_up(data, *options) as (running, _pid):
        for name, ram, disk in (("r.grow", "256", "2"), ("r.back", "160", "2")):
            running.openstack(
                "flavor", "create", "--ram", ram, "--disk", disk, "--vcpus", "1", name
            )
        yield running


def until(what: str, probe: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def status(cloud: Running, server: str) -> str:
    shown = cloud.openstack(
        "server", "show", server, "-c", "status", "-f", "value", check=False, **DEMO
    )
    return shown.stdout.strip() if shown.returncode == 0 else "GONE"


def memory_kb(cloud: Running, server: str) -> int | None:
    """The guest's MEM line on its console (None until it printed it)."""
    log = cloud.openstack("console", "log", "show", server, check=False, **DEMO).stdout
    found = re.findall(r"^MEM (\d+)", log, re.MULTILINE)
    return int(found[-1]) if found else None


def memory_used(cloud: Running) -> int:
    (listed,) = cloud.json("hypervisor", "list", *OLD_API)  # type: ignore[misc]
    shown = cloud.json("hypervisor", "show", str(listed["ID"]), *OLD_API)
    assert isinstance(shown, dict)
    return int(shown["memory_mb_used"])


def disk_gib(cloud: Running, server: str) -> float:
    disk = next(cloud.data.glob(f"compute/*/instances/{server}/disk"))
    info = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(disk)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    size = int(re.search(r'"virtual-size": (\d+)', info).group(1))  # type: ignore[union-attr]
    return size / 1024**3


def wait_memory(cloud: Running, server: str, other_than: int | None) -> int:
    found: list[int] = []

    def probe() -> bool:
        seen = memory_kb(cloud, server)
        if seen is not None and seen != other_than:
            found.append(seen)
            return True
        return False

    until("the guest's MEM line", probe)
    return found[0]


def test_resize_confirm_and_revert(cloud: Running) -> None:
    made = cloud.json(
        "server",
        "create",
        "--image",
        "cairn-guest",
        "--flavor",
        "m1.nano",
        "--nic",
        "none",
        "--wait",
        "grows",
        **DEMO,
    )
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        nano_kb = wait_memory(cloud, server, None)
        assert memory_used(cloud) == 128
        assert disk_gib(cloud, server) == 1

        cloud.openstack("server", "resize", "--flavor", "r.grow", server, **DEMO)
        until("VERIFY_RESIZE", lambda: status(cloud, server) == "VERIFY_RESIZE")
        grown_kb = wait_memory(cloud, server, nano_kb)
        assert grown_kb > nano_kb + 100_000  # 256 MiB against 128 MiB
        assert memory_used(cloud) == 128 + 256  # both claims until confirmed
        assert disk_gib(cloud, server) == 2
        shown = cloud.json("server", "show", server, **DEMO)
        assert isinstance(shown, dict)
        assert "r.grow" in str(shown["flavor"])

        cloud.openstack("server", "resize", "confirm", server, **DEMO)
        until("ACTIVE after the confirm", lambda: status(cloud, server) == "ACTIVE")
        assert memory_used(cloud) == 256
        instance = next(cloud.data.glob(f"compute/*/instances/{server}"))
        until("the old disk removed", lambda: not (instance / "disk.resize-orig").exists())

        cloud.openstack("server", "resize", "--flavor", "r.back", server, **DEMO)
        until("VERIFY_RESIZE again", lambda: status(cloud, server) == "VERIFY_RESIZE")
        back_kb = wait_memory(cloud, server, grown_kb)
        assert back_kb < grown_kb
        assert memory_used(cloud) == 256 + 160
        cloud.openstack("server", "resize", "revert", server, **DEMO)
        until("ACTIVE after the revert", lambda: status(cloud, server) == "ACTIVE")
        assert wait_memory(cloud, server, back_kb) == grown_kb  # the old memory again
        assert memory_used(cloud) == 256
        assert disk_gib(cloud, server) == 2
        assert not (instance / "disk.resize-orig").exists()

        actions = cloud.json("server", "event", "list", server, **DEMO)
        assert isinstance(actions, list)
        assert [a["Action"] for a in actions][:4] == [
            "revertResize",
            "resize",
            "confirmResize",
            "resize",
        ]
        migrations = cloud.json("server", "migration", "list", "--server", server)
        assert isinstance(migrations, list)
        assert sorted(m["Status"] for m in migrations) == ["confirmed", "reverted"]
    finally:
        cloud.openstack("server", "delete", "--wait", server, check=False, **DEMO)


def test_nothing_is_left_of_a_resized_server(cloud: Running, tmp_path: Path) -> None:
    """Deleting a server in VERIFY_RESIZE releases both claims and its files."""
    made = cloud.json(
        "server",
        "create",
        "--image",
        "cairn-guest",
        "--flavor",
        "m1.nano",
        "--nic",
        "none",
        "--wait",
        "dropped",
        **DEMO,
    )
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        cloud.openstack("server", "resize", "--flavor", "r.grow", server, **DEMO)
        until("VERIFY_RESIZE", lambda: status(cloud, server) == "VERIFY_RESIZE")
    finally:
        cloud.openstack("server", "delete", "--wait", server, check=False, **DEMO)
    assert memory_used(cloud) == 0
    assert list(cloud.data.glob(f"compute/*/instances/{server}")) == []
