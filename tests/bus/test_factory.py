"""open_bus: the one place that picks a bus adapter from a URL."""

from __future__ import annotations

import pytest

from cairn.bus import BusUnavailable, open_bus
from cairn.bus.inprocess import InProcessBus
from cairn.bus.rabbitmq import RabbitMQBus
from tests.bus.harness import AMQP_URL, open_harness, raw_channel


@pytest.mark.parametrize("url", [None, "memory://", "MEMORY://"])
async def test_memory_urls_give_the_in_process_bus(url: str | None) -> None:
    bus = await open_bus(url)
    assert isinstance(bus, InProcessBus)
    await bus.close()


@pytest.mark.rabbitmq
async def test_an_amqp_url_connects_to_rabbitmq() -> None:
    await (await open_harness("rabbitmq")).close()  # fails loudly if the broker is down
    bus = await open_bus(AMQP_URL, exchange="cairn.test.factory")
    try:
        assert isinstance(bus, RabbitMQBus)
        assert bus.exchange == "cairn.test.factory"
        await bus.publish([])
    finally:
        await bus.close()
        await _delete_exchange("cairn.test.factory")


async def _delete_exchange(name: str) -> None:
    async with raw_channel() as channel:
        await channel.exchange_delete(name)


async def test_an_unreachable_broker_is_a_clear_bus_error() -> None:
    with pytest.raises(BusUnavailable, match=r"connecting to RabbitMQ at .*127\.0\.0\.1:1"):
        await open_bus("amqp://guest:guest@127.0.0.1:1/")


async def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported bus URL"):
        await open_bus("kafka://localhost:9092")
