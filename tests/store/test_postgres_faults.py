"""The PostgreSQL store when its connections are killed under it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from cairn.events import NewEvent
from cairn.events.chain import first_broken_link
from cairn.store import StoreUnavailable, StreamWrite
from cairn.store.postgres import PostgresEventStore


def _write(stream: str) -> StreamWrite:
    return StreamWrite(stream, [NewEvent(type="Thing", data=b"{}")])


async def _kill_connections(dsn: str) -> int:
    database = dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        killed: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()
    return killed


async def test_appends_and_reads_recover_after_the_server_drops_every_connection(
    pg_database: str,
) -> None:
    store = await PostgresEventStore.open(pg_database)
    try:
        for i in range(5):
            await store.append(_write(f"before-{i}"))
        assert await _kill_connections(pg_database) >= 2

        outcomes = []
        for i in range(6):
            try:
                await store.append(_write(f"after-{i}"))
                outcomes.append("ok")
            except StoreUnavailable:
                outcomes.append("unavailable")
            await asyncio.sleep(0.05)
        # A lane whose connection died fails its one batch, then reconnects.
        assert outcomes.count("unavailable") <= 2, outcomes
        assert outcomes[-3:] == ["ok", "ok", "ok"]

        log = await store.read_all(limit=100)
        assert first_broken_link(log) is None
        stored = {e.stream for e in log}
        ok_streams = {f"after-{i}" for i, o in enumerate(outcomes) if o == "ok"}
        assert ok_streams <= stored
        assert [e.position for e in log] == list(range(1, len(log) + 1))
    finally:
        await store.close()


async def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailable, match="cannot connect to PostgreSQL"):
        await PostgresEventStore.open("postgresql://postgres@127.0.0.1:1/nowhere")


async def test_concurrent_followers_share_one_listening_connection(pg_database: str) -> None:
    store = await PostgresEventStore.open(pg_database)
    try:
        waits = [asyncio.create_task(store.wait_for_new(0, timeout=2.0)) for _ in range(8)]
        await asyncio.sleep(0.3)  # every follower is waiting now
        await store.append(_write("wake-1"))
        await asyncio.wait_for(asyncio.gather(*waits), timeout=5)
        database = pg_database.rsplit("/", 1)[1]
        admin = await asyncpg.connect(pg_database)
        try:
            listening = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
                database,
            )
        finally:
            await admin.close()
        assert listening == 1
    finally:
        await store.close()
