"""Open the event store a URL names: ``sqlite:///path`` or ``postgresql://...``.

This is the one place that picks an adapter; the composition root calls it.
"""

from __future__ import annotations

from pathlib import Path

from cairn.store.port import EventStore


async def open_store(url: str) -> EventStore:
    """Open (and migrate) the store at ``url``.

    ``sqlite:///relative/path`` and ``sqlite:////absolute/path`` name a SQLite
    file; ``postgresql://user@host:port/db`` (or ``postgres://``) a PostgreSQL
    database, which must exist.
    """
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        from cairn.store.sqlite import SQLiteEventStore

        return await SQLiteEventStore.open(Path(url.split(":///", 1)[1]))
    if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
        from cairn.store.postgres import PostgresEventStore

        return await PostgresEventStore.open(url)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH or postgresql://HOST/DB")
