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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import structlog

from cairn.events import RecordedEvent
from cairn.events.envelope import decode_metadata
from cairn.store.groupcommit import GroupCommitter, PendingAppend, Plan, now_micros, plan_batch
from cairn.store.port import (
    AppendResult,
    EventStore,
    Snapshot,
    StoreClosed,
    StoreUnavailable,
    StreamWrite,
)
from cairn.store.schema import migrate
from cairn.store.wakeup import HeadSignal

log = structlog.get_logger(__name__)

CHANNEL = "cairn_events"
_COLUMNS = (
    "position, id, stream, version, type, schema_version, recorded_at, data, metadata, "
    "prev_hash, hash"
)
# Column order of cairn.store.groupcommit.Row.
_INSERT = """
    INSERT INTO events (id, stream, version, position, type, schema_version, recorded_at, data,
                        metadata, prev_hash, hash)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                         $6::int[], $7::timestamptz[], $8::bytea[], $9::bytea[],
                         $10::bytea[], $11::bytea[])
"""


def _record(row: asyncpg.Record) -> RecordedEvent:
    return RecordedEvent(
        position=row[0],
        id=row[1],
        stream=row[2],
        version=row[3],
        type=row[4],
        schema_version=row[5],
        recorded_at=row[6],
        data=row[7],
        metadata=decode_metadata(row[8]),
        prev_hash=row[9],
        hash=row[10],
    )


def asyncpg_dsn(url: str) -> str:
    """asyncpg takes ``postgresql://``; accept SQLAlchemy's ``+asyncpg`` form too."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


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
        self._signal = HeadSignal()
        self._closed = False

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 4) -> PostgresEventStore:
        dsn = asyncpg_dsn(url)
        await migrate(dsn)
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=pool_size, setup=None, init=_setup_connection
            )
            writer = await asyncpg.connect(dsn)
            await _setup_connection(writer)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        store = cls(dsn, pool, _PostgresWriter(dsn, writer))
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
            raise StoreUnavailable(f"reading the PostgreSQL store failed: {exc}") from exc
        return rows

    async def read_stream(
        self, stream: str, *, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream = $1 AND version >= $2 "
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
            f"SELECT {_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
            after,
            limit,
        )
        return [_record(r) for r in rows]

    async def head(self) -> int:
        rows = await self._fetch("SELECT max(position) FROM events")
        return int(rows[0][0] or 0)

    async def wait_for_new(self, after: int, timeout: float) -> None:
        await self._ensure_listener()
        await self._signal.wait_past(after, timeout)

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self.dsn)
        await self._listener.add_listener(CHANNEL, self._on_notification)

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
        rows = await self._fetch("SELECT position FROM projection_checkpoints WHERE name = $1", name)
        return int(rows[0][0]) if rows else 0

    async def save_checkpoint(self, name: str, position: int) -> None:
        await self._execute(
            "INSERT INTO projection_checkpoints (name, position, updated_at) VALUES ($1, $2, now()) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = now()",
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
        await self.committer.drain()
        self._closed = True
        if self._listener is not None:
            await self._listener.close()
        await self.committer.conn.close()
        await self._pool.close()


class _PostgresWriter(GroupCommitter):
    """Writes each batch on one dedicated connection, in one transaction."""

    def __init__(self, dsn: str, conn: asyncpg.Connection) -> None:
        super().__init__()
        self._dsn = dsn
        self.conn = conn
        self.on_commit: Callable[[int], None] | None = None

    async def write_batch(self, pending: list[PendingAppend]) -> Plan:
        if self.conn.is_closed():
            # The previous batch lost its connection; its callers were told so.
            self.conn = await asyncpg.connect(self._dsn)
            await _setup_connection(self.conn)
        streams = sorted({w.stream for p in pending for w in p.writes})
        async with self.conn.transaction():
            heads = await self.conn.fetch("SELECT * FROM cairn_begin_append($1)", streams)
            plan = plan_batch(
                pending,
                head_position=heads[0]["head_position"],
                head_hash=heads[0]["head_hash"],
                versions={r["stream"]: r["version"] for r in heads},
                recorded_at=now_micros(),
            )
            if plan.rows:
                await self.conn.execute(_INSERT, *_columns(plan))
                await self.conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(plan.head_position))
        if plan.rows and self.on_commit is not None:
            self.on_commit(plan.head_position)
        return plan


def _columns(plan: Plan) -> Sequence[list[Any]]:
    return [list(column) for column in zip(*plan.rows, strict=True)]
