"""How an event travels over a broker: the whole envelope as msgpack.

The body is the :class:`~cairn.events.RecordedEvent` exactly as stored (id,
stream, version, position, payload bytes, metadata, hashes), so a consumer sees
what the log holds and can check the hash chain. AMQP properties repeat the id
(``message_id``), the type and the position for tools that do not decode bodies.
"""

from __future__ import annotations

from typing import Final

import msgspec

from cairn.bus.port import BusError
from cairn.events import RecordedEvent

CONTENT_TYPE: Final = "application/vnd.cairn.event+msgpack"

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(RecordedEvent)


class UndecodableMessage(BusError):
    """A message on the exchange is not an event Cairn published."""


def encode_event(event: RecordedEvent) -> bytes:
    return _encoder.encode(event)


def decode_event(body: bytes) -> RecordedEvent:
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise UndecodableMessage(f"not a Cairn event ({len(body)} bytes): {exc}") from exc
