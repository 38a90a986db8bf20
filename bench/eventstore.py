"""Event-store benchmark: append, batched append and replay rates per adapter.

    python -m bench.eventstore [--events N] [--only sqlite|postgresql]

(PostgreSQL: CAIRN_BENCH_PG_DSN, default postgresql://postgres@127.0.0.1:5432/postgres.)

Prints, for SQLite and PostgreSQL: durable append events/s with 1 and with 32
concurrent single-event appenders, batched append events/s (appends of 100
events), and replay events/s (read the whole log and fold it into a
projection). For PostgreSQL it also measures, in the same run, raw asyncpg
inserting the same rows (same table shape and indexes) in transactions of 100
rows, so the store's cost shows as a ratio. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import uvloop

from cairn.events import DomainEvent, RecordedEvent, registry
from cairn.logs import configure
from cairn.projections import Projection, handles
from cairn.readmodel import ProjectionRunner
from cairn.store import EventStore, StreamWrite
from cairn.store.groupcommit import now_micros
from cairn.store.postgres import PostgresEventStore
from cairn.store.sqlite import SQLiteEventStore

PG_ADMIN = os.environ.get("CAIRN_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@registry.event
class BenchServerUpdated(DomainEvent, frozen=True):
    """A payload of about 400 bytes, like a typical resource event."""

    server_id: str
    name: str
    status: str
    flavor_id: str
    image_id: str
    host: str
    note: str


class ServerStatus(Projection[dict[str, str]]):
    name = "bench-server-status"
    state_type: ClassVar[Any] = dict[str, str]

    def initial(self) -> dict[str, str]:
        return {}

    @handles("BenchServerUpdated")
    def _updated(
        self, state: dict[str, str], event: RecordedEvent, data: BenchServerUpdated
    ) -> dict[str, str]:
        state[data.server_id] = data.status
        return state


def _event(i: int) -> StreamWrite:
    sid = f"{i % 5000:08d}-0000-4000-8000-000000000000"
    body = BenchServerUpdated(
        server_id=sid,
        name=f"server-{i}",
        status=("ACTIVE", "BUILD", "SHUTOFF")[i % 3],
        flavor_id="m1.small",
        image_id="6f6d0f2e-1f0c-4f5d-9d3f-0e1a2b3c4d5e",
        host=f"compute-{i % 8}",
        note="x" * 200,
    )
    return StreamWrite(f"server-{sid}", [registry.new(body)])


async def _timed(label: str, total: int, work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await work()
    rate = total / (time.perf_counter() - started)
    print(f"  {label:<44} {rate:>10,.0f} events/s", flush=True)
    return rate


async def _appenders(store: EventStore, clients: int, per_client: int) -> None:
    async def client(c: int) -> None:
        for j in range(per_client):
            await store.append(_event(c * per_client + j))

    await asyncio.gather(*(client(c) for c in range(clients)))


async def _batched(store: EventStore, batches: int, size: int, clients: int = 4) -> None:
    async def client(c: int) -> None:
        for b in range(c, batches, clients):
            writes = [_event(b * size + k) for k in range(size)]
            events = [w.events[0] for w in writes]
            await store.append(StreamWrite(f"bench-{b}", events))

    await asyncio.gather(*(client(c) for c in range(clients)))


async def bench_store(
    label: str, open_store: Callable[[], Awaitable[EventStore]], n: int
) -> dict[str, float]:
    print(f"{label}:", flush=True)
    figures: dict[str, float] = {}
    store = await open_store()
    try:
        single = max(n // 10, 500)
        figures["append_1"] = await _timed(
            "durable append, 1 appender", single, lambda: _appenders(store, 1, single)
        )
        figures["append_32"] = await _timed(
            "durable append, 32 concurrent appenders",
            32 * (n // 32),
            lambda: _appenders(store, 32, n // 32),
        )
        figures["batched"] = await _timed(
            "batched append (100 events per append)",
            100 * (n // 100),
            lambda: _batched(store, n // 100, 100),
        )
        total = await store.head()
    finally:
        await store.close()

    store = await open_store()
    try:
        runner = ProjectionRunner(store, ServerStatus(), snapshot_every=10**12)
        figures["replay"] = await _timed(
            f"replay {total:,} events into a projection", total, runner.load
        )
        assert len(runner.state) == 5000
    finally:
        await store.close()
    return figures


RAW_TABLE = """
CREATE TABLE raw_events (
    position bigint PRIMARY KEY, id uuid NOT NULL UNIQUE, stream text NOT NULL,
    version bigint NOT NULL, type text NOT NULL, schema_version integer NOT NULL,
    recorded_at timestamptz NOT NULL, data bytea NOT NULL, metadata bytea NOT NULL,
    prev_hash bytea NOT NULL, hash bytea NOT NULL, UNIQUE (stream, version))
