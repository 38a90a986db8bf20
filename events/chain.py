"""The hash chain that makes the log tamper-evident.

Each event's hash is SHA-256 over its predecessor's hash and every field of the
event, each field length-prefixed so that no two different events can encode to
the same bytes. Both stores and the audit tool use this one function, so a chain
written by either store verifies the same way.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from cairn.events.envelope import RecordedEvent

GENESIS_HASH: Final = bytes(32)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_u32 = struct.Struct(">I")
_u64x2 = struct.Struct(">QQ")
_u32u64 = struct.Struct(">IQ")


def event_hash(
    prev_hash: bytes,
    *,
    id: uuid.UUID,
    stream: str,
    version: int,
    position: int,
    type: str,
    schema_version: int,
    recorded_at: datetime,
    data: bytes,
    metadata: bytes,
) -> bytes:
    """Return the chain hash of one event given the hash of the one before it.

    ``recorded_at`` is hashed as whole microseconds since the epoch, the precision
    both stores keep; ``metadata`` is the encoded metadata exactly as stored.
    """
    return chain_hash(
        prev_hash,
        id.bytes,
        stream.encode(),
        version,
        position,
        type.encode(),
        schema_version,
        to_micros(recorded_at),
        data,
        metadata,
    )


def to_micros(moment: datetime) -> int:
    """Whole microseconds since the Unix epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def chain_hash(
    prev_hash: bytes,
    id_bytes: bytes,
    stream: bytes,
    version: int,
    position: int,
    type: bytes,
    schema_version: int,
    micros: int,
    data: bytes,
    metadata: bytes,
) -> bytes:
    """:func:`event_hash` on already-encoded fields: the form the hot path uses.

    The layout, which ``cairn_append``'s callers and the audit tool share:
    prev_hash, id (16 bytes), len+stream, version, position (u64 each),
    len+type, schema_version (u32), micros (u64), len+data, len+metadata;
    every length a big-endian u32.
    """
    return hashlib.sha256(
        b"".join(
            (
                prev_hash,
                id_bytes,
                _u32.pack(len(stream)),
                stream,
                _u64x2.pack(version, position),
                _u32.pack(len(type)),
                type,
                _u32u64.pack(schema_version, micros),
                _u32.pack(len(data)),
                data,
                _u32.pack(len(metadata)),
                metadata,
            )
        )
    ).digest()


def first_broken_link(
    events: Iterable[RecordedEvent], prev_hash: bytes = GENESIS_HASH
) -> int | None:
    """Recompute the chain over ``events`` (in position order, starting right after
    the event whose hash is ``prev_hash``); return the position of the first event
    whose stored link or hash does not match, or None when the chain holds."""
    for event in events:
        expected = event_hash(
            prev_hash,
            id=event.id,
            stream=event.stream,
            version=event.version,
            position=event.position,
            type=event.type,
            schema_version=event.schema_version,
            recorded_at=event.recorded_at,
            data=event.data,
            metadata=event.raw_metadata,
        )
        if event.prev_hash != prev_hash or event.hash != expected:
            return event.position
        prev_hash = event.hash
    return None
