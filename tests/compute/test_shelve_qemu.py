"""Shelve, unshelve, rescue and unrescue of a real QEMU guest through the real
``openstack`` CLI, on a cloud that offloads at once (Nova's default
``shelved_offload_time`` 0). With one compute host the unshelved guest comes
back on the same host: "onto another host" needs a second one (the scheduler's
path is the boot's)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import libvirt
import pytest
from tests.cloud_process import Running, build_guest, cairn_up

pytestmark = pytest.mark.qemu
QEMU = "qemu:///system"
TIMEOUT = 120.0
DEMO = {"cloud": "cairn-demo"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("shelve") / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()))
    with cairn_up(data, *options) as (running, _pid):
        yield running


def _until(what: str, probe: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def _status(cloud: Running, server: str) -> str:
    shown = cloud.openstack("server", "show", server, "-c", "status", "-f", "value", check=False,
                            **DEMO)  # fmt: skip
    return shown.stdout.strip() if shown.returncode == 0 else "GONE"


def _console(cloud: Running, server: str) -> str:
    return cloud.openstack("console", "log", "show", server, check=False, **DEMO).stdout


def _disks(cloud: Running, server: str) -> list[str]:
    """The disks the guest listed last (its ``DISKS`` lines)."""
    lines = re.findall(r"^DISKS (.*)$", _console(cloud, server), re.M)
    return lines[-1].split() if lines else []


def _used(cloud: Running) -> tuple[int, int]:
    stats = cloud.json("hypervisor", "stats", "show")
    assert isinstance(stats, dict)
    return int(stats["vcpus_used"]), int(stats["memory_mb_used"])


def _has_guest(server: str) -> bool:
    connection = libvirt.open(QEMU)
    try:
        return any(d.name().endswith(server) for d in connection.listAllDomains())
    finally:
        connection.close()


def _images(cloud: Running) -> set[str]:
    listed = cloud.json("image", "list", **DEMO)
    assert isinstance(listed, list)
    return {str(i["Name"]) for i in listed}


def test_shelve_offload_and_unshelve_a_real_guest(cloud: Running) -> None:
    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--wait", "shelf", **DEMO)  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        _until("the guest's boot", lambda: "GUEST-UP" in _console(cloud, server))
        assert _used(cloud) == (1, 128)

        cloud.openstack("server", "shelve", server, **DEMO)
        _until("SHELVED_OFFLOADED", lambda: _status(cloud, server) == "SHELVED_OFFLOADED")
        shown = cloud.json("server", "show", server)  # as the admin: the host fields
        assert isinstance(shown, dict)
        assert shown["OS-EXT-SRV-ATTR:host"] is None
        assert shown["OS-EXT-STS:task_state"] is None
        assert not _has_guest(server)  # the guest left the host...
        assert _used(cloud) == (0, 0)  # ...and so did its claim
        assert "shelf-shelved" in _images(cloud)

        cloud.openstack("server", "unshelve", server, **DEMO)
        _until("ACTIVE after the unshelve", lambda: _status(cloud, server) == "ACTIVE")
        # The console of the new guest (the old one's went with the host's files).
        _until("the unshelved guest's boot", lambda: "GUEST-UP" in _console(cloud, server))
        assert _used(cloud) == (1, 128)
        assert "shelf-shelved" not in _images(cloud)  # the shelved image is gone
        actions = cloud.json("server", "event", "list", server, **DEMO)
        assert isinstance(actions, list)
        assert [a["Action"] for a in actions][:2] == ["unshelve", "shelve"]
    finally:  # a failed run leaves no guest behind
        cloud.openstack("server", "delete", "--wait", server, check=False, **DEMO)


def test_rescue_and_unrescue_a_real_guest(cloud: Running) -> None:
    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--wait", "rescued", **DEMO)  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        _until("the guest's boot", lambda: "GUEST-UP" in _console(cloud, server))
        assert _disks(cloud, server) == ["vda"]

        cloud.openstack("server", "rescue", server, **DEMO)
        _until("RESCUE", lambda: _status(cloud, server) == "RESCUE")
        # The rescue guest boots with its own disk first and the server's second.
        _until("the rescue guest's two disks", lambda: _disks(cloud, server) == ["vda", "vdb"])

        cloud.openstack("server", "unrescue", server, **DEMO)
        _until("ACTIVE after the unrescue", lambda: _status(cloud, server) == "ACTIVE")
        _until(
            "the server's own guest, one disk",
            lambda: "GUEST-UP" in _console(cloud, server) and _disks(cloud, server) == ["vda"],
        )
        actions = cloud.json("server", "event", "list", server, **DEMO)
        assert isinstance(actions, list)
        assert [a["Action"] for a in actions][:2] == ["unrescue", "rescue"]
    finally:
        cloud.openstack("server", "delete", "--wait", server, check=False, **DEMO)
