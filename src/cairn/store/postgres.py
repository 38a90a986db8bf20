"""The production event store: PostgreSQL through asyncpg.

Appends from every process serialize on one transaction-scoped advisory lock
(taken inside ``cairn_begin_append``, see migrations/versions/0001), and each
process groups its concurrent appends into one transaction, so the lock is
taken once per batch, not per event. Holding the lock until commit makes commit
order equal position order: a reader paging by ``position > $last`` can never
pass a hole that a slower transaction fills later (docs/adr/0002 explains why
this beat a transaction-id horizon here).

Every append transaction ends with one NOTIFY, so followers in any process wake
as soon as it commits; they then read the log itself.

Event times come from the database's clock (migrations/versions/0002): each
append answers the database's ``clock_timestamp()`` and the head's time, and
the writer proposes ``max(its clock + the offset it learned, the head's
time)``. ``cairn_append`` refuses a time earlier than the head's or more than
:data:`MAX_SKEW` seconds from its own clock; the writer then plans again under
the lock with the database's time. So a writer whose clock is wrong cannot
put its skew into the log, and times never go backwards along positions
(point-in-time replay and host liveness read them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from cairn.events import ANY_VERSION, GENESIS_HASH, RecordedEvent
from cairn.store.groupcommit import (
    BatchOutcome,
    GroupCommitter,
    PendingAppend,
    Plan,
    now_micros,
    plan_batch,
)
from cairn.store.port import (
    AppendResult,
    ChainRow,
    DuplicateEventId,
    EventStore,
    Snapshot,
    StoreClosed,
    StoreUnavailable,
    StreamWrite,
)
from cairn.store.schema import EVENT_COLUMNS, asyncpg_dsn, migrate
from cairn.store.wakeup import HeadSignal

log = structlog.get_logger(__name__)

CHANNEL = "cairn_events"
#: Append batches in flight at once: one being prepared in Python while the
#: other runs in the database (where the writer lock orders them).
WRITER_LANES = 2
#: How far (seconds) a proposed event time may be from the database's clock.
MAX_SKEW = 0.5


def _record(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(*row)


async def _setup_connection(conn: asyncpg.Connection) -> None:
    # An append transaction holds the global writer lock: never let one idle.
    await conn.execute("SET idle_in_transaction_session_timeout = '10s'")


class PostgresEventStore(EventStore):
    """Event store on PostgreSQL. Open it with :meth:`open`."""

    def __init__(self, dsn: str, pool: asyncpg.Pool, committer: _PostgresWriter) -> None:
        self.dsn = dsn
        self._pool = pool
        self.committer = committer
        self._listener: asyncpg.Connection | None = None
        self._listener_lock = asyncio.Lock()
        self._closing = False
        self._signal = HeadSignal()
        self._closed = False

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 4) -> PostgresEventStore:
        dsn = asyncpg_dsn(url)
        writers: list[asyncpg.Connection] = []
        try:
            # Connect first: an unreachable server is then one clear error.
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=pool_size, setup=None, init=_setup_connection
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        try:
            for _ in range(WRITER_LANES):
                writers.append(await asyncpg.connect(dsn))
                await _setup_connection(writers[-1])
            await migrate(dsn)
        except BaseException as exc:
            for writer in writers:
                await writer.close()
            await pool.close()
            if isinstance(exc, OSError | asyncpg.PostgresError):
                raise StoreUnavailable(f"cannot prepare PostgreSQL: {exc}") from exc
            raise
        store = cls(dsn, pool, _PostgresWriter(dsn, writers))
        store.committer.on_commit = store._signal.advance
        return store

    # -- appends -----------------------------------------------------------

    async def append(self, *writes: StreamWrite) -> AppendResult:
        if self._closed:
            raise StoreClosed("the event store is closed")
        return await self.committer.submit(writes)

    # -- reads -------------------------------------------------------------

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        if self._closed:
            raise StoreClosed("the event store is closed")
        try:
            rows: list[asyncpg.Record] = await self._pool.fetch(sql, *args)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if self._closing:
                raise StoreClosed("the event store closed during the read") from exc
            raise StoreUnavailable(f"reading the PostgreSQL store failed: {exc}") from exc
        return rows

    async def read_stream(
        self, stream: str, *, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 AND version >= $2 "
            "ORDER BY version LIMIT $3",
            stream,
            from_version,
            limit,
        )
        return [_record(r) for r in rows]

    async def stream_version(self, stream: str) -> int:
        rows = await self._fetch("SELECT max(version) FROM events WHERE stream = $1", stream)
        return int(rows[0][0] or 0)

    async def read_all(self, *, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self._fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        return [_record(r) for r in rows]

    async def read_chain(self, *, after: int = 0, limit: int = 1000) -> list[ChainRow]:
        # uuid_send gives the id's 16 bytes; extract(epoch) is an exact numeric
        # since PostgreSQL 14, so the product is the stored microseconds exactly.
        return list(
            await self._fetch(
                "SELECT position, uuid_send(id), stream, version, type, schema_version, "
                "(extract(epoch FROM recorded_at) * 1000000)::bigint, data, metadata, "
                "prev_hash, hash FROM events WHERE position > $1 ORDER BY position LIMIT $2",
                after,
                limit,
            )
        )

    async def head(self) -> int:
        rows = await self._fetch("SELECT max(position) FROM events")
        return int(rows[0][0] or 0)

    async def wait_for_new(self, after: int, timeout: float) -> None:
        await self._ensure_listener()
        await self._signal.wait_past(after, timeout)

    async def _ensure_listener(self) -> None:
        # Several followers may wait at once: the lock makes them share one
        # listening connection instead of each opening (and leaking) their own.
        async with self._listener_lock:
            if self._listener is not None and not self._listener.is_closed():
                return
            listener = await asyncpg.connect(self.dsn)
            await listener.add_listener(CHANNEL, self._on_notification)
            self._listener = listener

    def _on_notification(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._signal.advance(int(payload))

    async def _execute(self, sql: str, *args: Any) -> None:
        if self._closed:
            raise StoreClosed("the event store is closed")
        try:
            await self._pool.execute(sql, *args)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailable(f"writing the PostgreSQL store failed: {exc}") from exc

    async def load_checkpoint(self, name: str) -> int:
        rows = await self._fetch(
            "SELECT position FROM projection_checkpoints WHERE name = $1", name
        )
        return int(rows[0][0]) if rows else 0

    async def save_checkpoint(self, name: str, position: int) -> None:
        await self._execute(
            "INSERT INTO projection_checkpoints (name, position, updated_at) "
            "VALUES ($1, $2, now()) ON CONFLICT (name) DO UPDATE SET "
            "position = excluded.position, updated_at = now()",
            name,
            position,
        )

    async def load_snapshot(self, name: str) -> Snapshot | None:
        rows = await self._fetch(
            "SELECT version, position, state FROM projection_snapshots WHERE name = $1", name
        )
        if not rows:
            return None
        version, position, state = rows[0]
        return Snapshot(name=name, version=version, position=position, state=state)

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        await self._execute(
            "INSERT INTO projection_snapshots (name, version, position, state, taken_at) "
            "VALUES ($1, $2, $3, $4, now()) ON CONFLICT (name) DO UPDATE SET "
            "version = excluded.version, position = excluded.position, state = excluded.state, "
            "taken_at = now()",
            snapshot.name,
            snapshot.version,
            snapshot.position,
            snapshot.state,
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closing = True
        await self.committer.drain()
        self._closed = True
        if self._listener is not None:
            await self._listener.close()
        for conn in self.committer.conns:
            await conn.close()
        await self._pool.close()


class _PostgresWriter(GroupCommitter):
    """Plans each batch in Python and writes it with one ``cairn_append`` call.

    Planning (expected-version checks, numbering, the hash chain) needs the
    log's head and the batch's stream versions. Reading them first would cost a
    transaction of several round trips; instead the writer remembers what it
    last wrote and plans on that, and ``cairn_append`` checks the assumption
    under the writer lock. When another process wrote first, the batch is
    planned again the pessimistic way: lock, read, plan, append, in one
    transaction. An append rejected for its expected version is rejected only
    once the database confirmed the versions it was judged on.
    """

    def __init__(self, dsn: str, conns: list[asyncpg.Connection]) -> None:
        super().__init__(lanes=len(conns))
        self._dsn = dsn
        self.conns = conns
        self.on_commit: Callable[[int], None] | None = None
        self._known = _KnownState()
        self._clock = _DatabaseClock()

    async def write_batch(self, lane: int, pending: list[PendingAppend]) -> BatchOutcome:
        conn = self.conns[lane]
        if conn.is_closed():
            # The previous batch lost its connection; its callers were told so.
            conn = self.conns[lane] = await asyncpg.connect(self._dsn)
            await _setup_connection(conn)
        streams = sorted({w.stream for p in pending for w in p.writes})
        recorded_at = self._clock.propose()
        assumed = self._known.assume(streams, pending)
        plan = self._plan(pending, assumed, recorded_at)
        try:
            row = await conn.fetchrow(_APPEND, *_arguments(assumed, streams, plan, recorded_at))
            self._clock.learned(row["db_time"], row["head_time"])
            if row["applied"]:
                self._clock.wrote(recorded_at)
            else:
                # Another process (or our other lane) wrote first, or our time
                # was off: lock, read the truth and the time, and plan again
                # inside one transaction.
                self._known.learned(
                    row["head_position"], row["head_hash"], streams, row["versions"]
                )
                plan = await self._write_locked(conn, pending, streams)
        except BaseException as exc:
            self._known.forget()
            if (
                isinstance(exc, asyncpg.UniqueViolationError)
                and exc.constraint_name == "events_id_key"
            ):
                raise DuplicateEventId(exc.detail or str(exc)) from exc
            raise
        if plan.rows and self.on_commit is not None:
            self.on_commit(plan.head_position)
        return plan

    def _plan(self, pending: list[PendingAppend], assumed: _Assumption, at: datetime) -> Plan:
        plan = plan_batch(
            pending,
            head_position=assumed.head_position,
            head_hash=assumed.head_hash,
            versions=assumed.versions,
            recorded_at=at,
        )
        self._known.planned(plan)
        return plan

    async def _write_locked(
        self,
        conn: asyncpg.Connection,
        pending: list[PendingAppend],
        streams: list[str],
    ) -> Plan:
        async with conn.transaction():
            head = await conn.fetchrow("SELECT * FROM cairn_locked_head($1)", streams)
            assumed = _Assumption(
                head["head_position"],
                head["head_hash"],
                dict(zip(streams, head["versions"], strict=True)),
            )
            # Under the lock, the database's own time (never before the head's).
            at = max(t for t in (head["db_time"], head["head_time"]) if t is not None)
            plan = self._plan(pending, assumed, at)
            row = await conn.fetchrow(_APPEND, *_arguments(assumed, streams, plan, at))
            if not row["applied"]:
                raise StoreUnavailable("the log moved while the writer lock was held")
        self._clock.learned(row["db_time"], row["head_time"])
        self._clock.wrote(at)
        return plan


_APPEND = "SELECT * FROM cairn_append(" + ", ".join(f"${i}" for i in range(1, 17)) + ")"


class _DatabaseClock:
    """The database's clock as this writer sees it: the offset from its own,
    learned from every append's answer, and the newest time on the log."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.newest: datetime | None = None

    def propose(self) -> datetime:
        at = now_micros() + self.offset
        return at if self.newest is None or at >= self.newest else self.newest

    def learned(self, db_time: datetime | None, head_time: datetime | None) -> None:
        if db_time is not None:
            self.offset = db_time - now_micros()
        if head_time is not None and (self.newest is None or head_time > self.newest):
            self.newest = head_time

    def wrote(self, at: datetime) -> None:
        if self.newest is None or at > self.newest:
            self.newest = at


