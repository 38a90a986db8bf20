"""A real QEMU guest (TCG) through the compute API: boot, serial console, stop,
start, hard reboot, delete; the whole control plane and one in-process agent on
``qemu:///system``. Needs libvirtd (scripts/libvirtd); fails, never skips,
without it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import libvirt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.agents.compute.cloud import IMAGE_ID, KERNEL_ID, RAMDISK_ID, build_guest, guest_images
from tests.compute.conftest import ADMIN_PASSWORD, Caller, ComputeCloud, _whoami, settings_for

from cairn.api import RUNNER_OPTIONS
from cairn.api import build_app as build_api
from cairn.api.compute import IMAGE_PORT
from cairn.api.compute import SERVICE as COMPUTE_SERVICE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.compute.images import MemoryImages
from cairn.compute_hosts import compute_hosts_context
from cairn.events import compute as ev
from cairn.runtime import resource_contexts

pytestmark = pytest.mark.qemu
BOOT_TIMEOUT = 120.0


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[ComputeCloud]:
    kernel, initramfs = build_guest()
    settings = settings_for(tmp_path, hypervisor="qemu:///system", compute_hosts=1)
    app = build_api([IDENTITY_SERVICE, COMPUTE_SERVICE], contexts=resource_contexts(settings))
    app.cleanup_ctx.append(compute_hosts_context(
        settings, images=guest_images(tmp_path / "glance", kernel, initramfs),
        clean_shutdown_timeout=20.0,
    ))  # fmt: skip
    images = MemoryImages([ev.ImageSnapshot(
        image_id=IMAGE_ID, name="cairn-guest", disk_format="qcow2",
        properties={"kernel_id": KERNEL_ID, "ramdisk_id": RAMDISK_ID,
                    "os_command_line": "console=ttyS0 quiet"},
    )])  # fmt: skip
    app[IMAGE_PORT] = images
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    made = ComputeCloud(client, images)
    token = await made.token("admin", ADMIN_PASSWORD, "admin")
    made.admin = Caller(token, *await _whoami(made, token))
    try:
        yield made
    finally:
        await client.close()
        # A failed test must not leave its guest running for the rest of the suite.
        await asyncio.to_thread(_remove_guests_under, tmp_path)


def _remove_guests_under(directory: Path) -> None:
    connection = libvirt.open("qemu:///system")
    try:
        for domain in connection.listAllDomains():
            if str(directory) not in domain.XMLDesc(0):
                continue
            if domain.isActive():
                domain.destroy()
            domain.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
    finally:
        connection.close()


async def _until(cloud: ComputeCloud, server_id: str, wanted: str) -> None:
    async def reached() -> bool:
        status = await cloud.server_status(server_id)
        assert status != "ERROR", cloud.compute.state.servers[server_id].fault
        return status == wanted

    await cloud.wait_for(reached, timeout=BOOT_TIMEOUT)


async def _console_shows(cloud: ComputeCloud, server_id: str, text: str) -> None:
    async def shown() -> bool:
        status, body = await cloud.call(
            "POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": {"length": -1}}
        )
        assert status == 200, body
        return text in body["output"]

    await cloud.wait_for(shown, timeout=BOOT_TIMEOUT)


def _domains() -> list[str]:
    connection = libvirt.open("qemu:///system")
    try:
        return [domain.name() for domain in connection.listAllDomains()]
    finally:
        connection.close()


async def test_a_real_guest_through_the_api(cloud: ComputeCloud) -> None:
    await cloud.wait_for(lambda: len(cloud.compute.state.hosts) == 1)
    started = time.monotonic()
    status, body = await cloud.boot(name="real-guest", imageRef=IMAGE_ID, flavorRef="42")
    assert status == 202, body
    server_id = body["server"]["id"]
    await _until(cloud, server_id, "ACTIVE")
    print(f"request to ACTIVE: {time.monotonic() - started:.2f} s")
    await _console_shows(cloud, server_id, "GUEST-UP")
    print(f"request to GUEST-UP on the console: {time.monotonic() - started:.2f} s")
    _, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", json={"os-getConsoleOutput": {"length": 2}}
    )
    assert len(body["output"].splitlines()) <= 2

    for action, wanted in (({"os-stop": None}, "SHUTOFF"), ({"os-start": None}, "ACTIVE"),
                           ({"reboot": {"type": "HARD"}}, "ACTIVE")):  # fmt: skip
        status, body = await cloud.call("POST", f"/servers/{server_id}/action", json=action)
        assert status == 202, body
        await _until(cloud, server_id, wanted)
    await _console_shows(cloud, server_id, "GUEST-UP")

    instance_name = cloud.compute.state.servers[server_id].instance_name
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}")
    assert status == 204

    async def gone() -> bool:
        status, _ = await cloud.call("GET", f"/servers/{server_id}")
        return status == 404

    await cloud.wait_for(gone, timeout=BOOT_TIMEOUT)
    assert instance_name not in await asyncio.to_thread(_domains)
    assert all(not host.claims for host in cloud.compute.state.hosts.values())
