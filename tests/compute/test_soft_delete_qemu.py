"""Soft delete on real QEMU: with ``--reclaim-instance-interval``, a deleted server's
guest stops and the server waits SOFT_DELETED; ``server restore`` starts it again,
``server delete --force`` ends it. Driven by the real ``openstack`` CLI."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import libvirt
import pytest
from tests.cloud_process import Running, build_guest, cairn_up

pytestmark = pytest.mark.qemu
QEMU = "qemu:///system"
TIMEOUT = 90.0
DEMO = {"cloud": "cairn-demo"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("soft-delete") / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()),
               "--reclaim-instance-interval", "3600")  # fmt: skip
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


def _guest_state(server: str) -> int:
    connection = libvirt.open(QEMU)
    try:
        for domain in connection.listAllDomains():
            if domain.name().endswith(server):
                return int(domain.state()[0])
        return -1
    finally:
        connection.close()


def test_a_deleted_server_is_kept_restored_and_force_deleted(cloud: Running) -> None:
    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--wait", "kept", **DEMO)  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        cloud.openstack("server", "delete", server, **DEMO)
        _until("SOFT_DELETED", lambda: _status(cloud, server) == "SOFT_DELETED")
        assert _guest_state(server) == libvirt.VIR_DOMAIN_SHUTOFF  # stopped, not destroyed

        cloud.openstack("server", "restore", server, **DEMO)
        _until("ACTIVE after the restore", lambda: _status(cloud, server) == "ACTIVE")
        assert _guest_state(server) == libvirt.VIR_DOMAIN_RUNNING
        _until(
            "the restored guest's heartbeat",
            lambda: (
                "HEARTBEAT 2" in cloud.openstack("console", "log", "show", server, **DEMO).stdout
            ),
        )
        actions = cloud.json("server", "event", "list", server, **DEMO)
        assert isinstance(actions, list)
        assert [a["Action"] for a in actions][:2] == ["restore", "delete"]

        cloud.openstack("server", "delete", server, **DEMO)
        _until("SOFT_DELETED again", lambda: _status(cloud, server) == "SOFT_DELETED")
        cloud.openstack("server", "delete", "--force", "--wait", server, **DEMO)
        assert _status(cloud, server) == "GONE"
        assert _guest_state(server) == -1
    finally:  # a failed run leaves no guest behind
        cloud.openstack("server", "delete", "--force", "--wait", server, check=False, **DEMO)
