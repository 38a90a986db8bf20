"""Server diagnostics of a real QEMU guest (TCG), read by its host's agent."""

from __future__ import annotations

import pytest
from tests.agents.compute.cloud import IMAGE_ID
from tests.compute.conftest import ComputeCloud
from tests.compute.test_real_guest import _console_shows, _until
from tests.compute.test_real_guest import cloud as qemu_cloud

__all__ = ["qemu_cloud"]

pytestmark = pytest.mark.qemu


async def test_diagnostics_of_a_running_guest(qemu_cloud: ComputeCloud) -> None:
    cloud = qemu_cloud
    await cloud.wait_for(lambda: len(cloud.compute.state.hosts) == 1)
    status, body = await cloud.boot(name="diag-guest", imageRef=IMAGE_ID, flavorRef="42")
    assert status == 202, body
    server_id = body["server"]["id"]
    await _until(cloud, server_id, "ACTIVE")
    await _console_shows(cloud, server_id, "GUEST-UP")
    status, body = await cloud.call("GET", f"/servers/{server_id}/diagnostics", version="2.48")
    assert status == 200, body
    assert (body["state"], body["hypervisor"], body["driver"]) == ("running", "qemu", "libvirt")
    assert body["num_cpus"] == 1
    assert body["cpu_details"][0]["time"] > 0
    assert body["memory_details"]["maximum"] == 128  # m1.nano
    assert body["num_disks"] >= 1
    assert body["disk_details"][0]["read_bytes"] > 0  # the guest read its disk to boot
    assert body["uptime"] >= 0
    status, legacy = await cloud.call("GET", f"/servers/{server_id}/diagnostics")
    assert legacy["cpu0_time"] > 0
    assert legacy["memory"] == 128 * 1024
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}")
    assert status == 204
