"""The control plane keeps no state of its own: a restarted process schedules what
was waiting and ends what outlived its deadline, from the log alone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.compute.conftest import IMAGE

from cairn.compute.config import ComputeConfig
from cairn.compute.images import MemoryImages
from cairn.compute.servers import BootRequest
from cairn.compute.service import Compute
from cairn.events import ANY_VERSION, Metadata, registry
from cairn.events import compute as ev
from cairn.store import open_store
from cairn.store.port import EventStore, StreamWrite

META = Metadata(user_id="u1", project_id="p1")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    opened = await open_store(f"sqlite:///{tmp_path / 'cairn.sqlite'}")
    try:
        yield opened
    finally:
        await opened.close()


def _compute(store: EventStore, clock: Clock, *, scheduler: bool) -> Compute:
    config = ComputeConfig(public_url="http://127.0.0.1:1", deadline=60.0, sweep_interval=3600,
                           run_scheduler=scheduler)  # fmt: skip
    return Compute(store, MemoryImages([IMAGE]), config, clock=clock)


async def _register(store: EventStore, host: str) -> None:
    event = ev.ComputeHostRegistered(
        host=host, hypervisor_type="QEMU", hypervisor_version=1, hypervisor_uri="x",
        availability_zone="nova", capacity=ev.ResourceAmounts(vcpus=8, memory_mb=4096, disk_gb=50),
    )  # fmt: skip
    await store.append(StreamWrite(f"computehost-{host}", [registry.new(event, META)], ANY_VERSION))


async def _boot(compute: Compute, index: int) -> str:
    flavor = compute.state.flavors["42"].snapshot()
    server_id = f"00000000-0000-4000-8000-{index:012d}"
    request = BootRequest(
        server_ids=[server_id], project_id="p1", user_id="u1", name="vm", flavor=flavor,
        image=IMAGE, created_at="", reservation_id="r",
    )  # fmt: skip
    assert await compute.boot(META, request) == [server_id]
    return server_id


async def test_a_later_scheduler_places_what_waited(store: EventStore) -> None:
    clock = Clock(time.time())
    first = _compute(store, clock, scheduler=False)
    await first.start()
    await _register(store, "h1")
    ids = [await _boot(first, i) for i in range(3)]
    await first.stop()
    assert set(first.state.pending) == set(ids)

    second = _compute(store, clock, scheduler=True)
    await second.start()
    try:
        await second.scheduler.schedule_pending()
        assert {second.state.servers[i].host for i in ids} == {"h1"}
        assert not second.state.pending
    finally:
        await second.stop()


async def test_the_sweeper_ends_what_outlived_its_deadline(store: EventStore) -> None:
    clock = Clock(time.time())
    compute = _compute(store, clock, scheduler=False)
    await compute.start()
    try:
        await _register(store, "h1")
        server = await _boot(compute, 1)
        await compute.scheduler.schedule_pending()
        assert compute.state.servers[server].task_state == "spawning"
        clock.now += 30
        assert await compute.sweeper.sweep() == 0
        clock.now += 31  # past the 60 s deadline: the build never ended
        assert await compute.sweeper.sweep() == 1
        assert compute.state.servers[server].vm_state == "error"
        assert await compute.sweeper.sweep() == 0
    finally:
        await compute.stop()
