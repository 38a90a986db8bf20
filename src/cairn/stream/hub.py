"""The fan-out: one reader of the log per process, feeding every subscriber.

:class:`EventHub` follows the store from its head when it starts (one
``read_all`` + ``wait_for_new`` loop: on PostgreSQL that is the store's one
shared LISTEN, on SQLite an in-process signal). Each new event is turned into
an :class:`~cairn.stream.item.Item` once (its JSON document, secrets withheld)
and kept in a ring of recent events. For each batch, subscribers are taken by
equal selections: a group's matching events are picked once and its wire
frames built once, then written to each member's transport. A thousand
subscribers of the whole log cost one encoding and a thousand ``write`` calls
per batch, with no task woken per subscriber.

A new subscriber first catches up (:meth:`EventHub.serve`): from the store in
pages while it is behind the ring, then from the ring, waiting for its
connection to drain between pages. When it has been served up to the hub's
position it is attached, in the same step of the event loop, so the seam has
no gap and no duplicate: every later batch starts exactly after that position.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Sequence

from cairn.logs import get_logger
from cairn.store.port import EventStore
from cairn.store.wakeup import HeadSignal
from cairn.stream.filters import Selection
from cairn.stream.frames import http_chunk, sse_events, ws_events, ws_frame
from cairn.stream.item import Item, make_item
from cairn.stream.subscriber import GONE, SHUTDOWN, SLOW, Kind, Subscriber

log = get_logger(__name__)

#: Events read from the store per round trip (the live reader and catch-ups).
PAGE = 1000
#: Recent events kept in memory, so that a reconnecting subscriber resumes
#: without reading the store.
RING = 10_000
#: A catching-up subscriber whose connection takes longer than this to drain
#: half of its buffer is cut off as slow.
DRAIN_TIMEOUT = 30.0


def wire(kind: Kind, items: Sequence[Item], position: int) -> bytes:
    """Complete frames carrying ``items``, for a transport of ``kind``."""
    if kind == "ws":
        return ws_frame(ws_events(items, position))
    return http_chunk(sse_events(items))


def _position(item: Item) -> int:
    return item.position


class EventHub:
    """Follows the log and serves every subscriber of this process."""

    def __init__(self, store: EventStore, *, ring: int = RING, page: int = PAGE) -> None:
        self.store = store
        self.ring_size = ring
        self.page = page
        #: The position the hub has read up to.
        self.position = 0
        #: The ring holds every event in ``(floor, position]``.
        self.floor = 0
        self._ring: list[Item] = []
        self._groups: dict[Selection, set[Subscriber]] = {}
        self._moved = HeadSignal()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def subscribers(self) -> int:
        return sum(len(group) for group in self._groups.values())

    async def start(self) -> None:
        self.position = self.floor = await self.store.head()
        self._moved.advance(self.position)
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="event-hub")

    async def stop(self) -> None:
        # The flag as well as the cancel: Python 3.11's asyncio.wait_for (under
        # the store's wait_for_new) can swallow a cancellation that arrives as
        # its wait ends; the loop then ends at its next turn instead.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for group in self._groups.values():
            for subscriber in group:
                subscriber.finish(SHUTDOWN)
        self._groups.clear()

    async def _follow(self) -> None:
        store = self.store
        while not self._stopping:
            try:
                events = await store.read_all(after=self.position, limit=self.page)
                if events:
                    self.publish([make_item(event) for event in events])
                else:
                    await store.wait_for_new(self.position, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A read failure (the database restarting) must not end the
                # stream for everyone: report it and try again shortly.
                log.warning("event hub read failed", error=str(exc))
                await asyncio.sleep(0.5)

    def publish(self, items: list[Item]) -> None:
        """Take a batch of new events (consecutive, after :attr:`position`)."""
        ring = self._ring
        ring.extend(items)
        if len(ring) > 2 * self.ring_size:
            cut = len(ring) - self.ring_size
            self.floor = ring[cut - 1].position
            del ring[:cut]
        position = self.position = items[-1].position
        for selection, group in list(self._groups.items()):
            matched = selection.select(items)
            count = len(matched)
            wires: dict[Kind, bytes] = {}
            for subscriber in list(group):
                frames = None
                if count:
                    frames = wires.get(subscriber.kind)
                    if frames is None:
                        frames = wires[subscriber.kind] = wire(subscriber.kind, matched, position)
                try:
                    subscriber.offer(frames, count, position)
                except Exception as exc:  # one broken connection must not cost the others
                    log.warning("subscriber write failed", error=str(exc))
                    subscriber.finish(GONE)
                if subscriber.finished:
                    group.discard(subscriber)
            if not group:
                del self._groups[selection]
        self._moved.advance(position)

    def detach(self, subscriber: Subscriber) -> None:
        group = self._groups.get(subscriber.selection)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self._groups[subscriber.selection]

    async def serve(self, subscriber: Subscriber) -> None:
        """Catch ``subscriber`` up from its position, then attach it to the live feed.

        Returns once attached (or finished). Store errors propagate."""
        while not subscriber.finished:
            if subscriber.position == self.position:
                self._groups.setdefault(subscriber.selection, set()).add(subscriber)
                return
            if subscriber.position > self.position:
                await self._moved.wait_past(subscriber.position - 1, timeout=1.0)
                if subscriber.position > self.position:
                    continue
            if subscriber.position >= self.floor:
                start = bisect.bisect_right(self._ring, subscriber.position, key=_position)
                items: Sequence[Item] = self._ring[start : start + self.page]
            else:
                events = await self.store.read_all(after=subscriber.position, limit=self.page)
                if subscriber.finished or not events:
                    continue
                # The store may be ahead of the hub: serve no further than the
                # hub, so that the attach step starts exactly where this ends.
                items = [make_item(e) for e in events if e.position <= self.position]
                if not items:
                    continue
            matched = subscriber.selection.select(items)
            last = items[-1].position
            frames = wire(subscriber.kind, matched, last) if matched else None
            subscriber.offer(frames, len(matched), last)
            await self._drained(subscriber)

    async def _drained(self, subscriber: Subscriber) -> None:
        """Wait until the subscriber's connection took half of its buffer."""
        sink, low = subscriber.sink, subscriber.limit // 2
        if sink.buffered() <= low:
            return
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while sink.buffered() > low and not sink.closing() and not subscriber.finished:
            if time.monotonic() > deadline:
                subscriber.finish(SLOW)
                return
            await asyncio.sleep(0.005)
