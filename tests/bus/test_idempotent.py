"""The ledger and the idempotent handlers, delivery by delivery.

The killed-process case is in the contract suite; these tests pin down each
step: what is recorded when, what a failure rolls back, and when an external
effect is told it is in doubt.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cairn.bus.idempotent import IdempotentConsumer, IdempotentEffect
from cairn.bus.inprocess import InProcessBus
from cairn.bus.ledger import Ledger, LedgerError, Status
from cairn.bus.port import ConsumerFailed, Delivery
from cairn.events import RecordedEvent
from tests.bus.harness import TIMEOUT, eventually, make_event, make_events


class FakeDelivery(Delivery):
    def __init__(self, event: RecordedEvent, redelivered: bool = False) -> None:
        self.event = event
        self.redelivered = redelivered
        self.acked = 0

    async def ack(self) -> None:
        self.acked += 1

    async def reject(self, *, requeue: bool = True) -> None:
        raise AssertionError("the idempotent handlers never reject")


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    async with await Ledger.open(tmp_path / "ledger.sqlite") as opened:
        await opened.transaction(
            lambda c: c.execute("CREATE TABLE effects (position INTEGER NOT NULL)")
        )
        yield opened


def record(conn: sqlite3.Connection, event: RecordedEvent) -> None:
    conn.execute("INSERT INTO effects VALUES (?)", (event.position,))


async def effects(ledger: Ledger) -> list[int]:
    rows = await ledger.transaction(lambda c: c.execute("SELECT position FROM effects").fetchall())
    return [r[0] for r in rows]


async def test_a_redelivered_event_is_acked_and_not_applied_again(ledger: Ledger) -> None:
    consumer = IdempotentConsumer(ledger, "agent", record)
    event = make_event(7)
    first, again = FakeDelivery(event), FakeDelivery(event, redelivered=True)

    await consumer(first)
    await consumer(again)

    assert await effects(ledger) == [7]
    assert (first.acked, again.acked) == (1, 1)
    assert (consumer.applied, consumer.skipped) == (1, 1)
    assert await ledger.status("agent", event.id) is Status.DONE


async def test_consumer_names_keep_their_records_apart(ledger: Ledger) -> None:
    event = make_event(1)
    await IdempotentConsumer(ledger, "compute", record)(FakeDelivery(event))
    await IdempotentConsumer(ledger, "network", record)(FakeDelivery(event))
    assert await effects(ledger) == [1, 1]


async def test_a_failing_apply_leaves_neither_effect_nor_record(ledger: Ledger) -> None:
    event = make_event(3)

    def half_then_fail(conn: sqlite3.Connection, event: RecordedEvent) -> None:
        record(conn, event)
        raise RuntimeError("disk on fire")

    delivery = FakeDelivery(event)
    with pytest.raises(RuntimeError):
        await IdempotentConsumer(ledger, "agent", half_then_fail)(delivery)

    assert delivery.acked == 0
    assert await effects(ledger) == []
    assert await ledger.status("agent", event.id) is Status.NEW
    await IdempotentConsumer(ledger, "agent", record)(FakeDelivery(event))
    assert await effects(ledger) == [3]


async def test_an_sqlite_failure_is_a_ledger_error(ledger: Ledger) -> None:
    def bad(conn: sqlite3.Connection, event: RecordedEvent) -> None:
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(LedgerError, match="no_such_table"):
        await IdempotentConsumer(ledger, "agent", bad)(FakeDelivery(make_event(1)))


async def test_a_cancelled_caller_does_not_cut_a_transaction_short(ledger: Ledger) -> None:
    started = asyncio.Event()
    loop = asyncio.get_running_loop()
    gate = threading.Event()

    def slow(conn: sqlite3.Connection, event: RecordedEvent) -> None:
        loop.call_soon_threadsafe(started.set)
        assert gate.wait(TIMEOUT)
        record(conn, event)

    event = make_event(9)
    call = asyncio.create_task(ledger.apply_once("agent", event, slow))
    await asyncio.wait_for(started.wait(), TIMEOUT)
    call.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await call
    # The transaction ran to its commit on the ledger's thread.
    assert await effects(ledger) == [9]
    assert await ledger.status("agent", event.id) is Status.DONE


async def test_an_interrupted_effect_is_retried_in_doubt_then_never_again(
    ledger: Ledger,
) -> None:
    calls: list[tuple[int, bool]] = []
    fail_once = {5}

    async def effect(event: RecordedEvent, in_doubt: bool) -> None:
        calls.append((event.position, in_doubt))
        if event.position in fail_once:
            fail_once.discard(event.position)
            raise OSError("libvirt went away mid-define")

    handler = IdempotentEffect(ledger, "compute", effect)
    four, five = make_event(4), make_event(5)
    await handler(FakeDelivery(four))
    failed = FakeDelivery(five)
    with pytest.raises(OSError, match="mid-define"):
        await handler(failed)
    assert failed.acked == 0
    assert await ledger.status("compute", five.id) is Status.IN_DOUBT

    for redelivery in (FakeDelivery(five, True), FakeDelivery(five, True), FakeDelivery(four)):
        await handler(redelivery)
        assert redelivery.acked == 1

    assert calls == [(4, False), (5, False), (5, True)]
    assert (handler.applied, handler.skipped, handler.in_doubt) == (2, 2, 1)


async def test_idempotent_consumer_on_a_bus_with_a_failing_handler(tmp_path: Path) -> None:
    """End to end on the in-process bus: fail mid-stream, restart, each applied once."""
    bus = InProcessBus()
    await bus.declare("agent", ["#"])
    await bus.publish(make_events(20))
    ledger = await Ledger.open(tmp_path / "ledger.sqlite")
    await ledger.transaction(lambda c: c.execute("CREATE TABLE effects (position INTEGER)"))
    fail_at = {12}

    def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
        record(conn, event)
        if event.position in fail_at:
            fail_at.clear()
            raise RuntimeError("transient")

    consumer = await bus.consume("agent", ["#"], IdempotentConsumer(ledger, "agent", apply))
    with pytest.raises(ConsumerFailed):
        await asyncio.wait_for(consumer.wait(), TIMEOUT)
    handler = IdempotentConsumer(ledger, "agent", apply)
    consumer = await bus.consume("agent", ["#"], handler)
    await eventually(lambda: _is_empty(bus, "agent"), what="the queue to drain")
    await consumer.stop()
    await bus.close()
    assert await effects(ledger) == list(range(1, 21))
    await ledger.close()


async def _is_empty(bus: InProcessBus, queue: str) -> bool:
    return await bus.queue_depth(queue) == 0


async def test_a_closed_ledger_refuses_work(tmp_path: Path) -> None:
    ledger = await Ledger.open(tmp_path / "ledger.sqlite")
    await ledger.close()
    await ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        await ledger.status("agent", make_event(1).id)


async def test_an_unopenable_ledger_is_a_ledger_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(LedgerError, match="cannot open"):
        await Ledger.open(tmp_path / "dir.sqlite")
