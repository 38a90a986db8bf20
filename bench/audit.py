"""Audit benchmark: verify the hash chain of, and replay, a log of a million events.

    python -m bench.audit [--events N] [--only sqlite|postgresql]

For SQLite and PostgreSQL in turn: builds a log of N events (default
1,000,000; appends of 1,000 events over 20 streams, 4 appenders, the store's
own batched append), then prints seconds and events/s to verify its chain
(``cairn audit verify``'s code) and to replay it (``cairn audit replay``'s
code; in one process, then in one per core) and to replay it (``cairn audit
replay``'s code) into the generic ``streams`` projection and into a projection
that decodes every payload. Each figure comes with the CPU time it took, since
wall time on a shared machine depends on its load. The goal is 200,000
events/s or more. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import uvloop

from bench.eventstore import BenchServerUpdated, ServerStatus, cpu_reference
from cairn.audit import replay, verify_chain
from cairn.audit.parallel import default_jobs, verify_parallel
from cairn.audit.progress import Progress
from cairn.events import Metadata, registry
from cairn.logs import configure
from cairn.projections.streams import Streams
from cairn.store import EventStore, StreamWrite, open_store

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


async def build(store: EventStore, total: int) -> None:
    per_append = STREAMS_PER_APPEND * EVENTS_PER_STREAM
    appends = max(total // per_append, 1)
    progress = Progress("  building", appends * per_append, interval=5.0)

    async def appender(first: int) -> None:
        for index in range(first, appends, APPENDERS):
            result = await store.append(*_append(index))
            progress(result.position)

    await asyncio.gather(*(appender(a) for a in range(APPENDERS)))
    progress.done()


class Clock:
    """Wall time, and CPU time of this process and its finished children (the
    verify workers): on a shared machine the wall figure depends on the load,
    the CPU figure much less (a database server's CPU is not counted)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), _cpu()

    def line(self, label: str, events: int) -> None:
        wall, cpu = time.perf_counter() - self.wall, _cpu() - self.cpu
        rate = events / wall if wall else float("inf")
        per_cpu = events / cpu if cpu else float("inf")
        print(
            f"  {label:<40} {wall:>6.2f} s {rate:>9,.0f} events/s"
            f"  (CPU {cpu:>5.2f} s, {per_cpu:>8,.0f} events per CPU-s)",
            flush=True,
        )


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


async def bench_store(label: str, url: str, n: int) -> None:
    print(f"{label}:", flush=True)
    store = await open_store(url)
    try:
        clock = Clock()
        await build(store, n)
        total = await store.head()
        clock.line(f"build {total:,} events (batched append)", total)
    finally:
        await store.close()

    store = await open_store(url)  # a fresh process's view: nothing cached
    try:
        clock = Clock()
        report = await verify_chain(store, on_progress=Progress("  verify", total))
        clock.line("verify the hash chain, 1 process", report.verified)
        assert report.ok, report
        assert report.verified == total, report
        jobs = default_jobs()
        clock = Clock()
        report = await verify_parallel(
            url, total, jobs=jobs, on_progress=Progress("  verify", total)
        )
        clock.line(f"verify the hash chain, {jobs} processes", report.verified)
        assert report.ok, report
        assert report.verified == total, report

        for projection in (Streams(), ServerStatus()):
            clock = Clock()
            result = await replay(
                store, [projection], upto=total, on_progress=Progress("  replay", total)
            )
            clock.line(f"replay into {projection.name}", result.events)
            assert result.events == total
            assert len(result.states[projection.name]) == min(SERVERS, total // EVENTS_PER_STREAM)
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
            await bench_store("SQLite", f"sqlite:///{path}", args.events)

    if args.only in (None, "postgresql"):
        name = f"cairn_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        try:
            await bench_store("PostgreSQL", dsn, args.events)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print(f"CPU reference at the end: {cpu_reference():.2f} s (a busier machine shows here)")


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as `cairn` runs
        runner.run(main())
