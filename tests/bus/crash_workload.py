"""The workload of the killed-consumer test, shared by the test and its child process.

The consumer applies each event to local state with :class:`IdempotentConsumer`.
The effect is deliberately *not* idempotent (one row per application, no unique
key), so an event applied twice shows up as two rows. A :class:`Trap` makes the
consumer hang at one event, either inside the ledger transaction (the effect is
written, not committed) or after the commit, in the ack: the two places where a
crash matters.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cairn.bus.idempotent import IdempotentConsumer
from cairn.bus.ledger import Ledger
from cairn.bus.port import Delivery, Handler
from cairn.events import RecordedEvent

CONSUMER = "crash-test"
EFFECTS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS effects ("
    "seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, position INTEGER NOT NULL)"
)


@dataclass(frozen=True)
class Trap:
    position: int
    where: Literal["apply", "ack"]


class Killed(Exception):
    """Stands in, in-process, for the process dying inside a transaction."""


def create_effects(conn: sqlite3.Connection) -> None:
    conn.execute(EFFECTS_SCHEMA)


def read_effects(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return conn.execute("SELECT event_id, position FROM effects ORDER BY seq").fetchall()


def record_effect(conn: sqlite3.Connection, event: RecordedEvent) -> None:
    conn.execute(
        "INSERT INTO effects (event_id, position) VALUES (?, ?)", (str(event.id), event.position)
    )


def trapped_handler(
    ledger: Ledger,
    trap: Trap | None,
    *,
    on_trapped: Callable[[], None],
    hang_in_thread: Callable[[], None],
) -> tuple[Handler, IdempotentConsumer]:
    """The handler, and the idempotent consumer inside it (for its counters).

    ``on_trapped`` is called when the trap springs (from the ledger's thread for
    an ``apply`` trap); ``hang_in_thread`` then blocks the ledger's thread.
    """

    def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
        record_effect(conn, event)
        if trap is not None and trap.where == "apply" and event.position == trap.position:
            on_trapped()
            hang_in_thread()

    consumer = IdempotentConsumer(ledger, CONSUMER, apply)

    async def handle(delivery: Delivery) -> None:
        if trap is not None and trap.where == "ack" and delivery.event.position == trap.position:
            delivery = _HangOnAck(delivery, on_trapped)
        await consumer(delivery)

    return handle, consumer


class _HangOnAck(Delivery):
    def __init__(self, inner: Delivery, on_trapped: Callable[[], None]) -> None:
        self.event = inner.event
        self.redelivered = inner.redelivered
        self._inner = inner
        self._on_trapped = on_trapped

    async def ack(self) -> None:
        self._on_trapped()
        await asyncio.sleep(3600)  # killed here: committed, never acked

    async def reject(self, *, requeue: bool = True) -> None:
        await self._inner.reject(requeue=requeue)
