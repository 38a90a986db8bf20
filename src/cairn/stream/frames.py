"""The bytes on the wire: WebSocket messages and Server-Sent Events.

Both transports carry the same event documents (:mod:`cairn.stream.item`):

* **WebSocket**: one text message per batch of events,
  ``{"type": "events", "position": P, "events": [...]}``, where ``P`` is the
  log position the subscriber has been served up to (events past the filter
  included), the one to resume from. Control messages:
  ``{"type": "subscribed", "position": P, "head": H}`` first,
  ``{"type": "heartbeat", "position": P}`` when nothing matched for a while,
  and ``{"type": "closing", "position": P, "reason": "..."}`` last.
* **SSE**: one ``message`` per event, its ``id`` the event's position (what
  the browser sends back as ``Last-Event-ID`` on reconnecting); control
  messages are the named events ``subscribed``, ``heartbeat`` and
  ``closing``, whose ``id`` is the position to resume from.

The hub writes a batch to many subscribers at once, so the frames here are
built from shared parts, and whole wire frames (a WebSocket header, an HTTP
chunk) are built here too: identical bytes go to every subscriber that
selected the same events.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import msgspec

from cairn.stream.item import Item

_encoder = msgspec.json.Encoder()

# -- WebSocket -------------------------------------------------------------------------

_TEXT = 0x81  # FIN + text opcode (RFC 6455, section 5.2); servers never mask


def ws_frame(payload: bytes) -> bytes:
    """A complete, unfragmented, unmasked text frame holding ``payload``."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", _TEXT, n) + payload
    if n < 65536:
        return struct.pack("!BBH", _TEXT, 126, n) + payload
    return struct.pack("!BBQ", _TEXT, 127, n) + payload


def ws_events(items: Sequence[Item], position: int) -> bytes:
    """The message for a batch of events, served up to ``position``."""
    return b'{"type":"events","position":%d,"events":[%b]}' % (
        position,
        b",".join([item.json for item in items]),
    )


def ws_control(kind: str, position: int, **extra: Any) -> bytes:
    return _encoder.encode({"type": kind, "position": position, **extra})


# -- Server-Sent Events ----------------------------------------------------------------


def sse_events(items: Sequence[Item]) -> bytes:
    return b"".join([b"id: %d\ndata: %b\n\n" % (item.position, item.json) for item in items])


def sse_control(kind: str, position: int, **extra: Any) -> bytes:
    body = _encoder.encode({"position": position, **extra})
    return b"event: %b\nid: %d\ndata: %b\n\n" % (kind.encode(), position, body)


def http_chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked HTTP/1.1 body (RFC 9112, section 7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)
