"""The embedded event store: one SQLite file in WAL mode.

One writer thread owns the write connection, and every batch the group
committer hands it is one ``BEGIN IMMEDIATE`` transaction, so SQLite's single
writer lock gives commit order = rowid order = position order for free. Reads
run on their own connections in a small thread pool (WAL lets them proceed
while a write commits). ``synchronous=FULL``: an acknowledged append survives a
power cut, not only a process crash.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cairn.events import GENESIS_HASH, RecordedEvent
from cairn.store.groupcommit import GroupCommitter, PendingAppend, Plan, now_micros, plan_batch
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
from cairn.store.schema import EVENT_COLUMNS, migrate
from cairn.store.wakeup import HeadSignal

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICRO


def _uuid(raw: bytes) -> uuid.UUID:
    """``uuid.UUID(bytes=raw)`` at a third of the cost: replay builds one per event."""
    value = _new_uuid(uuid.UUID)
    _set(value, "int", int.from_bytes(raw, "big"))
    _set(value, "is_safe", _UNKNOWN_SAFETY)
    return value


_new_uuid = object.__new__
_set = object.__setattr__
# An enum member's attribute lookup costs as much as the rest of _uuid.
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def _row_to_event(row: Sequence[Any]) -> RecordedEvent:
    return RecordedEvent(
        _uuid(row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        _EPOCH + timedelta(microseconds=row[6]),
        row[7],
        row[8],
        row[9],
        row[10],
    )


def _rows_to_events(rows: Sequence[Sequence[Any]]) -> list[RecordedEvent]:
    """Like ``_row_to_event`` for each row, but the events of one batch share
    one ``recorded_at`` (it is taken per batch): one datetime for each run of
    equal times instead of one per event (replay reads millions of rows)."""
    events: list[RecordedEvent] = []
    append, new_uuid, event = events.append, _uuid, RecordedEvent
    micros, moment = None, _EPOCH
    for row in rows:
        if row[6] != micros:
            micros = row[6]
            moment = _EPOCH + timedelta(microseconds=micros)
        append(
            event(new_uuid(row[0]), row[1], row[2], row[3], row[4], row[5], moment, row[7],
                  row[8], row[9], row[10])
        )  # fmt: skip
    return events


def _connect(path: Path, *, writer: bool = False) -> sqlite3.Connection:
    # The busy timeout first: even a PRAGMA may have to wait for another writer.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    if writer:
        # WAL is a property of the file; only the writer needs to ask for it.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    return conn


class SQLiteEventStore(EventStore):
    """Event store on one SQLite file. Open it with :meth:`open`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.committer = _SQLiteWriter(path)
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cairn-sqlite-read")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._signal = HeadSignal()
        self._closed = False

    @classmethod
    async def open(cls, path: Path | str) -> SQLiteEventStore:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        await migrate(f"sqlite:///{path}")
        store = cls(path)
        store.committer.on_commit = store._signal.advance
        return store

    def url(self) -> str:
        return f"sqlite:///{self.path}"

    # -- appends -----------------------------------------------------------

    async def append(self, *writes: StreamWrite) -> AppendResult:
        if self._closed:
            raise StoreClosed("the event store is closed")
        return await self.committer.submit(writes)

    # -- reads -------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
            self._reader_conns.append(conn)
        return conn

    async def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self._closed:
            raise StoreClosed("the event store is closed")

        def run() -> list[Any]:
            try:
                return self._reader().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"reading the SQLite store failed: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    async def read_stream(
        self, stream: str, *, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        rows = await self._query(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE stream = ? AND version >= ? "
            "ORDER BY version LIMIT ?",
            (stream, from_version, -1 if limit is None else limit),
        )
        return [_row_to_event(r) for r in rows]

    async def stream_version(self, stream: str) -> int:
        rows = await self._query("SELECT max(version) FROM events WHERE stream = ?", (stream,))
        return int(rows[0][0] or 0)

    async def read_all(self, *, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        rows = await self._query(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        return _rows_to_events(rows)

    async def read_chain(self, *, after: int = 0, limit: int = 1000) -> list[ChainRow]:
        # recorded_at is stored as microseconds and the id as its 16 bytes:
        # the raw columns are already what the chain hashes.
        return await self._query(
            "SELECT position, id, stream, version, type, schema_version, recorded_at, data, "
            "metadata, prev_hash, hash FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )

    async def head(self) -> int:
        rows = await self._query("SELECT max(position) FROM events", ())
        return int(rows[0][0] or 0)

    async def wait_for_new(self, after: int, timeout: float) -> None:
        # Appends from this process notify at once; another process's appends
        # (an audit tool, a second API process) are found by the timeout poll.
        await self._signal.wait_past(after, timeout)

    async def load_checkpoint(self, name: str) -> int:
        rows = await self._query(
            "SELECT position FROM projection_checkpoints WHERE name = ?", (name,)
        )
        return int(rows[0][0]) if rows else 0

    async def save_checkpoint(self, name: str, position: int) -> None:
        await self.committer.execute(
            "INSERT INTO projection_checkpoints (name, position, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
            "updated_at = excluded.updated_at",
            (name, position, _micros(now_micros())),
        )

    async def load_snapshot(self, name: str) -> Snapshot | None:
        rows = await self._query(
            "SELECT version, position, state FROM projection_snapshots WHERE name = ?", (name,)
        )
        if not rows:
            return None
        version, position, state = rows[0]
        return Snapshot(name=name, version=version, position=position, state=state)

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        await self.committer.execute(
            "INSERT INTO projection_snapshots (name, version, position, state, taken_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version, "
            "position = excluded.position, state = excluded.state, taken_at = excluded.taken_at",
            (
                snapshot.name,
                snapshot.version,
                snapshot.position,
                snapshot.state,
                _micros(now_micros()),
            ),
        )

    async def close(self) -> None:
        if self._closed:
            return
        await self.committer.drain()
        self._closed = True  # no new read starts from here on
        self.committer.close()
        # Reads already running (a cancelled caller's included: its thread goes
        # on) must finish before their connections close: closing a connection
        # that another thread is stepping crashes the interpreter.
        await asyncio.to_thread(self._readers.shutdown, wait=True)
        for conn in self._reader_conns:
            conn.close()


def plan_and_insert(conn: sqlite3.Connection, pending: list[PendingAppend]) -> Plan:
    """Inside a write transaction: read the head and the batch's stream
    versions, plan the batch on them, and insert its rows."""
    head = conn.execute(
        "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1"
    ).fetchone()
    versions = {
        stream: conn.execute(
            "SELECT coalesce(max(version), 0) FROM events WHERE stream = ?", (stream,)
        ).fetchone()[0]
        for stream in sorted({w.stream for p in pending for w in p.writes})
    }
    plan = plan_batch(
        pending,
        head_position=head[0] if head else 0,
        head_hash=head[1] if head else GENESIS_HASH,
        versions=versions,
        # A clock stepped back (NTP, another process's clock) must not make a
        # later position older: never before the head's time.
        recorded_at=max(now_micros(), _EPOCH + head[2] * _MICRO) if head else now_micros(),
    )
    conn.executemany(
        f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                r.id.bytes,
                r.stream,
                r.version,
                r.position,
                r.type,
                r.schema_version,
                _micros(r.recorded_at),
                r.data,
                r.raw_metadata,
                r.prev_hash,
                r.hash,
            )
            for r in plan.rows
        ],
    )
    return plan


class _SQLiteWriter(GroupCommitter):
    """The one writer: a dedicated thread that owns the write connection."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-sqlite-write")
        self._conn: sqlite3.Connection | None = None
        self.on_commit: Callable[[int], None] | None = None

    async def write_batch(self, lane: int, pending: list[PendingAppend]) -> Plan:
        loop = asyncio.get_running_loop()
        plan = await loop.run_in_executor(self._thread, self._write, pending)
        if plan.rows and self.on_commit is not None:
            self.on_commit(plan.head_position)
        return plan

    def _write(self, pending: list[PendingAppend]) -> Plan:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            plan = plan_and_insert(conn, pending)
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError) and "events.id" in str(exc):
                raise DuplicateEventId(str(exc)) from exc
            raise
        return plan

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = _connect(self._path, writer=True)
        return self._conn

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        """Run one write statement on the writer thread, in its own transaction."""

        def run() -> None:
            try:
                self._connection().execute(sql, params)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"writing the SQLite store failed: {exc}") from exc

        await asyncio.get_running_loop().run_in_executor(self._thread, run)

    def close(self) -> None:
        def close_conn() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._thread.submit(close_conn).result()
        self._thread.shutdown(wait=True)