@dataclass(slots=True)
class _Assumption:
    head_position: int
    head_hash: bytes
    versions: dict[str, int]


class _KnownState:
    """What this process believes the log's head and its streams' versions are.

    Updated as batches are planned (so a second lane plans on top of the first)
    and corrected whenever ``cairn_append`` reports the truth. Stream versions
    are a bounded cache: an unknown stream is assumed to be where its first
    exact expectation says (or new), which the database then confirms.
    """

    CACHE_LIMIT = 100_000

    def __init__(self) -> None:
        self.head: tuple[int, bytes] | None = None
        self.versions: dict[str, int] = {}

    def assume(self, streams: list[str], pending: list[PendingAppend]) -> _Assumption:
        versions: dict[str, int] = {}
        for stream in streams:
            known = self.versions.get(stream)
            if known is None:
                known = next(
                    (
                        w.expected_version
                        for p in pending
                        for w in p.writes
                        if w.stream == stream and w.expected_version != ANY_VERSION
                    ),
                    0,
                )
            versions[stream] = known
        # An unknown head makes the first call fail and return the real one.
        position, digest = self.head if self.head is not None else (-1, GENESIS_HASH)
        return _Assumption(position, digest, versions)

    def planned(self, plan: Plan) -> None:
        self.head = (plan.head_position, plan.head_hash)
        if len(self.versions) > self.CACHE_LIMIT:
            self.versions.clear()
        self.versions.update(plan.versions)

    def learned(
        self, position: int, digest: bytes, streams: list[str], versions: list[int]
    ) -> None:
        self.head = (position, digest)
        self.versions.update(zip(streams, versions, strict=True))

    def forget(self) -> None:
        self.head = None
        self.versions.clear()


def _arguments(
    assumed: _Assumption, streams: list[str], plan: Plan, at: datetime | None = None
) -> list[Any]:
    rows = plan.rows
    if at is None:
        at = rows[0].recorded_at if rows else now_micros()
    return [
        assumed.head_position,
        assumed.head_hash,
        streams,
        [assumed.versions[s] for s in streams],
        [r.id for r in rows],
        [r.stream for r in rows],
        [r.version for r in rows],
        [r.position for r in rows],
        [r.type for r in rows],
        [r.schema_version for r in rows],
        at,
        [r.data for r in rows],
        [r.raw_metadata for r in rows],
        [r.prev_hash for r in rows],
        [r.hash for r in rows],
        MAX_SKEW,
    ]
