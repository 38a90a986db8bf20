"""What only the RabbitMQ adapter has: a broker that can refuse, a connection
that can break, and messages other tools can read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import aiormq.exceptions
import pytest

from cairn.bus.codec import CONTENT_TYPE, decode_event
from cairn.bus.port import BusError, BusUnavailable, PublishRejected, StaleDelivery
from cairn.bus.rabbitmq import RabbitMQBus
from cairn.bus.topic import topic_matches
from tests.bus.harness import (
    TIMEOUT,
    Collector,
    RabbitMQHarness,
    make_event,
    make_events,
    open_harness,
    raw_channel,
)
from tests.bus.test_topic import TOPIC_CASES

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
async def harness() -> AsyncIterator[RabbitMQHarness]:
    opened = await open_harness("rabbitmq")
    assert isinstance(opened, RabbitMQHarness)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def bus(harness: RabbitMQHarness) -> RabbitMQBus:
    assert isinstance(harness.bus, RabbitMQBus)
    return harness.bus


async def test_topic_matching_agrees_with_the_broker(
    harness: RabbitMQHarness, bus: RabbitMQBus
) -> None:
    # Every key of the table the in-process bus is held to goes to a queue per
    # pattern; each queue must hold exactly the keys that topic_matches accepts.
    queues = {}
    for pattern in {case[0] for case in TOPIC_CASES}:
        queues[pattern] = harness.queue("topic")
        await bus.declare(queues[pattern], [pattern])
    keys = sorted({case[1] for case in TOPIC_CASES})
    async with raw_channel() as channel:
        exchange = await channel.get_exchange(bus.exchange)
        for key in keys:
            await exchange.publish(aio_pika.Message(key.encode()), routing_key=key)
        for pattern, queue in queues.items():
            declared = await channel.declare_queue(queue, passive=True)
            routed = set()
            while (message := await declared.get(fail=False, no_ack=True)) is not None:
                routed.add(message.body.decode())
            assert routed == {k for k in keys if topic_matches(pattern, k)}, pattern


async def test_messages_are_persistent_and_describe_themselves(
    harness: RabbitMQHarness, bus: RabbitMQBus
) -> None:
    queue = harness.queue("props")
    await bus.declare(queue, ["#"])
    event = make_event(42)
    await bus.publish([event])
    async with raw_channel() as channel:
        declared = await channel.declare_queue(queue, passive=True)
        message = await declared.get(timeout=TIMEOUT)
        await message.reject(requeue=True)
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed, match="durable"):
        async with raw_channel() as channel:
            await channel.declare_queue(queue, durable=False)  # it is durable
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.message_id == str(event.id)
    assert message.type == "ServerRequested"
    assert message.routing_key == "server.ServerRequested"
    assert message.content_type == CONTENT_TYPE
    assert message.headers["cairn-position"] == 42
    assert message.correlation_id == event.metadata.correlation_id
    assert decode_event(message.body) == event


async def test_a_broken_connection_fails_consumers_and_the_next_call_reconnects(
    harness: RabbitMQHarness, bus: RabbitMQBus
) -> None:
    queue = harness.queue("broken")
    await bus.declare(queue, ["#"])
    await bus.publish(make_events(3))
    holder = Collector(ack=False)
    consumer = await bus.consume(queue, ["#"], holder)
    await holder.wait_for(3)

    assert bus._connection is not None
    await bus._connection.close()  # the connection goes away under the bus

    with pytest.raises(BusUnavailable):
        await asyncio.wait_for(consumer.wait(), TIMEOUT)
    with pytest.raises((BusUnavailable, StaleDelivery)):
        await holder.deliveries[0].ack()
    await bus.publish(make_events(2, start=4))  # reconnects
    again = Collector()
    consumer = await bus.consume(queue, ["#"], again)
    await again.wait_for(5)
    await consumer.stop()
    assert again.positions == [1, 2, 3, 4, 5]
    assert [d.redelivered for d in again.deliveries] == [True, True, True, False, False]


async def test_a_refused_publish_is_publish_rejected(
    harness: RabbitMQHarness, bus: RabbitMQBus
) -> None:
    queue = harness.queue("full")
    async with raw_channel() as channel:
        declared = await channel.declare_queue(
            queue, durable=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
        )
        await declared.bind(bus.exchange, "#")

    with pytest.raises(PublishRejected):
        await bus.publish(make_events(3))

    assert await bus.queue_depth(queue) == 1
    await bus.delete_queue(queue)
    await bus.publish(make_events(1))  # the publishing channel survived the nack


async def test_a_conflicting_declaration_is_a_bus_error_and_harms_nothing_else(
    harness: RabbitMQHarness, bus: RabbitMQBus
) -> None:
    queue = harness.queue("conflict")
    async with raw_channel() as channel:
        await channel.declare_queue(queue, durable=False, auto_delete=False)

    with pytest.raises(BusError, match="refused") as refused:
        await bus.declare(queue, ["#"])
    assert not isinstance(refused.value, BusUnavailable)
    with pytest.raises(BusError, match="refused"):
        await bus.queue_depth(harness.queue("missing"))
    await bus.publish(make_events(1))


async def test_a_message_that_is_not_an_event_is_dropped(
    harness: RabbitMQHarness, bus: RabbitMQBus
) -> None:
    queue = harness.queue("garbage")
    await bus.declare(queue, ["#"])
    async with raw_channel() as channel:
        exchange = await channel.get_exchange(bus.exchange)
        await exchange.publish(aio_pika.Message(b"\xc1 not msgpack"), routing_key="server.X")
    await bus.publish(make_events(1))

    collector = Collector()
    consumer = await bus.consume(queue, ["#"], collector)
    await collector.wait_for(1)
    await consumer.stop()
    assert collector.positions == [1]
    assert await bus.queue_depth(queue) == 0


async def test_an_unreachable_broker_is_bus_unavailable_without_the_password() -> None:
    with pytest.raises(BusUnavailable, match=r"127\.0\.0\.1:1") as failure:
        await RabbitMQBus.connect("amqp://guest:s3cret@127.0.0.1:1/", connect_timeout=5)
    assert "s3cret" not in str(failure.value)
