"""The log as raw rows, for the audit's chain verification.

Verifying the hash chain needs every stored field as bytes, not typed events:
building a :class:`~cairn.events.RecordedEvent` (a UUID, a datetime) per row
would cost more than hashing it. :func:`read_chain_rows` asks each adapter for
exactly what :func:`cairn.events.chain.chain_hash` takes. It lives here, beside
the adapters, because it reads through their connections; any other store falls
back to :meth:`EventStore.read_all`.

A row is ``(position, id_bytes, stream, version, type, schema_version, micros,
data, metadata, prev_hash, hash)``: text columns stay ``str``, ``micros`` is
``recorded_at`` in whole microseconds since the Unix epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cairn.events.chain import to_micros
from cairn.store.port import EventStore

ChainRow = Sequence[Any]

_SQLITE = (
    "SELECT position, id, stream, version, type, schema_version, recorded_at, data, "
    "metadata, prev_hash, hash FROM events WHERE position > ? ORDER BY position LIMIT ?"
)
# uuid_send gives the 16 bytes; extract(epoch) is an exact numeric since
# PostgreSQL 14, so the product is the stored microseconds exactly.
_POSTGRES = (
    "SELECT position, uuid_send(id), stream, version, type, schema_version, "
    "(extract(epoch FROM recorded_at) * 1000000)::bigint, data, metadata, prev_hash, hash "
    "FROM events WHERE position > $1 ORDER BY position LIMIT $2"
)


async def read_chain_rows(store: EventStore, *, after: int, limit: int) -> list[ChainRow]:
    """Up to ``limit`` raw rows with position greater than ``after``, in order."""
    from cairn.store.postgres import PostgresEventStore
    from cairn.store.sqlite import SQLiteEventStore

    if isinstance(store, SQLiteEventStore):
        return await store._query(_SQLITE, (after, limit))
    if isinstance(store, PostgresEventStore):
        return list(await store._fetch(_POSTGRES, after, limit))
    events = await store.read_all(after=after, limit=limit)
    return [
        (
            e.position,
            e.id.bytes,
            e.stream,
            e.version,
            e.type,
            e.schema_version,
            to_micros(e.recorded_at),
            e.data,
            e.raw_metadata,
            e.prev_hash,
            e.hash,
        )
        for e in events
    ]
