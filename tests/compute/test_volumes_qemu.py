"""Volumes in real QEMU guests, driven by the real ``openstack`` CLI against
``cairn up``: ``server add volume`` hot-plugs the volume's file into the running
guest (its console lists the new disk: the default guest prints ``DISKS ...``
whenever its disks change), ``volume show`` says in-use and attached to the
server; ``server remove volume`` unplugs it (the guest's disk list shrinks) and
the volume is available again; the disk stays through a hard reboot."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from tests.cloud_process import Running, build_guest, cairn_up

pytestmark = pytest.mark.qemu
QEMU = "qemu:///system"
TIMEOUT = 90.0
DEMO = {"cloud": "cairn-demo"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("volumes-qemu") / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()))
    with cairn_up(data, *options) as (running, _pid):
        yield running


def _until(what: str, probe: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def _console(cloud: Running, server: str) -> str:
    return cloud.openstack("console", "log", "show", server, **DEMO).stdout


def _last_disks(cloud: Running, server: str) -> str:
    """The guest's last ``DISKS`` line: the disks it has now."""
    lines = [line.strip() for line in _console(cloud, server).splitlines()]
    found = [line for line in lines if line.startswith("DISKS")]
    return found[-1] if found else ""


def _volume(cloud: Running, volume: str) -> dict[str, object]:
    shown = cloud.json("volume", "show", volume, **DEMO)
    assert isinstance(shown, dict)
    return shown


def _task_done(cloud: Running, server: str) -> bool:
    shown = cloud.json("server", "show", server, **DEMO)
    assert isinstance(shown, dict)
    return shown["OS-EXT-STS:task_state"] is None


def test_a_volume_is_hot_plugged_into_a_real_guest_and_unplugged(cloud: Running) -> None:
    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--wait", "with-volume", **DEMO)  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    volume = ""
    try:
        _until("GUEST-UP", lambda: "GUEST-UP" in _console(cloud, server))
        assert _last_disks(cloud, server) == "DISKS vda"
        made_volume = cloud.json("volume", "create", "--size", "1", "data", **DEMO)
        assert isinstance(made_volume, dict)
        volume = str(made_volume["id"])
        _until("the volume", lambda: _volume(cloud, volume)["status"] == "available")

        cloud.openstack("server", "add", "volume", server, volume, **DEMO)
        _until("in-use", lambda: _volume(cloud, volume)["status"] == "in-use")
        _until("the guest to see the disk", lambda: _last_disks(cloud, server) == "DISKS vda vdb")
        shown = _volume(cloud, volume)
        (attachment,) = shown["attachments"]  # type: ignore[misc]
        assert attachment["server_id"] == server
        assert attachment["device"] == "/dev/vdb"
        _until("the attach to end", lambda: _task_done(cloud, server))
        listed = cloud.json("server", "volume", "list", server, **DEMO)
        assert isinstance(listed, list)
        assert [row["Volume ID"] for row in listed] == [volume]

        # A hard reboot (a new QEMU process) keeps the disk: it is in the definition.
        cloud.openstack("server", "reboot", "--hard", "--wait", server, **DEMO)
        _until("the guest up again", lambda: _console(cloud, server).count("GUEST-UP") >= 1)
        _until("the disk after the reboot", lambda: _last_disks(cloud, server) == "DISKS vda vdb")

        cloud.openstack("server", "remove", "volume", server, volume, **DEMO)
        _until("available", lambda: _volume(cloud, volume)["status"] == "available")
        _until("the guest to lose the disk", lambda: _last_disks(cloud, server) == "DISKS vda")
        assert _volume(cloud, volume)["attachments"] == []
    finally:
        cloud.openstack("server", "delete", "--wait", server, check=False, **DEMO)
        if volume:
            cloud.openstack("volume", "delete", volume, check=False, **DEMO)


def test_a_real_guest_boots_from_a_volume_and_takes_it_along(cloud: Running) -> None:
    made = cloud.json("server", "create", "--image", "cairn-guest", "--boot-from-volume", "1",
                      "--flavor", "m1.nano", "--nic", "none", "--wait", "from-volume",
                      **DEMO)  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        assert made["status"] == "ACTIVE"
        _until("GUEST-UP", lambda: "GUEST-UP" in _console(cloud, server))
        assert _last_disks(cloud, server) == "DISKS vda"
        shown = cloud.json("server", "show", server, **DEMO)
        assert isinstance(shown, dict)
        (attached,) = shown["volumes_attached"]
        root = str(attached["id"])
        volume = _volume(cloud, root)
        assert volume["status"] == "in-use"
        assert str(volume["bootable"]).lower() == "true"
        (attachment,) = volume["attachments"]  # type: ignore[misc]
        assert (attachment["server_id"], attachment["device"]) == (server, "/dev/vda")
    finally:
        cloud.openstack("server", "delete", "--wait", server, check=False, **DEMO)
    # What the mapping asked for (openstackclient sends delete_on_termination false):
    # deleted with the server, or detached and available again.
    if attached.get("delete_on_termination"):
        _until(
            "the root volume's deletion",
            lambda: cloud.openstack("volume", "show", root, check=False, **DEMO).returncode != 0,
        )
    else:
        _until("the root volume detached", lambda: _volume(cloud, root)["status"] == "available")
        cloud.openstack("volume", "delete", root, **DEMO)
