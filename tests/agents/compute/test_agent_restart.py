"""A compute agent process (``cairn agent compute``) SIGKILLed mid-boot and restarted:
nothing stuck, nothing leaked.

The agent runs as its own process on real QEMU, following the SQLite store the
test appends the control plane's events to. It is killed right after it began a
spawn; while it is down, a delete is requested, an orphan guest appears in
libvirt, and a claim leaks. The restarted agent must finish the spawn, do the
delete, destroy the orphan and release the claim, so that in the end the host's
guests, directories and claims are exactly those of its live servers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cairn.agents.compute.driver import GuestDefinition
from cairn.agents.compute.guest_plan import guest_name
from cairn.agents.compute.libvirt_driver import LibvirtDriver
from cairn.agents.compute.server_view import Step, fold, next_step
from cairn.events import compute as ev
from cairn.events import registry
from cairn.store.port import StreamWrite
from cairn.store.sqlite import SQLiteEventStore
from tests.agents.compute.agent_process import AgentProcess, image_dir
from tests.agents.compute.cloud import Cloud, build_guest

pytestmark = pytest.mark.qemu
QEMU_URI = "qemu:///system"
BOOT_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def guest() -> tuple[Path, Path]:
    return build_guest()


@pytest.fixture
def host() -> str:
    return f"kill-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def driver(host: str) -> AsyncIterator[LibvirtDriver]:
    """The test's own connection to QEMU; removes the host's guests afterwards."""
    opened = await LibvirtDriver.open(QEMU_URI)
    try:
        yield opened
    finally:
        for found in await opened.list_guests():
            if found.name.startswith(f"cairn-{host}-"):
                await opened.destroy(found.name)
        await opened.close()


@pytest.fixture
async def agent(host: str, tmp_path: Path, guest: tuple[Path, Path]) -> AsyncIterator[AgentProcess]:
    data = tmp_path / "data"
    data.mkdir()
    process = AgentProcess(
        host,
        data,
        image_dir(tmp_path / "images", guest),
        "--hypervisor", QEMU_URI,
        "--heartbeat-interval", "1",
        "--availability-zone", "zone-b",
    )  # fmt: skip
    try:
        yield process
    finally:
        await process.stop()


async def test_an_agent_killed_mid_boot_and_restarted_leaves_nothing_stuck_or_leaked(
    host: str, tmp_path: Path, agent: AgentProcess, driver: LibvirtDriver
) -> None:
    async with await SQLiteEventStore.open(tmp_path / "data" / "cairn.sqlite") as store:
        cloud = Cloud(store, bus=None)  # the agent follows the store
        await agent.start()
        doomed = await cloud.request_boot(host)  # deleted while the agent is down
        await cloud.wait_for(f"server-{doomed}", "ServerSpawned", timeout=BOOT_TIMEOUT)

        booting = await cloud.request_boot(host)
        await cloud.wait_for(f"server-{booting}", "ServerSpawnStarted", timeout=BOOT_TIMEOUT)
        await agent.kill()

        # While the agent is down: a delete request, an orphan guest (its server was
        # deleted without the agent), a guest the log does not know (another cloud's,
        # left alone), and a leaked claim.
        await cloud.delete(host, doomed)
        orphaned = await cloud.request_boot(host)
        deleted = ev.ServerDeleted(server_id=orphaned, deleted_at="2026-11-21T12:00:00Z")
        released = ev.HostResourcesReleased(host=host, server_id=orphaned)
        await store.append(
            StreamWrite(f"server-{orphaned}", [registry.new(deleted)]),
            StreamWrite(f"computehost-{host}", [registry.new(released)]),
        )
        orphan, unknown = guest_name(host, orphaned), guest_name(host, str(uuid.uuid4()))
        kernel, initramfs = build_guest()
        for name in (orphan, unknown):
            await driver.spawn(
                GuestDefinition(
                    name=name,
                    vcpus=1,
                    memory_mib=96,
                    console_log=tmp_path / f"{name}.log",
                    kernel=kernel,
                    initramfs=initramfs,
                )
            )
        leaked = await cloud.request_boot(host)
        failed = ev.ServerSpawnFailed(server_id=leaked, host=host, attempt=1, reason="test")
        await store.append(StreamWrite(f"server-{leaked}", [registry.new(failed)]))

        await agent.start()
        await cloud.wait_for(f"server-{booting}", "ServerSpawned", timeout=BOOT_TIMEOUT)
        await cloud.wait_for(f"server-{doomed}", "ServerDeleted", timeout=60)
        await wait_until(lambda: claim_released(cloud, host, leaked))
        await wait_until(lambda: gone(driver, orphan))

        # Nothing stuck: every server of the host is settled.
        for server_id in (doomed, booting, leaked, orphaned):
            view = fold(server_id, await cloud.events(f"server-{server_id}"))
            assert next_step(view, host) in (Step.NOTHING, Step.SYNC), (server_id, view)
        # Nothing leaked: guests, directories and claims are the live server's only.
        guests = {g.name for g in await driver.list_guests() if g.name.startswith(f"cairn-{host}-")}
        assert guests == {guest_name(host, booting), unknown}
        instances = tmp_path / "data" / "compute" / host / "instances"
        assert {p.name for p in instances.iterdir()} == {booting}
        assert await cloud.claims(host) == {booting}
        starts = await cloud.types(f"server-{booting}")
        assert starts.count("ServerSpawnStarted") == 2  # the killed attempt, then the finished one
        assert await agent.stop() == 0
        host_events = await cloud.events(f"computehost-{host}")
        assert host_events[-1].type == "ComputeHostStopped"
        registered = registry.decode(host_events[0])
        assert isinstance(registered, ev.ComputeHostRegistered)
        assert registered.availability_zone == "zone-b"


async def claim_released(cloud: Cloud, host: str, server_id: str) -> bool:
    return server_id not in await cloud.claims(host)


async def gone(driver: LibvirtDriver, name: str) -> bool:
    return name not in {g.name for g in await driver.list_guests()}


async def wait_until(check: object, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        assert callable(check)
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{check} did not become true within {timeout}s")
        await asyncio.sleep(0.2)
