"""The bus contract: the in-process bus and RabbitMQ pass this one suite.

Each test gets a ``harness`` for one adapter (tests/bus/harness.py): its bus,
unique queue names (deleted afterwards, with the exchange), and a way to kill a
consumer mid-way, which on RabbitMQ is a real process and a SIGKILL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from cairn.bus.ledger import Ledger
from cairn.bus.port import (
    Bus,
    BusClosed,
    BusError,
    ConsumerFailed,
    Delivery,
    StaleDelivery,
    routing_key,
)
from cairn.bus.relay import OutboxRelay
from cairn.events import NewEvent
from cairn.store import EventStore, StreamWrite
from cairn.store.postgres import PostgresEventStore
from cairn.store.sqlite import SQLiteEventStore
from tests.bus.crash_workload import CONSUMER, Trap, create_effects, read_effects, trapped_handler
from tests.bus.harness import (
    TIMEOUT,
    BusHarness,
    Collector,
    eventually,
    make_event,
    make_events,
    open_harness,
)
from tests.conftest import fresh_pg_database


@pytest.fixture(params=["inprocess", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[BusHarness]:
    opened = await open_harness(request.param)
    try:
        yield opened
    finally:
        await opened.close()


async def _depth(bus: Bus, queue: str, expected: int) -> None:
    await eventually(
        lambda: _depth_is(bus, queue, expected), what=f"queue {queue} to hold {expected} events"
    )


async def _depth_is(bus: Bus, queue: str, expected: int) -> bool:
    return await bus.queue_depth(queue) == expected


# -- publish and consume ------------------------------------------------------------


async def test_consumer_gets_published_events_whole_and_in_order(harness: BusHarness) -> None:
    queue = harness.queue("order")
    await harness.bus.declare(queue, ["#"])
    events = make_events(2000)  # one publish: pipelined with up to 1000 in flight on RabbitMQ

    await harness.bus.publish(events)

    assert await harness.bus.queue_depth(queue) == 2000  # publish returned: all accepted
    collector = Collector()
    consumer = await harness.bus.consume(queue, ["#"], collector)
    await collector.wait_for(2000)
    await consumer.stop()
    assert [d.event for d in collector.deliveries] == events  # whole envelope, in order
    assert not any(d.redelivered for d in collector.deliveries)
    assert await harness.bus.queue_depth(queue) == 0


async def test_concurrent_publishes_keep_each_callers_order(harness: BusHarness) -> None:
    queue = harness.queue("concurrent")
    await harness.bus.declare(queue, ["#"])
    batches = [make_events(300, start=1000 * b) for b in range(1, 5)]

    await asyncio.gather(*(harness.bus.publish(batch) for batch in batches))

    collector = Collector()
    consumer = await harness.bus.consume(queue, ["#"], collector)
    await collector.wait_for(1200)
    await consumer.stop()
    for batch in batches:
        mine = [p for p in collector.positions if p // 1000 == batch[0].position // 1000]
        assert mine == [e.position for e in batch]


async def test_topic_bindings_route_by_category_and_type(harness: BusHarness) -> None:
    bus = harness.bus
    servers, deletions, everything, images = (
        harness.queue(p) for p in ("srv", "del", "all", "img")
    )
    await bus.declare(servers, ["server.*"])
    await bus.declare(deletions, ["*.ServerDeleted", "*.VolumeDeleted"])
    await bus.declare(everything, ["#"])
    await bus.declare(images, ["image.#"])
    requested = make_event(1, category="server", type="ServerRequested")
    deleted = make_event(2, category="server", type="ServerDeleted")
    volume = make_event(3, category="volume", type="VolumeDeleted")
    port = make_event(4, category="port", type="PortCreated")
    assert routing_key(requested) == "server.ServerRequested"

    await bus.publish([requested, deleted, volume, port])

    expected = {
        servers: [requested, deleted],
        deletions: [deleted, volume],
        everything: [requested, deleted, volume, port],
        images: [],
    }
    for queue, wanted in expected.items():
        assert await bus.queue_depth(queue) == len(wanted), queue
        collector = Collector()
        consumer = await bus.consume(queue, [], collector)
        await collector.wait_for(len(wanted))
        await consumer.stop()
        assert [d.event for d in collector.deliveries] == wanted, queue


async def test_events_published_before_a_queue_exists_are_not_in_it(harness: BusHarness) -> None:
    queue = harness.queue("late")
    await harness.bus.publish(make_events(3))
    await harness.bus.declare(queue, ["#"])
    later = make_events(2, start=4)
    await harness.bus.publish(later)

    collector = Collector()
    consumer = await harness.bus.consume(queue, ["#"], collector)
    await collector.wait_for(2)
    await consumer.stop()
    assert collector.positions == [4, 5]


# -- acknowledgements ----------------------------------------------------------------


async def test_unacked_deliveries_come_back_in_order_when_the_consumer_stops(
    harness: BusHarness,
) -> None:
    queue = harness.queue("noack")
    events = make_events(5)
    await harness.bus.declare(queue, ["#"])
    await harness.bus.publish(events)

    holder = Collector(ack=False)
    consumer = await harness.bus.consume(queue, ["#"], holder)
    await holder.wait_for(5)
    await consumer.stop()
    await consumer.wait()  # stopped cleanly
    with pytest.raises(StaleDelivery):
        await holder.deliveries[0].ack()  # it went back to the queue
    await _depth(harness.bus, queue, 5)

    again = Collector()
    consumer = await harness.bus.consume(queue, ["#"], again)
    await again.wait_for(5)
    await consumer.stop()
    assert [d.event for d in again.deliveries] == events
    assert all(d.redelivered for d in again.deliveries)
    assert await harness.bus.queue_depth(queue) == 0


async def test_only_the_unacked_part_comes_back(harness: BusHarness) -> None:
    queue = harness.queue("partial")
    await harness.bus.declare(queue, ["#"])
    await harness.bus.publish(make_events(10))

    holder = Collector(ack=False)
    consumer = await harness.bus.consume(queue, ["#"], holder)
    await holder.wait_for(10)
    for delivery in holder.deliveries[:4] + holder.deliveries[6:7]:
        await delivery.ack()  # 1-4 and 7 acked: a gap, then one behind it
    await consumer.stop()

    again = Collector()
    consumer = await harness.bus.consume(queue, ["#"], again)
    await again.wait_for(5)
    await consumer.stop()
    assert again.positions == [5, 6, 8, 9, 10]


async def test_prefetch_bounds_unacked_deliveries(harness: BusHarness) -> None:
    queue = harness.queue("prefetch")
    await harness.bus.declare(queue, ["#"])
    await harness.bus.publish(make_events(5))

    holder = Collector(ack=False)
    consumer = await harness.bus.consume(queue, ["#"], holder, prefetch=2)
    # With the window respected, 2 are held and 3 stay in the queue; a bus that
    # ignored it would hand all 5 over and never show this state.
    await eventually(
        lambda: _held_and_waiting(harness.bus, queue, holder, 2, 3), what="2 held, 3 waiting"
    )
    await holder.deliveries[0].ack()
    await holder.wait_for(3)
    await consumer.stop()
    assert holder.positions == [1, 2, 3]


async def _held_and_waiting(
    bus: Bus, queue: str, holder: Collector, held: int, waiting: int
) -> bool:
    return len(holder.deliveries) == held and await bus.queue_depth(queue) == waiting


async def test_a_delivery_settles_once(harness: BusHarness) -> None:
    queue = harness.queue("settle")
    await harness.bus.declare(queue, ["#"])
    await harness.bus.publish(make_events(3))
    holder = Collector(ack=False)
    consumer = await harness.bus.consume(queue, ["#"], holder)
    await holder.wait_for(3)

    first, second, third = holder.deliveries
    await first.ack()
    with pytest.raises(StaleDelivery):
        await first.ack()
    await second.reject(requeue=False)  # dropped
    with pytest.raises(StaleDelivery):
        await second.ack()
    await third.reject(requeue=True)  # back to the queue, delivered again
    await holder.wait_for(4)
    assert holder.deliveries[3].event == third.event
    assert holder.deliveries[3].redelivered
    await holder.deliveries[3].ack()
    await consumer.stop()
    assert await harness.bus.queue_depth(queue) == 0


async def test_a_failing_handler_stops_its_consumer_and_loses_nothing(
    harness: BusHarness,
) -> None:
    queue = harness.queue("fail")
    events = make_events(6)
    await harness.bus.declare(queue, ["#"])
    await harness.bus.publish(events)
    seen: list[int] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(delivery.event.position)
        if delivery.event.position == 3:
            raise RuntimeError("cannot handle 3")
        await delivery.ack()

    consumer = await harness.bus.consume(queue, ["#"], handler)
    with pytest.raises(ConsumerFailed) as failure:
        await asyncio.wait_for(consumer.wait(), TIMEOUT)
    assert isinstance(failure.value.__cause__, RuntimeError)
    assert seen == [1, 2, 3]  # nothing handed over after the failure
    await _depth(harness.bus, queue, 4)

    again = Collector()
    consumer = await harness.bus.consume(queue, ["#"], again)
    await again.wait_for(4)
    await consumer.stop()
    assert [d.event for d in again.deliveries] == events[2:]
    assert again.deliveries[0].redelivered


async def test_competing_consumers_share_a_queue_without_duplicates(
    harness: BusHarness,
) -> None:
    queue = harness.queue("compete")
    await harness.bus.declare(queue, ["#"])
    other_bus = await harness.open_bus()
    try:
        one, two = Collector(), Collector()
        first = await harness.bus.consume(queue, ["#"], one, prefetch=10)
        second = await other_bus.consume(queue, ["#"], two, prefetch=10)
        await harness.bus.publish(make_events(400))
        await eventually(
            lambda: len(one.deliveries) + len(two.deliveries) >= 400, what="400 deliveries"
        )
        await first.stop()
        await second.stop()
    finally:
        if other_bus is not harness.bus:
            await other_bus.close()
    assert sorted(one.positions + two.positions) == list(range(1, 401))
    assert one.positions == sorted(one.positions)
    assert two.positions == sorted(two.positions)


async def test_deleting_a_queue_ends_its_consumers(harness: BusHarness) -> None:
    queue = harness.queue("delete")
    collector = Collector()
    consumer = await harness.bus.consume(queue, ["#"], collector)
    await harness.bus.publish(make_events(1))
    await collector.wait_for(1)

    await harness.bus.delete_queue(queue)

    await asyncio.wait_for(consumer.wait(), TIMEOUT)
    await harness.bus.delete_queue(queue)  # deleting a missing queue does nothing


async def test_abort_returns_unacked_deliveries(harness: BusHarness) -> None:
    queue = harness.queue("abort")
    await harness.bus.declare(queue, ["#"])
    await harness.bus.publish(make_events(3))
    started = asyncio.Event()

    async def stuck(delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(3600)  # cancelled by abort

    consumer = await harness.bus.consume(queue, ["#"], stuck)
    await asyncio.wait_for(started.wait(), TIMEOUT)
    await asyncio.wait_for(consumer.abort(), TIMEOUT)
    await consumer.wait()
    await _depth(harness.bus, queue, 3)


async def test_cancelling_a_graceful_stop_aborts(harness: BusHarness) -> None:
    queue = harness.queue("cancelstop")
    await harness.bus.declare(queue, ["#"])
    await harness.bus.publish(make_events(2))
    started = asyncio.Event()

    async def stuck(delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(3600)  # a handler that would never let stop() finish

    consumer = await harness.bus.consume(queue, ["#"], stuck)
    await asyncio.wait_for(started.wait(), TIMEOUT)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(consumer.stop(), 0.2)  # the cancel tears it down
    await asyncio.wait_for(consumer.wait(), TIMEOUT)
    await _depth(harness.bus, queue, 2)


async def test_the_depth_of_a_missing_queue_is_an_error(harness: BusHarness) -> None:
    with pytest.raises(BusError):
        await harness.bus.queue_depth(harness.queue("missing"))


async def test_a_closed_bus_refuses_work(harness: BusHarness) -> None:
    queue = harness.queue("closed")
    collector = Collector()
    consumer = await harness.bus.consume(queue, ["#"], collector)

    await harness.bus.close()

    await asyncio.wait_for(consumer.wait(), TIMEOUT)  # close stopped it
    with pytest.raises(BusClosed):
        await harness.bus.publish(make_events(1))
    with pytest.raises(BusClosed):
        await harness.bus.consume(queue, ["#"], collector)
    await harness.bus.close()  # closing twice does nothing


async def test_prefetch_must_be_positive(harness: BusHarness) -> None:
    with pytest.raises(ValueError, match="prefetch"):
        await harness.bus.consume(harness.queue("zero"), ["#"], Collector(), prefetch=0)


# -- the outbox relay over a real store ---------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if request.param == "sqlite":
        async with await SQLiteEventStore.open(tmp_path / "events.sqlite") as opened:
            yield opened
        return
    async with fresh_pg_database() as dsn, await PostgresEventStore.open(dsn) as opened:
        yield opened


async def _append_many(store: EventStore, writers: int, each: int) -> None:
    """``writers`` concurrent appenders, each ``each`` events over server and image streams."""

    async def writer(n: int) -> None:
        for i in range(each):
            category = "server" if (n + i) % 2 else "image"
            kind = "ServerRequested" if category == "server" else "ImageCreated"
            await store.append(
                StreamWrite(
                    f"{category}-{uuid.uuid4()}",
                    [NewEvent(type=kind, data=msgspec.json.encode({"writer": n, "i": i}))],
                )
            )

    await asyncio.gather(*(writer(n) for n in range(writers)))


async def test_relay_publishes_every_committed_event_once_in_order_and_resumes(
    harness: BusHarness, store: EventStore
) -> None:
    queue = harness.queue("relay")
    await harness.bus.declare(queue, ["#"])
    collector = Collector()
    consumer = await harness.bus.consume(queue, ["#"], collector)
    await _append_many(store, writers=8, each=25)  # 200 events before the relay starts

    relay = OutboxRelay(store, harness.bus, "test-relay", batch_size=64)
    running = asyncio.create_task(relay.run())
    await _append_many(store, writers=8, each=25)  # 200 more while it runs
    await collector.wait_for(400)
    await asyncio.wait_for(relay.stop(), TIMEOUT)
    await running

    logged = await store.read_all(limit=10_000)
    assert [d.event for d in collector.deliveries] == logged
    assert await store.load_checkpoint("test-relay") == logged[-1].position

    # A new relay starts from the checkpoint: the next thing published is the
    # first new event (a relay starting over would republish position 1 first).
    await _append_many(store, writers=2, each=5)
    relay = OutboxRelay(store, harness.bus, "test-relay", batch_size=64)
    running = asyncio.create_task(relay.run())
    await collector.wait_for(410)
    await asyncio.wait_for(relay.stop(), TIMEOUT)
    await running
    await consumer.stop()
    logged = await store.read_all(limit=10_000)
    assert [d.event for d in collector.deliveries] == logged
    assert await harness.bus.queue_depth(queue) == 0


# -- a consumer killed mid-way -------------------------------------------------------


async def test_killed_consumer_resumes_with_nothing_lost_and_nothing_applied_twice(
    harness: BusHarness, tmp_path: Path
) -> None:
    queue = harness.queue("crash")
    ledger_path = tmp_path / "agent-ledger.sqlite"
    events = make_events(300)
    await harness.bus.declare(queue, ["server.*"])
    await harness.bus.publish(events)

    # Killed inside the transaction applying event 100: its effect is written,
    # not committed, and must not survive.
    kill = await harness.start_trapped_consumer(
        queue, ["server.*"], ledger_path, Trap(position=100, where="apply")
    )
    await kill()
    first = await _effects(ledger_path)
    assert [p for _, p in first] == list(range(1, 100))

    # Killed after committing event 200, before its ack (and with earlier acks
    # possibly still batched): the broker will deliver it, and maybe a few
    # before it, again.
    kill = await harness.start_trapped_consumer(
        queue, ["server.*"], ledger_path, Trap(position=200, where="ack")
    )
    await kill()
    second = await _effects(ledger_path)
    assert [p for _, p in second] == list(range(1, 201))

    # A third consumer runs to the end, then one more event goes through behind
    # everything, so nothing can still be waiting to be redelivered.
    ledger = await Ledger.open(ledger_path)
    try:
        handler, idempotent = trapped_handler(
            ledger, None, on_trapped=lambda: None, hang_in_thread=lambda: None
        )
        consumer = await harness.bus.consume(queue, ["server.*"], handler)
        sentinel = make_event(301)
        await eventually(
            lambda: idempotent.applied == 100, what=f"100 more events (got {idempotent.applied})"
        )
        await harness.bus.publish([sentinel])
        await eventually(lambda: idempotent.applied == 101, what="the last event")
        await consumer.stop()
        effects = await ledger.transaction(read_effects)
        handled = await ledger.transaction(
            lambda c: c.execute(
                "SELECT count(*) FROM cairn_handled_events WHERE consumer = ? AND done = 1",
                (CONSUMER,),
            ).fetchone()[0]
        )
    finally:
        await ledger.close()

    everything = [*events, sentinel]
    assert effects == [(str(e.id), e.position) for e in everything]  # once each, in order
    assert handled == 301
    assert idempotent.skipped >= 1  # event 200 came back and was recognised
    assert await harness.bus.queue_depth(queue) == 0


async def _effects(ledger_path: Path) -> list[tuple[str, int]]:
    ledger = await Ledger.open(ledger_path)
    try:
        await ledger.transaction(create_effects)
        return await ledger.transaction(read_effects)
    finally:
        await ledger.close()
