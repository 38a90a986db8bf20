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

from cairn.events.envelope import RecordedEvent, encode_metadata

GENESIS_HASH: Final = bytes(32)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_u64 = struct.Struct(">Q")
_u32 = struct.Struct(">I")


def _field(value: bytes) -> bytes:
    return _u32.pack(len(value)) + value


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
    micros = (recorded_at - _EPOCH) // _MICROSECOND
    h = hashlib.sha256(prev_hash)
    h.update(id.bytes)
    h.update(_field(stream.encode()))
    h.update(_u64.pack(version))
    h.update(_u64.pack(position))
    h.update(_field(type.encode()))
    h.update(_u32.pack(schema_version))
    h.update(_u64.pack(micros))
    h.update(_field(data))
    h.update(_field(metadata))
    return h.digest()


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
            metadata=encode_metadata(event.metadata),
        )
        if event.prev_hash != prev_hash or event.hash != expected:
            return event.position
        prev_hash = event.hash
    return None
