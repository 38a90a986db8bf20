"""The compute agent fed through RabbitMQ (its durable queue ``compute.<host>``), on
the test driver: requests reach it through the broker, and a request published
while the agent is down waits in its queue for it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cairn.agents.compute.feeds import queue_name
from cairn.agents.compute.images_local import LocalImageSource
from cairn.agents.compute.libvirt_driver import LibvirtDriver
from cairn.agents.compute.runtime import RunningHost, start_host
from cairn.bus.port import BusUnavailable
from cairn.bus.rabbitmq import RabbitMQBus
from cairn.bus.relay import OutboxRelay
from cairn.compute_hosts import libvirt_opener
from cairn.store.sqlite import SQLiteEventStore
from tests.agents.compute.cloud import Cloud, build_guest, guest_images
from tests.bus.harness import AMQP_URL, raw_channel

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    exchange = f"cairn.test.{uuid.uuid4().hex[:12]}"
    try:
        bus = await RabbitMQBus.connect(AMQP_URL, exchange=exchange)
    except BusUnavailable as exc:
        pytest.fail(f"RabbitMQ is not reachable at {AMQP_URL} ({exc})")
    async with await SQLiteEventStore.open(tmp_path / "cairn.sqlite") as store:
        relay = OutboxRelay(store, bus)
        task = asyncio.create_task(relay.run())
        try:
            yield Cloud(store, bus)
        finally:
            await relay.stop()
            await task
            await bus.close()
            async with raw_channel() as channel:
                await channel.exchange_delete(exchange)


async def test_requests_reach_the_agent_through_its_queue_even_while_it_is_down(
    cloud: Cloud, tmp_path: Path
) -> None:
    host = f"amqp-{uuid.uuid4().hex[:8]}"
    images: LocalImageSource = guest_images(tmp_path / "glance", *build_guest())
    assert cloud.bus is not None

    async def start() -> RunningHost:
        return await start_host(
            host,
            open_driver=libvirt_opener("test:///default"),
            hypervisor="test:///default",
            data_dir=tmp_path / "data",
            store=cloud.store,
            bus=cloud.bus,
            images=images,
        )

    # libvirt's test driver forgets its guests once its last connection closes.
    keeper = await LibvirtDriver.open("test:///default")
    try:
        running = await start()
        server_id = await cloud.request_boot(host)
        await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
        await running.stop()

        await cloud.act(host, server_id, "stop")
        await asyncio.sleep(0.5)
        assert await cloud.bus.queue_depth(queue_name(host)) == 1  # waiting for the agent

        running = await start()
        await cloud.wait_for(f"server-{server_id}", "ServerActionCompleted")
        await cloud.delete(host, server_id)
        await cloud.wait_for(f"server-{server_id}", "ServerDeleted")
        await running.stop()
    finally:
        await keeper.close()
        await cloud.bus.delete_queue(queue_name(host))
