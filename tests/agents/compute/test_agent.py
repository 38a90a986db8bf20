"""The compute agent on libvirt's test driver: registration, spawn, actions, delete,
failures, and idempotency under redelivery. The control plane's events are
appended straight to a real SQLite store and relayed to the in-process bus."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from cairn.agents.compute import disk, guest_plan, reconcile
from cairn.agents.compute.driver import GuestState
from cairn.agents.compute.images import ImageInfo
from cairn.agents.compute.images_local import LocalImageSource
from cairn.agents.compute.libvirt_driver import LibvirtDriver
from cairn.agents.compute.runtime import RunningHost, host_names, start_host
from cairn.api.keys import BUS, HEALTH_CHECKS, STORE
from cairn.compute_hosts import compute_hosts_context, libvirt_opener
from cairn.config import Settings
from cairn.events import compute as ev
from cairn.events import registry
from cairn.runtime import bus_context, relay_ctx, store_context
from cairn.store.sqlite import SQLiteEventStore
from tests.agents.compute.cloud import (
    IMAGE_ID,
    KERNEL_ID,
    PROJECT,
    RAMDISK_ID,
    Cloud,
    build_guest,
    decoded,
    guest_images,
    image_snapshot,
    relayed,
)

TEST_URI = "test:///default"


@pytest.fixture(scope="session")
def guest() -> tuple[Path, Path]:
    return build_guest()


@pytest.fixture
def images(tmp_path: Path, guest: tuple[Path, Path]) -> LocalImageSource:
    return guest_images(tmp_path / "glance", *guest)


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async with await SQLiteEventStore.open(tmp_path / "cairn.sqlite") as store, relayed(store) as c:
        yield c


@pytest.fixture
def host() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def agent(
    cloud: Cloud, host: str, tmp_path: Path, images: LocalImageSource
) -> AsyncIterator[RunningHost]:
    running = await start(cloud, host, tmp_path, images)
    try:
        yield running
    finally:
        await running.stop()


async def start(
    cloud: Cloud, host: str, tmp_path: Path, images: LocalImageSource, **options: Any
) -> RunningHost:
    options.setdefault("heartbeat_interval", 0.2)
    return await start_host(
        host,
        open_driver=libvirt_opener(TEST_URI),
        hypervisor=TEST_URI,
        data_dir=tmp_path / "data",
        store=cloud.store,
        bus=cloud.bus,
        images=images,
        **options,
    )


async def test_the_agent_registers_its_host_and_heartbeats(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    events = await cloud.wait_for(f"computehost-{host}", "ComputeHostHeartbeat", count=2)

    registered = decoded(events, ev.ComputeHostRegistered)[0]
    assert isinstance(registered, ev.ComputeHostRegistered)
    info = await agent.driver.host_info()
    assert registered.host == host
    assert registered.hypervisor_type == "TEST"
    assert registered.hypervisor_uri == TEST_URI
    assert registered.availability_zone == "nova"
    assert registered.capacity == ev.ResourceAmounts(
        vcpus=info.vcpus, memory_mb=info.memory_mib, disk_gb=info.disk_total_gb
    )
    assert registered.heartbeat_interval == 0.2


async def test_a_clean_stop_says_the_host_stopped(
    cloud: Cloud, host: str, tmp_path: Path, images: LocalImageSource
) -> None:
    running = await start(cloud, host, tmp_path, images)
    await running.stop()

    assert (await cloud.types(f"computehost-{host}"))[-1] == "ComputeHostStopped"


async def test_a_scheduled_server_is_spawned(cloud: Cloud, agent: RunningHost, host: str) -> None:
    server_id = await cloud.request_boot(host)

    events = await cloud.wait_for(f"server-{server_id}", "ServerSpawned")

    assert [e.type for e in events] == [
        "ServerCreateRequested",
        "ServerScheduled",
        "ServerSpawnStarted",
        "ServerSpawned",
    ]
    spawned = decoded(events, ev.ServerSpawned)[0]
    assert isinstance(spawned, ev.ServerSpawned)
    assert spawned.host == host
    assert spawned.instance_name == guest_plan.guest_name(host, server_id)
    assert spawned.console_log.endswith(f"/compute/{host}/instances/{server_id}/console.log")
    guest = await agent.driver.info(spawned.instance_name)
    assert guest.state is GuestState.RUNNING
    assert (guest.vcpus, guest.memory_mib) == (1, 128)
    # The outcome answers the placement, with the boot request's metadata.
    scheduled, result = events[1], events[3]
    assert result.metadata.causation_id == str(scheduled.id)
    assert result.metadata.request_id == scheduled.metadata.request_id
    assert result.metadata.project_id == PROJECT


async def test_a_server_of_another_host_is_left_alone(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    other = await cloud.request_boot(f"{host}-other")
    mine = await cloud.request_boot(host)

    await cloud.wait_for(f"server-{mine}", "ServerSpawned")
    await agent.agent.idle()

    assert await cloud.types(f"server-{other}") == ["ServerCreateRequested", "ServerScheduled"]


async def test_power_actions_end_in_their_events(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    server_id = await cloud.request_boot(host)
    await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
    name = guest_plan.guest_name(host, server_id)
    expected = [
        ("stop", None, "stopped", 4, GuestState.SHUTOFF),
        ("start", None, "active", 1, GuestState.RUNNING),
        ("pause", None, "paused", 3, GuestState.PAUSED),
        ("unpause", None, "active", 1, GuestState.RUNNING),
        ("suspend", None, "suspended", 7, GuestState.SUSPENDED),
        ("resume", None, "active", 1, GuestState.RUNNING),
        ("reboot", "SOFT", "active", 1, GuestState.RUNNING),
        ("reboot", "HARD", "active", 1, GuestState.RUNNING),
    ]

    for count, (action, reboot_type, vm_state, power_state, guest_state) in enumerate(expected, 1):
        await cloud.act(host, server_id, action, reboot_type)
        events = await cloud.wait_for(f"server-{server_id}", "ServerActionCompleted", count=count)
        completed = decoded(events, ev.ServerActionCompleted)[-1]
        assert isinstance(completed, ev.ServerActionCompleted)
        assert (completed.action, completed.vm_state, completed.power_state) == (
            action,
            vm_state,
            power_state,
        )
        assert await agent.driver.state(name) is guest_state
        assert events[-1].metadata.causation_id == str(events[-2].id)


async def test_an_impossible_action_fails(cloud: Cloud, agent: RunningHost, host: str) -> None:
    server_id = await cloud.request_boot(host)
    await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
    await cloud.act(host, server_id, "pause")
    await cloud.wait_for(f"server-{server_id}", "ServerActionCompleted")

    await cloud.act(host, server_id, "start")  # a paused guest must be unpaused
    events = await cloud.wait_for(f"server-{server_id}", "ServerActionFailed")

    failed = decoded(events, ev.ServerActionFailed)[0]
    assert isinstance(failed, ev.ServerActionFailed)
    assert failed.action == "start"
    assert "paused" in failed.reason


async def test_delete_destroys_the_guest_and_releases_claim_and_quota(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    server_id = await cloud.request_boot(host)
    events = await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
    spawned = decoded(events, ev.ServerSpawned)[0]
    assert isinstance(spawned, ev.ServerSpawned)
    assert Path(spawned.console_log).parent.is_dir()

    await cloud.delete(host, server_id)
    await cloud.wait_for(f"server-{server_id}", "ServerDeleted")

    names = {g.name for g in await agent.driver.list_guests()}
    assert spawned.instance_name not in names
    assert not Path(spawned.console_log).parent.exists()
    assert server_id not in await cloud.claims(host)
    quota = await cloud.events(f"computequota-{PROJECT}")
    assert [e.type for e in quota if server_id in e.data.decode()] == [
        "ComputeQuotaConsumed",
        "ComputeQuotaReleased",
    ]
    # ServerDeleted, the claim's and the quota's releases are one append: adjacent positions.
    deleted = (await cloud.events(f"server-{server_id}"))[-1]
    release = [
        e for e in await cloud.events(f"computehost-{host}") if e.type == "HostResourcesReleased"
    ][-1]
    assert {deleted.position, release.position, quota[-1].position} == {
        deleted.position,
        deleted.position + 1,
        deleted.position + 2,
    }


async def test_an_unusable_image_fails_the_spawn_and_releases_the_claim(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    server_id = await cloud.request_boot(host, image=image_snapshot("no-such-image"))

    events = await cloud.wait_for(f"server-{server_id}", "ServerSpawnFailed")

    failed = decoded(events, ev.ServerSpawnFailed)[0]
    assert isinstance(failed, ev.ServerSpawnFailed)
    assert "no-such-image" in failed.reason
    assert failed.retryable is False
    assert server_id not in await cloud.claims(host)
    assert guest_plan.guest_name(host, server_id) not in {
        g.name for g in await agent.driver.list_guests()
    }


async def test_a_redelivered_request_is_not_acted_on_twice(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    server_id = await cloud.request_boot(host)
    await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
    await cloud.act(host, server_id, "stop")
    await cloud.wait_for(f"server-{server_id}", "ServerActionCompleted")
    before = await cloud.types(f"server-{server_id}")

    # The bus delivers every request of the stream again (at least once).
    await cloud.bus.publish(await cloud.events(f"server-{server_id}"))
    for _ in range(3):
        agent.agent.notify(server_id)
    await agent.agent.idle()

    assert await cloud.types(f"server-{server_id}") == before


async def test_a_guest_powered_off_and_on_behind_the_agents_back_is_followed(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    server_id = await cloud.request_boot(host)
    await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
    name = guest_plan.guest_name(host, server_id)

    async with await LibvirtDriver.open(TEST_URI) as other:  # as an operator with virsh would
        await other.power_off(name, timeout=0)
        events = await cloud.wait_for(f"server-{server_id}", "ServerPowerStateChanged")
        await other.power_on(name)
        events = await cloud.wait_for(f"server-{server_id}", "ServerPowerStateChanged", count=2)

    changes = decoded(events, ev.ServerPowerStateChanged)
    assert [(c.vm_state, c.power_state) for c in changes] == [("stopped", 4), ("active", 1)]  # type: ignore[attr-defined]


async def test_a_guest_that_vanished_puts_its_server_in_error(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    server_id = await cloud.request_boot(host)
    await cloud.wait_for(f"server-{server_id}", "ServerSpawned")

    async with await LibvirtDriver.open(TEST_URI) as other:
        await other.destroy(guest_plan.guest_name(host, server_id))
    events = await cloud.wait_for(f"server-{server_id}", "ServerErrored")

    errored = decoded(events, ev.ServerErrored)[0]
    assert isinstance(errored, ev.ServerErrored)
    assert "vanished" in errored.fault_message

    await cloud.delete(host, server_id)  # an errored server can still be deleted
    await cloud.wait_for(f"server-{server_id}", "ServerDeleted")
    assert server_id not in await cloud.claims(host)


class SlowImages(LocalImageSource):
    async def download(self, image_id: str, dest: Path) -> None:
        await asyncio.sleep(30)


async def test_a_spawn_past_its_deadline_fails_and_leaves_nothing(
    cloud: Cloud, host: str, tmp_path: Path
) -> None:
    slow = SlowImages({})
    slow.add(tmp_path / "x", ImageInfo(id=IMAGE_ID, disk_format="qcow2", size=1))
    running = await start(cloud, host, tmp_path, slow, spawn_timeout=0.3)
    try:
        server_id = await cloud.request_boot(host)
        events = await cloud.wait_for(f"server-{server_id}", "ServerSpawnFailed")
    finally:
        await running.stop()

    failed = decoded(events, ev.ServerSpawnFailed)[0]
    assert isinstance(failed, ev.ServerSpawnFailed)
    assert "deadline" in failed.reason
    assert failed.retryable
    assert server_id not in await cloud.claims(host)
    assert not (tmp_path / "data" / "compute" / host / "instances" / server_id).exists()


async def test_compute_hosts_context_runs_n_hosts_in_one_process(
    tmp_path: Path, images: LocalImageSource
) -> None:
    settings = Settings(data_dir=tmp_path, hypervisor=TEST_URI, compute_hosts=2)
    app = web.Application()
    app[HEALTH_CHECKS] = {}
    app.cleanup_ctx.extend(
        [
            store_context(settings),
            bus_context(settings),
            relay_ctx,
            compute_hosts_context(settings, images=images, heartbeat_interval=5.0),
        ]
    )
    hosts = host_names(2)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        cloud = Cloud(app[STORE], app[BUS])
        for name in hosts:
            await cloud.wait_for(f"computehost-{name}", "ComputeHostRegistered")
        server_id = await cloud.request_boot(hosts[1])
        events = await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
        assert registry.decode(events[-1]).host == hosts[1]  # type: ignore[attr-defined]
    finally:
        await runner.cleanup()
    async with await SQLiteEventStore.open(tmp_path / "cairn.sqlite") as store:
        for name in hosts:
            stream = await store.read_stream(f"computehost-{name}")
            assert stream[-1].type == "ComputeHostStopped"


def test_host_names() -> None:
    assert host_names(1, "node") == ["node"]
    assert host_names(3, "node") == ["node-1", "node-2", "node-3"]
    assert host_names(0, "node") == []


async def test_a_broken_hypervisor_connection_is_reopened_and_reconciled(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    server_id = await cloud.request_boot(host)
    await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
    broken = agent.driver
    assert isinstance(broken, LibvirtDriver)

    # What libvirt's close callback does when libvirtd goes away.
    broken._broke("the connection to test:///default broke (simulated)")
    for _ in range(100):
        if agent.driver is not broken and agent.agent.hypervisor_ok:
            break
        await asyncio.sleep(0.05)

    assert agent.driver is not broken
    await cloud.act(host, server_id, "stop")
    events = await cloud.wait_for(f"server-{server_id}", "ServerActionCompleted")
    assert decoded(events, ev.ServerActionCompleted)[0].vm_state == "stopped"  # type: ignore[attr-defined]


async def test_the_start_scan_resumes_from_its_snapshot(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    kept = await cloud.request_boot(host)
    gone = await cloud.request_boot(host)
    await cloud.wait_for(f"server-{kept}", "ServerSpawned")
    await cloud.delete(host, gone)
    await cloud.wait_for(f"server-{gone}", "ServerDeleted")
    ctx = agent.agent.ctx

    assert await reconcile.servers_in_log(ctx) == {kept}
    first = await cloud.store.load_snapshot(reconcile.index_name(host))
    later = await cloud.request_boot(host)
    assert await reconcile.servers_in_log(ctx) == {kept, later}
    second = await cloud.store.load_snapshot(reconcile.index_name(host))

    assert first is not None
    assert second is not None
    assert second.position > first.position


async def test_a_kernel_image_boots_by_itself_and_a_ramdisk_image_does_not(
    cloud: Cloud, agent: RunningHost, host: str
) -> None:
    kernel = await cloud.request_boot(host, image=image_snapshot(KERNEL_ID, ramdisk_id=RAMDISK_ID))
    ramdisk = await cloud.request_boot(host, image=image_snapshot(RAMDISK_ID))

    await cloud.wait_for(f"server-{kernel}", "ServerSpawned")
    events = await cloud.wait_for(f"server-{ramdisk}", "ServerSpawnFailed")

    assert "ramdisk (ari) image: not bootable" in decoded(events, ev.ServerSpawnFailed)[0].reason  # type: ignore[attr-defined]
    # The kernel image is no root disk: the server gets a blank one of the flavor's size.
    root = await disk.info(agent.agent.ctx.config.paths.instance(kernel) / "disk")
    assert (root["virtual-size"], root.get("backing-filename")) == (1024**3, None)


class GatedImages(LocalImageSource):
    """Downloads wait until the test opens the gate."""

    def __init__(self, source: LocalImageSource) -> None:
        super().__init__(source._images)
        self.gate = asyncio.Event()

    async def download(self, image_id: str, dest: Path) -> None:
        await self.gate.wait()
        await super().download(image_id, dest)


async def test_requests_that_arrive_during_a_spawn_are_done_after_it(
    cloud: Cloud, host: str, tmp_path: Path, images: LocalImageSource
) -> None:
    gated = GatedImages(images)
    running = await start(cloud, host, tmp_path, gated)
    try:
        server_id = await cloud.request_boot(host)
        await cloud.wait_for(f"server-{server_id}", "ServerSpawnStarted")
        # The API renames the server and the user deletes it while it builds.
        await cloud.append(
            f"server-{server_id}", ev.ServerUpdated(server_id=server_id, name="renamed")
        )
        await cloud.delete(host, server_id)
        gated.gate.set()
        await cloud.wait_for(f"server-{server_id}", "ServerDeleted")
    finally:
        await running.stop()

    assert await cloud.types(f"server-{server_id}") == [
        "ServerCreateRequested",
        "ServerScheduled",
        "ServerSpawnStarted",
        "ServerUpdated",
        "ServerDeleteRequested",
        "ServerSpawned",  # appended at the version after the API's, not lost
        "ServerDeleted",
    ]
    assert server_id not in await cloud.claims(host)
