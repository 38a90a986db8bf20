"""``cairn up`` SIGKILLed in the middle of a snapshot of a real guest, then started
again on the same data: nothing stuck, nothing leaked.

The guest boots from an image with 128 MiB of data, so the snapshot (pause,
copy, resume, upload) takes a few seconds; the whole process (API, image
service, compute agent) is killed half a second into it. The guest lives on in
libvirt. After the restart the image service puts the cut upload back to
queued, and the agent, finding the snapshot still requested, does it again:
the image ends active with the guest's data, the server ACTIVE with its guest
running (not left paused), and no copy is left in the server's directory."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import libvirt
import pytest
from tests.cloud_process import Running, build_guest, cairn_up

from cairn.store.sqlite import SQLiteEventStore

pytestmark = pytest.mark.qemu
QEMU = "qemu:///system"
TIMEOUT = 120.0


def _until(what: str, probe: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def _bench_image(cloud: Running, tmp: Path) -> None:
    raw, disk = tmp / "data.raw", tmp / "data.qcow2"
    raw.write_bytes(os.urandom(128 << 20))
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(disk)],
                   check=True)  # fmt: skip
    guest = cloud.json("image", "show", "cairn-guest", cloud="cairn-demo")
    assert isinstance(guest, dict)
    properties = guest["properties"]
    cloud.openstack(
        "image", "create", "--file", str(disk), "--disk-format", "qcow2",
        "--property", f"kernel_id={properties['kernel_id']}",
        "--property", f"ramdisk_id={properties['ramdisk_id']}", "big", cloud="cairn-demo",
    )  # fmt: skip


def _domain_state(server_id: str) -> int:
    connection = libvirt.open(QEMU)
    try:
        for domain in connection.listAllDomains():
            if domain.name().endswith(server_id):
                return int(domain.state()[0])
        return -1
    finally:
        connection.close()


async def _outcomes(data: Path, server_id: str) -> list[str]:
    async with await SQLiteEventStore.open(data / "cairn.sqlite") as store:
        return [e.type for e in await store.read_stream(f"server-{server_id}")]


def test_a_snapshot_cut_by_sigkill_is_finished_after_the_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()))
    demo = {"cloud": "cairn-demo"}
    with cairn_up(data, *options, killed=True) as (cloud, pid):
        _bench_image(cloud, tmp_path)
        made = cloud.json("server", "create", "--image", "big", "--flavor", "m1.nano",
                          "--nic", "none", "--wait", "victim", **demo)  # fmt: skip
        assert isinstance(made, dict)
        server = str(made["id"])
        answer = cloud.json("server", "image", "create", "--name", "cut", server, **demo)
        assert isinstance(answer, dict)
        image = str(answer["id"])
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
    outcomes = asyncio.run(_outcomes(data, server))
    assert "ServerActionCompleted" not in outcomes, "the kill came after the snapshot"
    instance = next(data.glob(f"compute/*/instances/{server}"))
    with cairn_up(data, *options) as (cloud, _pid):
        try:
            _until(
                "the snapshot to be active",
                lambda: (
                    cloud.openstack(
                        "image", "show", image, "-c", "status", "-f", "value", **demo
                    ).stdout.strip()
                    == "active"
                ),
            )
            shown = cloud.json("image", "show", image, **demo)
            assert isinstance(shown, dict)
            assert int(shown["size"]) > 128 << 20  # the guest's data, all of it
            _until(
                "the server's task to end",
                lambda: (
                    cloud.json("server", "show", server, **demo)["OS-EXT-STS:task_state"]  # type: ignore[index]
                    is None
                ),
            )
            view = cloud.json("server", "show", server, **demo)
            assert isinstance(view, dict)
            assert view["status"] == "ACTIVE"
            assert _domain_state(server) == libvirt.VIR_DOMAIN_RUNNING  # not left paused
            assert [p.name for p in instance.iterdir() if p.name.startswith("snapshot-")] == []
        finally:
            cloud.openstack("server", "delete", "--wait", server, check=False, **demo)
            cloud.openstack("image", "delete", image, "big", check=False, **demo)
