"""``cairn up`` SIGKILLed in the middle of a resize of a real guest, then started
again on the same data: nothing stuck, nothing leaked.

The process (API and compute agent) is killed at one of two points the agent
records before it acts: ``resize_migrating`` (the old guest is being shut
down) and ``resize_finish`` (the grown disk is in place and the new guest is
being defined). The restarted agent finds the resize still under way and does
it again from the old disk it had set aside: the server reaches VERIFY_RESIZE
with the new memory on the guest's console, the host holds both claims until
the confirm and then only the new one, one guest is defined for the server,
and no partial copy or old disk is left in its directory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import libvirt
import pytest
from tests.cloud_process import build_guest, cairn_up
from tests.compute.test_resize_qemu import DEMO, QEMU, memory_used, status, until, wait_memory

from cairn.store.sqlite import SQLiteEventStore

pytestmark = pytest.mark.qemu


def _progress(data: Path, server_id: str) -> list[str]:
    """The task states the agent recorded for the server's resize so far."""
    connection = sqlite3.connect(f"file:{data / 'cairn.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        rows = connection.execute(
            "SELECT data FROM events WHERE stream = ? AND type = 'ServerResizeProgressed'",
            (f"server-{server_id}",),
        ).fetchall()
    finally:
        connection.close()
    return [json.loads(row[0])["task_state"] for row in rows]


async def _types(data: Path, server_id: str) -> list[str]:
    async with await SQLiteEventStore.open(data / "cairn.sqlite") as store:
        return [e.type for e in await store.read_stream(f"server-{server_id}")]


def _guests(server_id: str) -> list[int]:
    """The states of the libvirt domains defined for the server."""
    connection = libvirt.open(QEMU)
    try:
        return [
            int(d.state()[0]) for d in connection.listAllDomains() if d.name().endswith(server_id)
        ]
    finally:
        connection.close()


@pytest.mark.parametrize("kill_at", ["resize_migrating", "resize_finish"])
def test_a_resize_cut_by_sigkill_is_finished_after_the_restart(
    tmp_path: Path, kill_at: str
) -> None:
    data = tmp_path / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()))
    with cairn_up(data, *options, killed=True) as (cloud, pid):
        cloud.openstack("flavor", "create", "--ram", "256", "--disk", "2", "--vcpus", "1", "r.k")
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
            "victim",
            **DEMO,
        )
        assert isinstance(made, dict)
        server = str(made["id"])
        nano_kb = wait_memory(cloud, server, None)
        cloud.openstack("server", "resize", "--flavor", "r.k", server, **DEMO)
        deadline = time.monotonic() + 60
        while kill_at not in _progress(data, server):
            assert time.monotonic() < deadline, f"no {kill_at} recorded"
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
    types = asyncio.run(_types(data, server))
    assert "ServerResized" not in types, "the kill came after the resize"
    instance = next(data.glob(f"compute/*/instances/{server}"))
    with cairn_up(data, *options) as (cloud, _pid):
        try:
            until(
                "VERIFY_RESIZE after the restart", lambda: status(cloud, server) == "VERIFY_RESIZE"
            )
            assert wait_memory(cloud, server, nano_kb) > nano_kb + 100_000  # 256 MiB now
            assert memory_used(cloud) == 128 + 256
            assert _guests(server) == [libvirt.VIR_DOMAIN_RUNNING]
            cloud.openstack("server", "resize", "confirm", server, **DEMO)
            until("ACTIVE after the confirm", lambda: status(cloud, server) == "ACTIVE")
            assert memory_used(cloud) == 256
            until("the old disk removed", lambda: not (instance / "disk.resize-orig").exists())
            left = sorted(p.name for p in instance.iterdir() if p.name.startswith("disk."))
            assert left == []  # no partial copy, no old disk
            migrations = cloud.json("server", "migration", "list", "--server", server)
            assert isinstance(migrations, list)
            assert [m["Status"] for m in migrations] == ["confirmed"]
        finally:
            cloud.openstack("server", "delete", "--wait", server, check=False, **DEMO)
        assert memory_used(cloud) == 0
        assert _guests(server) == []
