"""The event-store contract: every adapter passes this one suite.

Each test gets a ``harness`` for one adapter; ``harness.open()`` opens another
store on the same database, as a second process would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
import pytest

from cairn.events import ANY_VERSION, GENESIS_HASH, NO_STREAM, Metadata, NewEvent
from cairn.events.chain import first_broken_link
from cairn.store import (
    DuplicateEventId,
    EventStore,
    Snapshot,
    StoreClosed,
    StreamWrite,
    WrongExpectedVersion,
)
from cairn.store.groupcommit import PendingAppend, now_micros, plan_batch
from cairn.store.postgres import _APPEND, PostgresEventStore, _arguments, _Assumption
from cairn.store.sqlite import SQLiteEventStore, plan_and_insert
from tests.conftest import fresh_pg_database


@dataclass
class Harness:
    """Opens stores on one database and writes raw, slow transactions into it."""

    kind: str
    open_store: Callable[[], Awaitable[EventStore]]
    slow_append: Callable[[str, int, float, bool], Awaitable[None]]
    opened: list[EventStore] = field(default_factory=list)

    async def open(self) -> EventStore:
        store = await self.open_store()
        self.opened.append(store)
        return store


def _events(n: int, kind: str = "Thing") -> list[NewEvent]:
    return [NewEvent(type=kind, data=msgspec.json.encode({"n": i})) for i in range(n)]


def _pending(stream: str, count: int) -> PendingAppend:
    loop = asyncio.get_running_loop()
    return PendingAppend((StreamWrite(stream, _events(count)),), loop.create_future())


async def _pg_slow_append(dsn: str, stream: str, count: int, delay: float, rollback: bool) -> None:
    """Another process's append transaction that holds on before it commits or rolls back.

    It speaks the same protocol as the store's writer: a call with wrong
    assumptions returns the real head and versions, and is planned again.
    """
    conn = await asyncpg.connect(dsn)
    try:
        pending = [_pending(stream, count)]
        head, digest, versions = -1, GENESIS_HASH, [0]
        while True:
            tx = conn.transaction()
            await tx.start()
            plan = plan_batch(
                pending,
                head_position=head,
                head_hash=digest,
                versions={stream: versions[0]},
                recorded_at=now_micros(),
            )
            assumed = _Assumption(head, digest, {stream: versions[0]})
            row = await conn.fetchrow(_APPEND, *_arguments(assumed, [stream], plan))
            if row["applied"]:
                break
            await tx.rollback()
            head, digest, versions = row["head_position"], row["head_hash"], row["versions"]
        await asyncio.sleep(delay)
        await (tx.rollback() if rollback else tx.commit())
    finally:
        await conn.close()


async def _sqlite_slow_append(
    path: Path, stream: str, count: int, delay: float, rollback: bool
) -> None:
    """Another process's write transaction that holds SQLite's writer lock a while."""
    pending = _pending(stream, count)

    def run() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            plan_and_insert(conn, [pending])
            threading.Event().wait(delay)
            conn.execute("ROLLBACK" if rollback else "COMMIT")
        finally:
            conn.close()

    await asyncio.get_running_loop().run_in_executor(None, run)


@pytest.fixture(params=["sqlite", "postgresql"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path / "store.sqlite"
            h = Harness(
                "sqlite",
                lambda: SQLiteEventStore.open(path),
                lambda s, n, d, r: _sqlite_slow_append(path, s, n, d, r),
            )
        else:
            dsn = await stack.enter_async_context(fresh_pg_database())
            h = Harness(
                "postgresql",
                lambda: PostgresEventStore.open(dsn),
                lambda s, n, d, r: _pg_slow_append(dsn, s, n, d, r),
            )
        try:
            yield h
        finally:
            for store in h.opened:
                await store.close()


@pytest.fixture
async def store(harness: Harness) -> EventStore:
    return await harness.open()


# -- appends and reads ----------------------------------------------------------


async def test_append_then_read_stream_keeps_every_field(store: EventStore) -> None:
    meta = Metadata(request_id="req-1", user_id="u1", project_id="p1", correlation_id="c1")
    sent = [
        NewEvent(type="ServerRequested", data=b'{"name":"a"}', metadata=meta, schema_version=2),
        NewEvent(type="ServerScheduled", data=b'{"host":"h1"}', metadata=meta),
    ]
    before = datetime.now(UTC) - timedelta(seconds=1)
    result = await store.append(StreamWrite("server-1", sent, NO_STREAM))

    got = await store.read_stream("server-1")
    assert [e.id for e in got] == [e.id for e in sent]
    assert [e.type for e in got] == ["ServerRequested", "ServerScheduled"]
    assert [e.data for e in got] == [e.data for e in sent]
    assert [e.schema_version for e in got] == [2, 1]
    assert all(e.metadata == meta for e in got)
    assert [e.version for e in got] == [1, 2]
    assert [e.position for e in got] == [1, 2]
    assert all(e.stream == "server-1" and e.category == "server" for e in got)
    assert all(before < e.recorded_at < datetime.now(UTC) + timedelta(seconds=1) for e in got)
    assert result.position == 2
    assert result.versions == {"server-1": 2}
    assert await store.stream_version("server-1") == 2
    assert await store.stream_version("server-404") == 0
    assert await store.head() == 2


async def test_read_stream_from_version_and_limit(store: EventStore) -> None:
    await store.append(StreamWrite("image-1", _events(10)))
    got = await store.read_stream("image-1", from_version=4, limit=3)
    assert [e.version for e in got] == [4, 5, 6]
    assert await store.read_stream("image-2") == []


async def test_expected_versions_no_stream_exact_and_any(store: EventStore) -> None:
    await store.append(StreamWrite("user-1", _events(1), NO_STREAM))
    await store.append(StreamWrite("user-1", _events(2), 1))
    await store.append(StreamWrite("user-1", _events(1), ANY_VERSION))
    assert await store.stream_version("user-1") == 4
    with pytest.raises(WrongExpectedVersion):
        await store.append(StreamWrite("user-1", _events(1), NO_STREAM))
    with pytest.raises(WrongExpectedVersion):
        await store.append(StreamWrite("user-2", _events(1), 3))


async def test_conflict_names_the_stream_and_both_versions_and_writes_nothing(
    store: EventStore,
) -> None:
    await store.append(StreamWrite("project-a", _events(3)))
    head = await store.head()
    with pytest.raises(WrongExpectedVersion) as caught:
        await store.append(
            StreamWrite("server-9", _events(2), NO_STREAM),  # fine on its own
            StreamWrite("project-a", _events(1), 2),  # wrong: project-a is at 3
        )
    err = caught.value
    assert (err.stream, err.expected, err.actual) == ("project-a", 2, 3)
    assert str(err) == "stream 'project-a' is at version 3, but the append expected version 2"
    assert await store.head() == head
    assert await store.read_stream("server-9") == []
    assert await store.stream_version("project-a") == 3


async def test_one_append_covers_several_streams_atomically(store: EventStore) -> None:
    result = await store.append(
        StreamWrite("server-1", _events(2), NO_STREAM),
        StreamWrite("project-1", _events(1), NO_STREAM),
    )
    assert result.versions == {"server-1": 2, "project-1": 1}
    everything = await store.read_all()
    assert [(e.stream, e.version, e.position) for e in everything] == [
        ("server-1", 1, 1),
        ("server-1", 2, 2),
        ("project-1", 1, 3),
    ]


@pytest.mark.parametrize(
    "writes",
    [
        (),
        (StreamWrite("server-1", []),),
        (StreamWrite("nocategory", _events(1)),),
        (StreamWrite("server-1", _events(1)), StreamWrite("server-1", _events(1))),
        (StreamWrite("server-1", _events(1), -5),),
    ],
    ids=["nothing", "no-events", "bad-name", "same-stream-twice", "bad-version"],
)
async def test_malformed_appends_are_refused_before_anything_is_written(
    store: EventStore, writes: tuple[StreamWrite, ...]
) -> None:
    with pytest.raises(ValueError, match=r"."):
        await store.append(*writes)
    assert await store.head() == 0


async def test_read_all_pages_in_position_order(store: EventStore) -> None:
    for i in range(5):
        await store.append(StreamWrite(f"volume-{i}", _events(3)))
    first = await store.read_all(after=0, limit=4)
    rest = await store.read_all(after=first[-1].position, limit=100)
    positions = [e.position for e in first + rest]
    assert positions == list(range(1, 16))
    assert await store.read_all(after=15) == []


async def test_every_event_links_to_its_predecessor_and_edits_break_the_chain(
    store: EventStore,
) -> None:
    for i in range(4):
        await store.append(StreamWrite(f"network-{i}", _events(5)))
    log = await store.read_all()
    assert log[0].prev_hash == GENESIS_HASH
    assert first_broken_link(log) is None
    edited = list(log)
    edited[7] = msgspec.structs.replace(log[7], data=b'{"n":999}')
    assert first_broken_link(edited) == log[7].position
    reordered = [log[0], log[2], log[1], *log[3:]]
    assert first_broken_link(reordered) == log[2].position


async def test_events_survive_closing_and_reopening(harness: Harness) -> None:
    first = await harness.open()
    await first.append(StreamWrite("keypair-1", _events(3)))
    await first.close()
    second = await harness.open()
    got = await second.read_all()
    assert [e.version for e in got] == [1, 2, 3]
    await second.append(StreamWrite("keypair-1", _events(1), 3))
    assert first_broken_link(await second.read_all()) is None


# -- concurrency -----------------------------------------------------------------


async def test_two_writers_at_the_same_expected_version_get_exactly_one_conflict(
    harness: Harness,
) -> None:
    one, two = await harness.open(), await harness.open()
    await one.append(StreamWrite("server-x", _events(1)))
    outcomes = await asyncio.gather(
        one.append(StreamWrite("server-x", _events(1), 1)),
        two.append(StreamWrite("server-x", _events(1), 1)),
        return_exceptions=True,
    )
    conflicts = [o for o in outcomes if isinstance(o, WrongExpectedVersion)]
    assert len(conflicts) == 1
    assert await one.stream_version("server-x") == 2


async def test_same_process_writers_on_one_stream_serialize_by_version(store: EventStore) -> None:
    await store.append(StreamWrite("quota-1", _events(1)))
    outcomes = await asyncio.gather(
        *(store.append(StreamWrite("quota-1", _events(1), 1)) for _ in range(20)),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(
        isinstance(o, WrongExpectedVersion) for o in outcomes if isinstance(o, BaseException)
    )


async def test_concurrent_appends_share_transactions(store: EventStore) -> None:
    committer = store.committer  # type: ignore[attr-defined]
    results = await asyncio.gather(
        *(store.append(StreamWrite(f"port-{i}", _events(1))) for i in range(300))
    )
    assert sorted(r.position for r in results) == list(range(1, 301))
    assert committer.appends == 300
    assert committer.transactions < 300 / 4, "concurrent appends should be grouped"
    assert first_broken_link(await store.read_all(limit=1000)) is None


async def test_subscriber_catches_up_then_follows_live_with_no_gap_or_duplicate(
    harness: Harness,
) -> None:
    writer = await harness.open()
    follower = await harness.open()
    for i in range(25):
        await writer.append(StreamWrite(f"history-{i}", _events(10)))

    async def append_live() -> None:
        for i in range(50):
            await writer.append(StreamWrite(f"live-{i}", _events(5)))
            if i % 10 == 0:
                await asyncio.sleep(0)

    seen: list[int] = []

    async def follow() -> None:
        async for event in follower.subscribe(after=0, batch=64):
            seen.append(event.position)
            if len(seen) == 500:
                return

    await asyncio.wait_for(asyncio.gather(follow(), append_live()), timeout=30)
    assert seen == list(range(1, 501))


async def test_subscriber_never_skips_an_event_that_commits_late(harness: Harness) -> None:
    """Many writers in several 'processes', slow and rolled-back transactions
    among them; one follower must see every committed event exactly once."""
    writers = [await harness.open() for _ in range(3)]
    follower = await harness.open()
    rng = random.Random(7)
    seen: list[int] = []
    caught_up = asyncio.Event()
    final_head: int | None = None

    async def follow() -> None:
        async for event in follower.subscribe(after=0, batch=50):
            seen.append(event.position)
            if event.position == final_head:
                caught_up.set()

    async def append_many(store: EventStore, w: int) -> None:
        for j in range(25):
            await store.append(StreamWrite(f"server-{w}x{j}", _events(rng.randint(1, 3))))

    async def slow(k: int) -> None:
        await asyncio.sleep(rng.random() * 0.3)
        await harness.slow_append(f"slow-{k}", 2, 0.05 + rng.random() * 0.3, k % 3 == 0)

    follower_task = asyncio.create_task(follow())
    await asyncio.wait_for(
        asyncio.gather(
            *(append_many(writers[w % 3], w) for w in range(16)),
            *(slow(k) for k in range(9)),
        ),
        timeout=120,
    )
    final_head = await writers[0].head()
    if seen and seen[-1] == final_head:
        caught_up.set()
    await asyncio.wait_for(caught_up.wait(), timeout=30)
    follower_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follower_task

    committed = [e.position for e in await writers[0].read_all(limit=100_000)]
    assert seen == committed, "the follower must see every committed event once, in order"
    assert len(set(seen)) == len(seen)
    streams = {e.stream for e in await writers[0].read_all(limit=100_000)}
    assert {f"slow-{k}" for k in range(9) if k % 3 == 0}.isdisjoint(streams)
    assert {f"slow-{k}" for k in range(9) if k % 3} <= streams
    assert first_broken_link(await writers[0].read_all(limit=100_000)) is None


# -- lifecycle, checkpoints and snapshots -------------------------------------------


async def test_close_commits_every_accepted_append(harness: Harness) -> None:
    store = await harness.open()
    appends = [
        asyncio.create_task(store.append(StreamWrite(f"flavor-{i}", _events(1))))
        for i in range(200)
    ]
    await asyncio.sleep(0)
    await store.close()
    outcomes = await asyncio.gather(*appends, return_exceptions=True)
    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    assert all(isinstance(o, StoreClosed) for o in outcomes if isinstance(o, BaseException))
    with pytest.raises(StoreClosed):
        await store.append(StreamWrite("flavor-late", _events(1)))
    reopened = await harness.open()
    assert await reopened.head() == len(succeeded) == 200


async def test_checkpoints_and_snapshots_round_trip(store: EventStore) -> None:
    assert await store.load_checkpoint("relay") == 0
    await store.save_checkpoint("relay", 42)
    await store.save_checkpoint("relay", 43)
    assert await store.load_checkpoint("relay") == 43
    assert await store.load_snapshot("servers") is None
    snap = Snapshot(name="servers", version=2, position=43, state=b"\x01\x02")
    await store.save_snapshot(snap)
    await store.save_snapshot(msgspec.structs.replace(snap, position=50, state=b"\x03"))
    assert await store.load_snapshot("servers") == Snapshot("servers", 2, 50, b"\x03")


async def test_event_ids_are_unique_in_the_log(store: EventStore) -> None:
    event = NewEvent(type="Once", data=b"{}", id=uuid.uuid4())
    await store.append(StreamWrite("once-1", [event]))
    with pytest.raises(DuplicateEventId, match="already in the log"):
        await store.append(StreamWrite("once-2", [event]))
    with pytest.raises(ValueError, match="appears twice in one append"):
        await store.append(StreamWrite("once-3", [event, event]))
    assert [e.stream for e in await store.read_all()] == ["once-1"]


async def test_one_bad_append_does_not_fail_the_others_in_its_batch(store: EventStore) -> None:
    taken = NewEvent(type="Once", data=b"{}")
    await store.append(StreamWrite("taken-1", [taken]))
    outcomes = await asyncio.gather(
        *(store.append(StreamWrite(f"good-{i}", _events(1))) for i in range(10)),
        store.append(StreamWrite("dup-1", [taken])),
        *(store.append(StreamWrite(f"good-{i}", _events(1))) for i in range(10, 20)),
        return_exceptions=True,
    )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], DuplicateEventId)
    streams = [e.stream for e in await store.read_all()]
    assert sorted(streams) == sorted(["taken-1", *(f"good-{i}" for i in range(20))])
    assert first_broken_link(await store.read_all()) is None


async def test_close_waits_for_reads_in_flight(harness: Harness) -> None:
    store = await harness.open()
    for i in range(20):
        await store.append(StreamWrite(f"bulk-{i}", _events(100)))
    # Reads whose callers are cancelled keep running underneath (a thread, a
    # query on the wire); closing must neither crash nor hang on them.
    reads = [asyncio.create_task(store.read_all(after=0, limit=2000)) for _ in range(6)]
    await asyncio.sleep(0)
    for read in reads[::2]:
        read.cancel()
    await asyncio.wait_for(store.close(), timeout=30)
    outcomes = await asyncio.gather(*reads, return_exceptions=True)
    for outcome in outcomes:
        assert isinstance(outcome, list | asyncio.CancelledError | StoreClosed), outcome


async def test_read_chain_gives_the_raw_fields_the_chain_hashes(store: EventStore) -> None:
    from cairn.events.chain import chain_hash

    for i in range(3):
        await store.append(StreamWrite(f"raw-{i}", _events(4)))
    events = await store.read_all()
    rows = await store.read_chain(after=2, limit=5)
    assert [r[0] for r in rows] == [3, 4, 5, 6, 7]
    for row, event in zip(rows, events[2:7], strict=True):
        assert bytes(row[1]) == event.id.bytes
        assert chain_hash(*[bytes(row[9]), bytes(row[1]), row[2].encode(), *row[3:4],
                            row[0], row[4].encode(), row[5], row[6], bytes(row[7]),
                            bytes(row[8])]) == bytes(row[10]) == event.hash  # fmt: skip
