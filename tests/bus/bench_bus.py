"""Bus throughput, printed, not asserted: ``python -m tests.bus.bench_bus``.

Measures, on RabbitMQ (CAIRN_TEST_AMQP_URL or the local broker) and in-process:
pipelined confirmed publishing, consuming with batched manual acks, the outbox
relay from a SQLite store, and the idempotent consumer's ledger.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import structlog

from cairn.bus.idempotent import IdempotentConsumer
from cairn.bus.inprocess import InProcessBus
from cairn.bus.ledger import Ledger
from cairn.bus.port import Bus
from cairn.bus.rabbitmq import RabbitMQBus
from cairn.bus.relay import OutboxRelay
from cairn.events import NewEvent, RecordedEvent
from cairn.store import StreamWrite
from cairn.store.sqlite import SQLiteEventStore
from tests.bus.harness import AMQP_URL, Collector, eventually, make_events, raw_channel


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>9,.0f}/s  ({count} in {seconds:.2f} s)"


async def publish_and_consume(bus: Bus, label: str, count: int, batch: int, prefetch: int) -> None:
    queue = f"cairn.bench.{uuid.uuid4().hex[:8]}"
    await bus.declare(queue, ["#"])
    events = make_events(count)
    started = time.perf_counter()
    for i in range(0, count, batch):
        await bus.publish(events[i : i + batch])
    elapsed = time.perf_counter() - started
    print(f"{label:<10} publish, batches of {batch:<5}        {rate(count, elapsed)}")

    collector = Collector()
    started = time.perf_counter()
    consumer = await bus.consume(queue, ["#"], collector, prefetch=prefetch)
    await collector.wait_for(count, timeout=600)
    elapsed = time.perf_counter() - started
    await consumer.stop()
    assert collector.positions == [e.position for e in events]
    print(f"{label:<10} consume + ack, prefetch {prefetch:<5}      {rate(count, elapsed)}")
    await bus.delete_queue(queue)


async def relay(bus: Bus, label: str, count: int, tmp: Path) -> None:
    store = await SQLiteEventStore.open(tmp / f"relay-{uuid.uuid4().hex[:6]}.sqlite")
    writes = [
        StreamWrite(f"server-{uuid.uuid4()}", [NewEvent(type="ServerRequested", data=b"{}")])
        for _ in range(count)
    ]
    await asyncio.gather(*(store.append(w) for w in writes))
    queue = f"cairn.bench.{uuid.uuid4().hex[:8]}"
    await bus.declare(queue, ["#"])
    relay = OutboxRelay(store, bus, batch_size=500)
    started = time.perf_counter()
    running = asyncio.create_task(relay.run())
    await eventually(lambda: relay.position >= count, what="the relay", timeout=600)
    elapsed = time.perf_counter() - started
    await relay.stop()
    await running
    print(f"{label:<10} relay, SQLite store -> bus, confirmed  {rate(count, elapsed)}")
    await bus.delete_queue(queue)
    await store.close()


async def ledger(count: int, tmp: Path, synchronous: str) -> None:
    led = await Ledger.open(tmp / f"ledger-{synchronous}.sqlite", synchronous=synchronous)  # type: ignore[arg-type]
    await led.transaction(lambda c: c.execute("CREATE TABLE IF NOT EXISTS fx (p INTEGER)"))

    def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
        conn.execute("INSERT INTO fx VALUES (?)", (event.position,))

    bus = InProcessBus()
    await bus.declare("agent", ["#"])
    await bus.publish(make_events(count))
    handler = IdempotentConsumer(led, "bench", apply)
    started = time.perf_counter()
    consumer = await bus.consume("agent", ["#"], handler)
    await eventually(lambda: handler.applied >= count, what="the consumer", timeout=600)
    elapsed = time.perf_counter() - started
    await consumer.stop()
    print(f"ledger     idempotent apply, synchronous={synchronous:<6}  {rate(count, elapsed)}")
    await bus.close()
    await led.close()


async def main(count: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    exchange = f"cairn.bench.{uuid.uuid4().hex[:8]}"
    rabbit = await RabbitMQBus.connect(AMQP_URL, exchange=exchange)
    memory = InProcessBus()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for bus, label in ((rabbit, "rabbitmq"), (memory, "in-process")):
                await publish_and_consume(bus, label, count, batch=500, prefetch=100)
            await publish_and_consume(rabbit, "rabbitmq", count, batch=count, prefetch=500)
            await publish_and_consume(rabbit, "rabbitmq", min(count, 2000), batch=1, prefetch=100)
            for bus, label in ((rabbit, "rabbitmq"), (memory, "in-process")):
                await relay(bus, label, count, Path(tmp))
            for synchronous in ("FULL", "NORMAL"):
                await ledger(min(count, 5000), Path(tmp), synchronous)
    finally:
        await rabbit.close()
        await memory.close()
        async with raw_channel() as channel:
            await channel.exchange_delete(exchange)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().events))
