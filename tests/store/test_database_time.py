"""On PostgreSQL an event's time is the database's, not the writer's, and times
never go backwards along positions (src/cairn/store/postgres.py, migration 0002)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
import pytest

from cairn.events import NewEvent
from cairn.store import postgres, sqlite
from cairn.store.port import StreamWrite
from cairn.store.postgres import MAX_SKEW, PostgresEventStore
from cairn.store.sqlite import SQLiteEventStore


def _write(stream: str) -> StreamWrite:
    return StreamWrite(stream, [NewEvent(type="Thing", data=msgspec.json.encode({}))])


async def _database_now(dsn: str) -> datetime:
    conn = await asyncpg.connect(dsn)
    try:
        found: datetime = await conn.fetchval("SELECT clock_timestamp()")
        return found
    finally:
        await conn.close()


def _skewed(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    monkeypatch.setattr(postgres, "now_micros", lambda: datetime.now(UTC) + by)


async def test_a_writer_with_a_wrong_clock_records_the_databases_time(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for skew in (timedelta(hours=-1), timedelta(hours=1)):
        _skewed(monkeypatch, skew)
        store = await PostgresEventStore.open(pg_database)
        try:
            for n in range(3):
                await store.append(_write(f"thing-{skew.total_seconds()}-{n}"))
            events = await store.read_all(after=0, limit=100)
        finally:
            await store.close()
        now = await _database_now(pg_database)
        for event in events:
            assert abs((event.recorded_at - now).total_seconds()) < 5, (skew, event.recorded_at)


async def test_times_never_go_backwards_across_writers(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = await PostgresEventStore.open(pg_database)
    behind = await PostgresEventStore.open(pg_database)
    try:
        for n in range(10):
            # One writer's clock is a little ahead (within the allowed skew),
            # the other's behind it: their events alternate on the log.
            _skewed(monkeypatch, timedelta(seconds=MAX_SKEW * 0.8))
            await ahead.append(_write(f"a-{n}"))
            _skewed(monkeypatch, timedelta(seconds=-MAX_SKEW * 0.8))
            await behind.append(_write(f"b-{n}"))
        events = await ahead.read_all(after=0, limit=100)
    finally:
        await ahead.close()
        await behind.close()
    times = [e.recorded_at for e in events]
    assert len(times) == 20
    assert times == sorted(times)


async def test_sqlite_times_never_go_backwards_when_the_clock_steps_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await SQLiteEventStore.open(tmp_path / "store.sqlite")
    try:
        await store.append(_write("thing-1"))
        monkeypatch.setattr(sqlite, "now_micros", lambda: datetime.now(UTC) - timedelta(hours=1))
        await store.append(_write("thing-2"))
        first, second = await store.read_all(after=0, limit=10)
    finally:
        await store.close()
    assert second.recorded_at >= first.recorded_at
