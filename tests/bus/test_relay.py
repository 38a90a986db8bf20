"""The outbox relay's own promises, with a bus that fails or stalls on demand.

The contract suite runs the relay on both real buses; here a wrapper around the
in-process bus holds a publish back, or fails it, at a chosen batch, to show
when the checkpoint moves and what a retry republishes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import msgspec
import pytest

from cairn.bus.idempotent import IdempotentConsumer
from cairn.bus.inprocess import InProcessBus
from cairn.bus.ledger import Ledger
from cairn.bus.port import Bus, BusClosed, BusUnavailable, Consumer, Delivery, Handler
from cairn.bus.relay import OutboxRelay
from cairn.events import NewEvent, RecordedEvent
from cairn.store import EventStore, StreamWrite
from cairn.store.sqlite import SQLiteEventStore
from tests.bus.harness import TIMEOUT, Collector, eventually


class ScriptedBus(Bus):
    """The in-process bus, with publish calls that can be held or made to fail."""

    def __init__(self) -> None:
        self.inner = InProcessBus()
        self.calls = 0
        self.hold: dict[int, asyncio.Event] = {}  # call number -> released when set
        self.fail: dict[int, tuple[int, BaseException]] = {}  # call -> (events routed, error)
        self.entered: dict[int, asyncio.Event] = {}
        self.batches: list[list[RecordedEvent]] = []  # as each call was given them
        self.routed_by_failed_calls = 0

    async def publish(self, events: Sequence[RecordedEvent]) -> None:
        self.calls += 1
        call = self.calls
        self.batches.append(list(events))
        self.entered.setdefault(call, asyncio.Event()).set()
        if call in self.hold:
            await self.hold[call].wait()
        if call in self.fail:
            routed, error = self.fail[call]
            await self.inner.publish(events[:routed])
            self.routed_by_failed_calls += len(events[:routed])
            raise error
        await self.inner.publish(events)

    async def declare(self, queue: str, bindings: Sequence[str]) -> None:
        await self.inner.declare(queue, bindings)

    async def consume(
        self, queue: str, bindings: Sequence[str], handler: Handler, *, prefetch: int = 100
    ) -> Consumer:
        return await self.inner.consume(queue, bindings, handler, prefetch=prefetch)

    async def queue_depth(self, queue: str) -> int:
        return await self.inner.queue_depth(queue)

    async def delete_queue(self, queue: str) -> None:
        await self.inner.delete_queue(queue)

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    async with await SQLiteEventStore.open(tmp_path / "events.sqlite") as opened:
        yield opened


async def _append(store: EventStore, count: int) -> None:
    for i in range(count):
        await store.append(
            StreamWrite(
                f"server-{uuid.uuid4()}",
                [NewEvent(type="ServerRequested", data=msgspec.json.encode({"i": i}))],
            )
        )


async def _started(bus: ScriptedBus, call: int) -> None:
    event = bus.entered.setdefault(call, asyncio.Event())
    await asyncio.wait_for(event.wait(), TIMEOUT)


async def test_checkpoint_moves_only_after_the_bus_confirms(store: EventStore) -> None:
    await _append(store, 10)
    bus = ScriptedBus()
    bus.hold[2] = asyncio.Event()
    relay = OutboxRelay(store, bus, batch_size=4)
    running = asyncio.create_task(relay.run())

    await _started(bus, 2)  # batch 1 confirmed, batch 2 held
    first, held = bus.batches
    assert await store.load_checkpoint("outbox-relay") == first[-1].position
    assert relay.position == first[-1].position < held[-1].position

    bus.hold[2].set()
    await eventually(lambda: relay.position == 10, what="the relay to reach position 10")
    assert await store.load_checkpoint("outbox-relay") == 10
    await relay.stop()
    await running


async def test_a_cancelled_relay_does_not_checkpoint_the_batch_in_flight(
    store: EventStore,
) -> None:
    await _append(store, 6)
    bus = ScriptedBus()
    bus.hold[2] = asyncio.Event()  # never released
    relay = OutboxRelay(store, bus, batch_size=3)
    running = asyncio.create_task(relay.run())
    await _started(bus, 2)

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert await store.load_checkpoint("outbox-relay") == bus.batches[0][-1].position < 6


async def test_transient_failures_are_retried_from_the_last_confirmed_position(
    store: EventStore, tmp_path: Path
) -> None:
    await _append(store, 12)
    bus = ScriptedBus()
    # Call 2 routes 2 of its 4 events, then the connection "breaks"; call 3
    # (the retry of the same batch) fails before routing anything.
    bus.fail[2] = (2, BusUnavailable("connection lost"))
    bus.fail[3] = (0, BusUnavailable("still down"))
    collector = Collector()
    consumer = await bus.consume("agent", ["#"], collector)
    relay = OutboxRelay(store, bus, batch_size=4, retry_delay=(0.01, 0.05))
    running = asyncio.create_task(relay.run())

    await eventually(lambda: relay.position == 12, what="the relay to reach position 12")
    await relay.stop()
    await running
    duplicates = bus.routed_by_failed_calls
    assert duplicates >= 1
    await collector.wait_for(12 + duplicates)
    await consumer.stop()

    # At least once, in order: what the failed call routed went out again, and
    # the first occurrences are in log order.
    assert len(collector.positions) == 12 + duplicates
    assert list(dict.fromkeys(collector.positions)) == list(range(1, 13))
    assert await store.load_checkpoint("outbox-relay") == 12

    # An idempotent consumer applies each of them once.
    ledger = await Ledger.open(tmp_path / "ledger.sqlite")
    applied: list[int] = []

    def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
        applied.append(event.position)

    idempotent = IdempotentConsumer(ledger, "agent", apply)
    for delivery in collector.deliveries:
        await idempotent(_Replayed(delivery.event))
    await ledger.close()
    assert applied == list(range(1, 13))
    assert idempotent.skipped == duplicates


class _Replayed(Delivery):
    """A delivery handed over again, for feeding recorded events to a handler."""

    def __init__(self, event: RecordedEvent) -> None:
        self.event = event
        self.redelivered = True

    async def ack(self) -> None:
        pass

    async def reject(self, *, requeue: bool = True) -> None:
        pass


async def test_a_closed_bus_ends_the_relay(store: EventStore) -> None:
    await _append(store, 3)
    bus = ScriptedBus()
    bus.fail[1] = (0, BusClosed("the bus is closed"))
    relay = OutboxRelay(store, bus)
    with pytest.raises(BusClosed):
        await asyncio.wait_for(relay.run(), TIMEOUT)
    assert await store.load_checkpoint("outbox-relay") == 0


async def test_stop_ends_an_idle_relay_and_a_stopped_relay_does_not_start(
    store: EventStore,
) -> None:
    bus = ScriptedBus()
    relay = OutboxRelay(store, bus)
    running = asyncio.create_task(relay.run())
    await eventually(lambda: relay._running is not None, what="the relay to start")
    await asyncio.wait_for(relay.stop(), TIMEOUT)
    await asyncio.wait_for(running, TIMEOUT)

    await _append(store, 2)
    await asyncio.wait_for(relay.run(), TIMEOUT)  # stopped: returns at once
    assert bus.calls == 0


async def test_new_events_are_published_as_they_commit(store: EventStore) -> None:
    bus = ScriptedBus()
    collector = Collector()
    consumer = await bus.consume("agent", ["server.*"], collector)
    relay = OutboxRelay(store, bus)
    running = asyncio.create_task(relay.run())
    for n in range(1, 4):
        await _append(store, 1)
        await collector.wait_for(n)
    await relay.stop()
    await running
    await consumer.stop()
    assert collector.positions == [1, 2, 3]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        OutboxRelay(None, None, batch_size=0)  # type: ignore[arg-type]
