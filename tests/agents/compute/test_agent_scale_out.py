"""Scale-out: ``cairn agent compute`` as its own process on PostgreSQL and RabbitMQ.

The test process plays the control plane: it appends the requests to a fresh
PostgreSQL database and relays the log to RabbitMQ (as ``cairn up --store
postgresql://... --bus amqp://...`` does); the agent process receives them on
its durable queue and appends its outcomes to the same database. The agent runs
on libvirt's test driver, so this checks the wiring, not the guests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cairn.agents.compute.feeds import queue_name
from cairn.bus.port import DEFAULT_EXCHANGE, BusUnavailable
from cairn.bus.rabbitmq import RabbitMQBus
from cairn.bus.relay import OutboxRelay
from cairn.store.postgres import PostgresEventStore
from tests.agents.compute.agent_process import AgentProcess, image_dir
from tests.agents.compute.cloud import Cloud, build_guest
from tests.bus.harness import AMQP_URL

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]


@pytest.fixture
async def cloud(pg_database: str) -> AsyncIterator[Cloud]:
    try:
        bus = await RabbitMQBus.connect(AMQP_URL, exchange=DEFAULT_EXCHANGE)
    except BusUnavailable as exc:
        pytest.fail(f"RabbitMQ is not reachable at {AMQP_URL} ({exc})")
    store = await PostgresEventStore.open(pg_database)
    relay = OutboxRelay(store, bus)
    task = asyncio.create_task(relay.run())
    try:
        yield Cloud(store, bus)
    finally:
        await relay.stop()
        await task
        await bus.close()
        await store.close()


async def test_an_agent_process_on_postgresql_and_rabbitmq(
    cloud: Cloud, pg_database: str, tmp_path: Path
) -> None:
    host = f"scale-{uuid.uuid4().hex[:8]}"
    agent = AgentProcess(
        host,
        tmp_path / "data",
        image_dir(tmp_path / "images", build_guest()),
        "--store", pg_database, "--bus", AMQP_URL, "--hypervisor", "test:///default",
    )  # fmt: skip
    (tmp_path / "data").mkdir()
    try:
        await agent.start()
        server_id = await cloud.request_boot(host)
        await cloud.wait_for(f"server-{server_id}", "ServerSpawned")
        await cloud.delete(host, server_id)
        await cloud.wait_for(f"server-{server_id}", "ServerDeleted")
        assert await agent.stop() == 0
    finally:
        await agent.stop()
        assert cloud.bus is not None
        await cloud.bus.delete_queue(queue_name(host))

    assert await cloud.claims(host) == set()
    assert (await cloud.types(f"computehost-{host}"))[-1] == "ComputeHostStopped"
