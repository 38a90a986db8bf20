"""One subscriber: what it selected, how far it has been served, where bytes go.

A subscriber's bounded buffer is its connection's write buffer: frames are
written straight to the transport (:class:`Sink`), and the bytes the kernel has
not yet taken stay there. When that exceeds ``limit`` as a new batch arrives,
the subscriber has fallen behind: it is finished (``slow consumer``) at the
last position it was fully written up to, and the connection's handler sends
that position in a last ``closing`` message before closing. Everything
written before is still delivered, in order, so resuming from that position
neither loses nor repeats an event.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal, Protocol

from cairn.stream.filters import Selection

Kind = Literal["ws", "sse"]

#: Why a subscription ended, as sent in the ``closing`` message.
SLOW = "slow consumer: the subscriber's buffer was full; resume from position"
GONE = "the client went away"
SHUTDOWN = "the server is shutting down; resume from position"


class Sink(Protocol):
    """A connection's transport, written to without waiting (see :mod:`.sinks`)."""

    kind: Kind

    def write(self, wire: bytes) -> None:
        """Hand ``wire`` (complete frames) to the transport."""

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel."""

    def closing(self) -> bool:
        """Whether the connection is gone or going."""


class Subscriber:
    """A subscription's state: served up to ``position`` (every event with a
    lower or equal position was written or filtered out)."""

    def __init__(self, selection: Selection, sink: Sink, *, after: int, limit: int) -> None:
        self.selection = selection
        self.sink = sink
        self.kind: Kind = sink.kind
        self.position = after
        self.limit = limit
        self.last_write = time.monotonic()
        self.delivered = 0
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @property
    def finished(self) -> bool:
        return self.ended.done()

    def finish(self, reason: str) -> None:
        if not self.ended.done():
            self.ended.set_result(reason)

    def offer(self, wire: bytes | None, count: int, position: int) -> None:
        """Serve one batch: ``wire`` holds its ``count`` selected events (``None``
        when none matched); the batch ends at ``position``."""
        if self.ended.done():
            return
        sink = self.sink
        if sink.closing():
            self.finish(GONE)
            return
        if wire is not None:
            if sink.buffered() > self.limit:
                self.finish(SLOW)
                return
            sink.write(wire)
            self.delivered += count
            self.last_write = time.monotonic()
        self.position = position
