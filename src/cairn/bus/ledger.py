"""The idempotent consumer's memory: which events each consumer has handled.

One local SQLite file (stdlib ``sqlite3``) per agent, so agents never touch the
central database. One thread owns the connection; every call is one
``BEGIN IMMEDIATE ... COMMIT`` transaction run on that thread, never on the
event loop. ``synchronous=FULL`` by default: a commit the consumer acks after
survives a power cut, otherwise an acked event could be lost with its effect.

The ledger is also where an agent may keep its own local state: whatever
:meth:`Ledger.transaction` or an ``apply`` function writes commits atomically
with the record that the event was handled, which is what makes
"applied exactly once" hold across crashes (see :mod:`cairn.bus.idempotent`).
"""

from __future__ import annotations

import asyncio
import enum
import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar

from cairn.bus.port import BusError
from cairn.events import RecordedEvent

T = TypeVar("T")
#: Applies one event to local state, inside the ledger's transaction.
Apply = Callable[[sqlite3.Connection, RecordedEvent], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cairn_handled_events (
    consumer   TEXT    NOT NULL,
    event_id   BLOB    NOT NULL,
    position   INTEGER NOT NULL,
    done       INTEGER NOT NULL,  -- 0: an attempt started and has not finished
    attempts   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,  -- microseconds since the epoch
    PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID
"""


class LedgerError(BusError):
    """The ledger's SQLite file failed (disk full, corrupt, locked too long)."""


class Status(enum.Enum):
    """Where an event stands for one consumer."""

    NEW = "new"  #: never attempted
    IN_DOUBT = "in-doubt"  #: an attempt started and did not finish: it may have acted
    DONE = "done"  #: handled


def _now() -> int:
    return time.time_ns() // 1000


class Ledger:
    """The handled-events record on one SQLite file. Open it with :meth:`open`."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.path = path
        self._synchronous = synchronous
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-ledger")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(
        cls, path: Path | str, *, synchronous: Literal["FULL", "NORMAL"] = "FULL"
    ) -> Ledger:
        """Open (creating if needed) the ledger at ``path``.

        ``synchronous="NORMAL"`` is faster but a power cut may lose the last
        commits while their acks reached the broker: effects would be lost, never
        doubled. Keep ``FULL`` unless effects are reconciled anyway.
        """
        ledger = cls(Path(path), synchronous)
        try:
            await ledger._run(ledger._setup)
        except (OSError, sqlite3.Error) as exc:
            ledger._thread.shutdown(wait=False)
            raise LedgerError(f"cannot open the ledger {path}: {exc}") from exc
        return ledger

    def _setup(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute(_SCHEMA)
        except BaseException:
            conn.close()  # a locked or unreadable file must not leak the connection
            raise
        self._conn = conn

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._closed:
            raise LedgerError(f"the ledger {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in one write transaction on the ledger's thread.

        If ``fn`` raises, everything it wrote is rolled back and its exception
        propagates (a ``sqlite3.Error`` as :class:`LedgerError`). A cancelled
        caller does not cancel the transaction: it commits or rolls back as a
        whole, on the ledger's thread.
        """

        def run() -> T:
            conn = self._conn
            assert conn is not None
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise LedgerError(f"a transaction on the ledger {self.path} failed: {exc}") from exc
            return result

        return await self._run(run)

    async def apply_once(self, consumer: str, event: RecordedEvent, apply: Apply) -> bool:
        """Run ``apply(connection, event)`` and record ``event`` as handled by
        ``consumer``, in one transaction, unless it is already recorded.

        Returns whether ``apply`` ran. Because the effect and the record commit
        together, a crash at any point leaves both or neither.
        """

        def run(conn: sqlite3.Connection) -> bool:
            if _done(conn, consumer, event.id):
                return False
            apply(conn, event)
            conn.execute(
                "INSERT INTO cairn_handled_events VALUES (?, ?, ?, 1, 1, ?) "
                "ON CONFLICT (consumer, event_id) DO UPDATE SET done = 1, "
                "attempts = attempts + 1, updated_at = excluded.updated_at",
                (consumer, event.id.bytes, event.position, _now()),
            )
            return True

        return await self.transaction(run)

    async def begin(self, consumer: str, event: RecordedEvent) -> Status:
        """Record that ``consumer`` starts acting on ``event``; say how it stood.

        :attr:`Status.DONE`: handled already, do nothing. :attr:`Status.NEW`:
        first attempt. :attr:`Status.IN_DOUBT`: an earlier attempt started and did
        not reach :meth:`finish`; it may have acted partly or fully.
        """

        def run(conn: sqlite3.Connection) -> Status:
            row = conn.execute(
                "SELECT done FROM cairn_handled_events WHERE consumer = ? AND event_id = ?",
                (consumer, event.id.bytes),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO cairn_handled_events VALUES (?, ?, ?, 0, 1, ?)",
                    (consumer, event.id.bytes, event.position, _now()),
                )
                return Status.NEW
            if row[0]:
                return Status.DONE
            conn.execute(
                "UPDATE cairn_handled_events SET attempts = attempts + 1, updated_at = ? "
                "WHERE consumer = ? AND event_id = ?",
                (_now(), consumer, event.id.bytes),
            )
            return Status.IN_DOUBT

        return await self.transaction(run)

    async def finish(self, consumer: str, event: RecordedEvent) -> None:
        """Record that ``consumer`` has finished acting on ``event``."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE cairn_handled_events SET done = 1, updated_at = ? "
                "WHERE consumer = ? AND event_id = ?",
                (_now(), consumer, event.id.bytes),
            )

        await self.transaction(run)

    async def status(self, consumer: str, event_id: uuid.UUID) -> Status:
        """Where event ``event_id`` stands for ``consumer``."""

        def run(conn: sqlite3.Connection) -> Status:
            row = conn.execute(
                "SELECT done FROM cairn_handled_events WHERE consumer = ? AND event_id = ?",
                (consumer, event_id.bytes),
            ).fetchone()
            if row is None:
                return Status.NEW
            return Status.DONE if row[0] else Status.IN_DOUBT

        return await self.transaction(run)

    async def close(self) -> None:
        """Close the file; calls already submitted finish first."""
        if self._closed:
            return

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(close)
        self._closed = True
        self._thread.shutdown(wait=True)

    async def __aenter__(self) -> Ledger:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _done(conn: sqlite3.Connection, consumer: str, event_id: uuid.UUID) -> bool:
    row = conn.execute(
        "SELECT done FROM cairn_handled_events WHERE consumer = ? AND event_id = ?",
        (consumer, event_id.bytes),
    ).fetchone()
    return bool(row and row[0])
