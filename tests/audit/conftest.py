"""Stores of both kinds, a known sequence of events, and raw SQL to tamper with them.

Every audit test runs on SQLite and on PostgreSQL: ``store`` is parametrized,
and ``tamper`` edits the very rows the store wrote, bypassing Cairn entirely,
as an intruder with database access would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cairn.events import DomainEvent, Metadata, registry
from cairn.store import EventStore, StreamWrite
from cairn.store.postgres import PostgresEventStore
from cairn.store.sqlite import SQLiteEventStore
from tests.conftest import fresh_pg_database


@registry.event
class AuditThingCreated(DomainEvent):
    name: str


@registry.event
class AuditThingRenamed(DomainEvent):
    name: str


@registry.event
class AuditThingDeleted(DomainEvent):
    pass


@registry.event
class AuditRequestDenied(DomainEvent):
    """The shape of a rejected request's audit event: who tried what, refused."""

    action: str
    target: str


THING_A = "0b9e6a52-4d3c-4c4e-9b1a-7d2f0c1e5a10"
THING_B = "5c1d2e3f-1111-4222-8333-944455556666"
ALICE, BOB = "alice-id", "bob-id"


def by(user: str, project: str = "p1", request: str = "req") -> Metadata:
    return Metadata(request_id=request, user_id=user, project_id=project)


@dataclass
class Handle:
    """A store under test, and raw SQL on its database."""

    kind: str
    store: EventStore
    url: str

    async def sql(self, statement: str, *params: Any) -> None:
        """Run SQL directly on the database (``?`` placeholders on both engines)."""
        if self.kind == "sqlite":
            path = self.url.split(":///", 1)[1]
            conn = sqlite3.connect(path, isolation_level=None, timeout=10)
            try:
                conn.execute(statement, params)
            finally:
                conn.close()
            return
        numbered = statement
        for i in range(1, statement.count("?") + 1):
            numbered = numbered.replace("?", f"${i}", 1)
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(numbered, *params)
        finally:
            await conn.close()

    async def reopen(self) -> EventStore:
        """A fresh store on the same database (as a separate audit process would open)."""
        await self.store.close()
        if self.kind == "sqlite":
            self.store = await SQLiteEventStore.open(Path(self.url.split(":///", 1)[1]))
        else:
            self.store = await PostgresEventStore.open(self.url)
        return self.store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def handle(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Handle]:
    if request.param == "sqlite":
        path = tmp_path / "cairn.sqlite"
        h = Handle("sqlite", await SQLiteEventStore.open(path), f"sqlite:///{path}")
        try:
            yield h
        finally:
            await h.store.close()
        return
    async with fresh_pg_database() as dsn:
        h = Handle("postgresql", await PostgresEventStore.open(dsn), dsn)
        try:
            yield h
        finally:
            await h.store.close()


async def append_sequence(store: EventStore) -> dict[str, int]:
    """The known story every query test reads; returns the position after each step.

    1 thing-A created by alice (p1)       2 quota-A reserved with it, same append
    3 thing-B created by bob (p2)         4 thing-A renamed by bob
    5 bob denied deleting thing-A         6 thing-A deleted by alice
    """
    steps: dict[str, int] = {}
    new = registry.new
    r = await store.append(
        StreamWrite(f"thing-{THING_A}", [new(AuditThingCreated(name="a"), by(ALICE))], 0),
        StreamWrite(f"quota-{THING_A}", [new(AuditThingCreated(name="quota"), by(ALICE))], 0),
    )
    steps["a_created"] = r.position
    r = await store.append(
        StreamWrite(f"thing-{THING_B}", [new(AuditThingCreated(name="b"), by(BOB, "p2"))], 0)
    )
    steps["b_created"] = r.position
    r = await store.append(
        StreamWrite(f"thing-{THING_A}", [new(AuditThingRenamed(name="a2"), by(BOB))], 1)
    )
    steps["a_renamed"] = r.position
    denied = AuditRequestDenied(action="thing:delete", target=THING_A)
    r = await store.append(StreamWrite("audit-req9", [new(denied, by(BOB, request="req9"))]))
    steps["denied"] = r.position
    r = await store.append(
        StreamWrite(f"thing-{THING_A}", [new(AuditThingDeleted(), by(ALICE))], 2)
    )
    steps["a_deleted"] = r.position
    return steps


async def append_many(store: EventStore, count: int, *, per_append: int = 50) -> None:
    """``count`` events over a few streams, in appends of ``per_append``."""
    done = 0
    while done < count:
        n = min(per_append, count - done)
        events = [registry.new(AuditThingRenamed(name=f"n{done + i}"), by(ALICE)) for i in range(n)]
        await store.append(StreamWrite(f"thing-bulk{done // per_append % 7}", events))
        done += n