"""
RAW_INSERT = """
INSERT INTO raw_events SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[],
    $5::text[], $6::int[], $7::timestamptz[], $8::bytea[], $9::bytea[], $10::bytea[], $11::bytea[])
"""


async def bench_raw_asyncpg(dsn: str, n: int, connections: int) -> float:
    """Raw asyncpg: the same rows into the same table shape, 100 rows per transaction."""
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    await conns[0].execute("DROP TABLE IF EXISTS raw_events")
    await conns[0].execute(RAW_TABLE)
    batches = n // 100
    hash_ = bytes(32)
    rows = []
    for i in range(n):
        w = _event(i)
        e = w.events[0]
        rows.append(
            (
                i + 1,
                e.id,  # the same time-ordered ids the store writes
                w.stream + str(i),
                1,
                e.type,
                1,
                now_micros(),
                e.data,
                b"{}",
                hash_,
                hash_,
            )
        )

    async def worker(conn: asyncpg.Connection, k: int) -> None:
        for b in range(k, batches, connections):
            chunk = rows[b * 100 : (b + 1) * 100]
            columns = [list(c) for c in zip(*chunk, strict=True)]
            async with conn.transaction():
                await conn.execute(RAW_INSERT, *columns)

    rate = await _timed(
        f"raw asyncpg, 100 rows/transaction, {connections} conn",
        batches * 100,
        lambda: asyncio.gather(*(worker(c, k) for k, c in enumerate(conns))),  # type: ignore[arg-type,return-value]
    )
    for conn in conns:
        await conn.close()
    return rate


def cpu_reference() -> float:
    """Seconds for a fixed pure-Python loop: this VM's speed drifts by 2x and
    more between runs, so figures are comparable only next to this number."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=64_000, help="events per measurement")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="bench one adapter")
    args = parser.parse_args()
    configure("warning", "console")
    n = args.events
    print(f"CPU reference: a 10M-iteration Python loop takes {cpu_reference():.2f} s", flush=True)

    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.sqlite"
            await bench_store(
                "SQLite (WAL, synchronous=FULL)", lambda: SQLiteEventStore.open(path), n
            )

    if args.only in (None, "postgresql"):
        name = f"cairn_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        try:
            pg = await bench_store(
                "PostgreSQL (asyncpg, synchronous_commit=on)",
                lambda: PostgresEventStore.open(dsn),
                n,
            )
            raw1 = await bench_raw_asyncpg(dsn, n, 1)
            raw4 = await bench_raw_asyncpg(dsn, n, 4)
            print(f"  store, 32 appenders / raw batched (1 conn):  {pg['append_32'] / raw1:>9.0%}")
            print(f"  store, 32 appenders / raw batched (4 conn):  {pg['append_32'] / raw4:>9.0%}")
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print(f"CPU reference at the end: {cpu_reference():.2f} s (a busier machine shows here)")


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as `cairn up` runs
        runner.run(main())
