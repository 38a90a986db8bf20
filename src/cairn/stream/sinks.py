"""Sinks: a prepared aiohttp response's transport, written to without awaiting.

aiohttp's writers (``WebSocketResponse.send_str``, ``StreamResponse.write``)
are coroutines that frame each message per call. The hub instead writes
ready-made frames (:mod:`cairn.stream.frames`) to each subscriber's transport
from one loop, so no task has to be woken per subscriber and the bytes are
shared. That is safe because:

* a WebSocket response is prepared with ``compress=False`` and the server never
  masks, so a frame is the same bytes for every connection; aiohttp still
  owns the connection's reading side (pings, close) and writes whole frames
  of its own in single steps of the event loop, never interleaved with ours;
* an SSE response is prepared with chunked encoding and its headers are sent
  by ``prepare`` (aiohttp sends them at once unless asked to buffer them), so
  our bytes are whole HTTP chunks, and aiohttp's ``write_eof`` ends the body.

Back-pressure is the transport's write buffer (:meth:`buffered`): see
:mod:`cairn.stream.subscriber`.
"""

from __future__ import annotations

import asyncio

from cairn.stream.subscriber import Kind


class TransportSink:
    def __init__(self, kind: Kind, transport: asyncio.Transport | None) -> None:
        self.kind: Kind = kind
        self._transport = transport

    def write(self, wire: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(wire)

    def buffered(self) -> int:
        transport = self._transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def closing(self) -> bool:
        transport = self._transport
        return transport is None or transport.is_closing()
