"""Audit benchmark: verify the hash chain of, and replay, a log of a million events.

    python -m bench.audit [--events N] [--only sqlite|postgresql]

For SQLite and PostgreSQL in turn: builds a log of N events (default
1,000,000; appends of 1,000 events over 20 streams, 4 appenders, the store's
own batched append), then prints seconds and events/s to verify its chain
(``cairn audit verify``'s code) and to replay it (``cairn audit replay``'s
code) into the generic ``streams`` projection and into a projection that
decodes every payload. The goal is 200,000 events/s or more. Figures only.
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

import asyncpg
import uvloop

from bench.eventstore import BenchServerUpdated, ServerStatus, cpu_reference
from cairn.audit import replay, verify_chain
from cairn.audit.progress import Progress
from cairn.events import Metadata, registry
from cairn.logs import configure
from cairn.projections.streams import Streams
from cairn.store import EventStore, StreamWrite
from cairn.store.postgres import PostgresEventStore
from cairn.store.sqlite import SQLiteEventStore

PG_ADMIN = os.environ.get("CAIRN_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
STREAMS_PER_APPEND, EVENTS_PER_STREAM = 20, 50
SERVERS = 5000
APPENDERS = 4


def _append(index: int) -> tuple[StreamWrite, ...]:
    """Append number ``index``: 1,000 events over 20 server streams."""
    metadata = Metadata(request_id=f"req-{index}", user_id="u-bench", project_id="p-bench")
    writes = []
    for s in range(STREAMS_PER_APPEND):
        sid = f"{(index * STREAMS_PER_APPEND + s) % SERVERS:08d}-0000-4000-8000-000000000000"
        events = [
            registry.new(
                BenchServerUpdated(
                    server_id=sid, name=f"server-{index}-{k}",
                    status=("ACTIVE", "BUILD", "SHUTOFF")[k % 3], flavor_id="m1.small",
                    image_id="6f6d0f2e-1f0c-4f5d-9d3f-0e1a2b3c4d5e", host=f"compute-{s % 8}",
                    note="x" * 200,
                ),
                metadata,
            )
            for k in range(EVENTS_PER_STREAM)
        ]  # fmt: skip
        writes.append(StreamWrite(f"server-{sid}", events))
    return tuple(writes)


async def build(store: EventStore, total: int) -> float:
    per_append = STREAMS_PER_APPEND * EVENTS_PER_STREAM
    appends = max(total // per_append, 1)
    progress = Progress("  building", appends * per_append, interval=5.0)
    started = time.perf_counter()

    async def appender(first: int) -> None:
        for index in range(first, appends, APPENDERS):
            result = await store.append(*_append(index))
            progress(result.position)

    await asyncio.gather(*(appender(a) for a in range(APPENDERS)))
    progress.done()
    return time.perf_counter() - started


def _line(label: str, events: int, seconds: float) -> None:
    rate = events / seconds if seconds else float("inf")
    print(f"  {label:<46} {seconds:>7.2f} s {rate:>11,.0f} events/s", flush=True)


async def bench_store(label: str, open_store: Callable[[], Awaitable[EventStore]], n: int) -> None:
    print(f"{label}:", flush=True)
    store = await open_store()
    try:
        seconds = await build(store, n)
        total = await store.head()
        _line(f"build {total:,} events (batched append)", total, seconds)
    finally:
        await store.close()

    store = await open_store()  # a fresh process's view: nothing cached
    try:
        started = time.perf_counter()
        report = await verify_chain(store, on_progress=Progress("  verify", total))
        _line("verify the hash chain", report.verified, time.perf_counter() - started)
        assert report.ok, report
        assert report.verified == total, report

        for projection in (Streams(), ServerStatus()):
            started = time.perf_counter()
            result = await replay(
                store, [projection], upto=total, on_progress=Progress("  replay", total)
            )
            _line(f"replay into {projection.name}", result.events, time.perf_counter() - started)
            assert result.events == total
            assert len(result.states[projection.name]) == SERVERS
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the log")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="bench one adapter")
    args = parser.parse_args()
    configure("warning", "console")
    print(f"CPU reference: a 10M-iteration Python loop takes {cpu_reference():.2f} s", flush=True)

    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.sqlite"
            await bench_store("SQLite", lambda: SQLiteEventStore.open(path), args.events)

    if args.only in (None, "postgresql"):
        name = f"cairn_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        try:
            await bench_store("PostgreSQL", lambda: PostgresEventStore.open(dsn), args.events)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print(f"CPU reference at the end: {cpu_reference():.2f} s (a busier machine shows here)")


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as `cairn` runs
        runner.run(main())
