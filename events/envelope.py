"""The envelope every event travels in, before and after it is stored.

A command handler builds :class:`NewEvent` values; the store assigns the stream
version, the global position, the recorded time and the hash chain, and gives
back :class:`RecordedEvent` values. Both are frozen: events are never edited.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime
from typing import Final

import msgspec

#: Expected version meaning "append whatever the stream's current version is".
ANY_VERSION: Final = -1
#: Expected version meaning "the stream must not exist yet".
NO_STREAM: Final = 0


class Metadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Who caused an event, and in answer to what.

    ``causation_id`` is the id of the event (or request) that directly caused this
    one; ``correlation_id`` ties every event of one user operation together.
    """

    request_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    causation_id: str | None = None
    correlation_id: str | None = None


EMPTY_METADATA: Final = Metadata()


def new_event_id() -> uuid.UUID:
    """A time-ordered UUID (version 7, RFC 9562): 48 bits of Unix milliseconds,
    then 74 random bits. Ordered ids keep the log's unique id index append-mostly
    (random UUIDv4s touch a random index page per insert). Ids must be unique,
    not secret, so the random bits come from ``random`` (seeded from the OS,
    reseeded in a forked child) rather than a system call per id."""
    value = (time.time_ns() // 1_000_000) << 80 | _random_bits(80)
    # version 7 in bits 76-79, variant 0b10 in bits 62-63
    value = (value & ~(0xF << 76) | 0x7 << 76) & ~(0x3 << 62) | 0x2 << 62
    made = _new_uuid(uuid.UUID)
    _set(made, "int", value)
    _set(made, "is_safe", uuid.SafeUUID.unknown)
    return made


# object.__new__ + __setattr__ is how uuid.UUID itself sets its two slots;
# skipping its argument parsing is most of the saving.
_random_bits = random.getrandbits
_new_uuid = object.__new__
_set = object.__setattr__
_metadata_encoder = msgspec.json.Encoder()
_metadata_decoder = msgspec.json.Decoder(Metadata)


def encode_metadata(metadata: Metadata) -> bytes:
    return _metadata_encoder.encode(metadata)


def decode_metadata(raw: bytes) -> Metadata:
    return _metadata_decoder.decode(raw)


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event about to be appended: its type, payload and metadata.

    ``data`` holds the payload already encoded (JSON bytes); use
    :meth:`cairn.events.registry.EventRegistry.new` to build one from a typed event.
    """

    type: str
    data: bytes
    metadata: Metadata = EMPTY_METADATA
    schema_version: int = 1
    id: uuid.UUID = msgspec.field(default_factory=new_event_id)


class RecordedEvent(msgspec.Struct, frozen=True):
    """An event as the log holds it.

    ``raw_metadata`` is the encoded :class:`Metadata` exactly as stored. The
    field order is the stores' column order, so a row builds an event
    positionally (the replay hot path).
    ``position`` is the event's place in the one global order (strictly increasing
    with commit order, never reused); ``version`` its place in its own stream,
    starting at 1. ``hash`` covers every field and ``prev_hash``, the hash of the
    event just before it in the global order, so any edit breaks the chain.
    """

    id: uuid.UUID
    stream: str
    version: int
    position: int
    type: str
    schema_version: int
    recorded_at: datetime
    data: bytes
    raw_metadata: bytes
    prev_hash: bytes
    hash: bytes

    @property
    def metadata(self) -> Metadata:
        """The decoded metadata. Decoded on use: most folds never look at it, and
        the hash chain covers the stored bytes, not a re-encoding."""
        return decode_metadata(self.raw_metadata)

    @property
    def category(self) -> str:
        return stream_category(self.stream)


def stream_name(category: str, ident: object) -> str:
    """``stream_name("server", uid)`` -> ``"server-<uid>"``."""
    if "-" in category:
        raise ValueError(f"a stream category may not contain '-': {category!r}")
    return f"{category}-{ident}"


def stream_category(stream: str) -> str:
    """The part of a stream name before the first ``-`` (``server-1`` -> ``server``)."""
    return stream.split("-", 1)[0]
