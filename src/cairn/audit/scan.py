"""Read the log in pages, the next page in flight while the caller works on this one.

Every audit pass (verify, replay, history, who, diff, check) is one walk over a
fixed stretch of the log: from just after ``after`` up to and including
``upto`` (the head when the pass started, so a running cloud's new events do
not make it endless). Memory holds a few pages at most.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from cairn.events import RecordedEvent
from cairn.store.port import EventStore

T = TypeVar("T")

#: Events per read: large enough to amortise a round trip, small enough to
#: keep memory flat (a page of 5,000 typical events is a few MB).
PAGE = 5000
#: Reads in flight: while one page is folded, the store reads the next two
#: (SQLite's two reader threads, two of PostgreSQL's pooled connections).
DEPTH = 2


async def paged(
    read: Callable[[int, int], Awaitable[Sequence[T]]],
    position_of: Callable[[T], int],
    *,
    after: int,
    upto: int,
    page: int = PAGE,
    depth: int = DEPTH,
) -> AsyncGenerator[Sequence[T], None]:
    """Pages of ``read(after, limit)`` results in ``(after, upto]``, ``depth`` reads
    in flight.

    Each read covers a fixed range of positions, ``(start, start + page]``, so
    the next reads can start before this one returns. A range never holds more
    than ``page`` events (positions are distinct integers), so one read with
    ``limit=page`` covers it, whatever gaps the log has; what it returns beyond
    the range is dropped (the next range reads it).
    """
    loop = asyncio.get_running_loop()
    starts = iter(range(after, upto, page))
    in_flight: deque[tuple[int, asyncio.Task[Sequence[T]]]] = deque()

    def launch() -> None:
        start = next(starts, None)
        if start is not None:
            in_flight.append((min(start + page, upto), loop.create_task(_call(read, start, page))))

    try:
        for _ in range(depth):
            launch()
        while in_flight:
            end, task = in_flight[0]
            items = await asyncio.shield(task)  # a cancelled caller waits in finally
            in_flight.popleft()
            launch()
            if items and position_of(items[-1]) > end:
                items = items[: bisect.bisect_right(items, end, key=position_of)]
            if items:
                yield items
    finally:
        # Let reads already started finish rather than cancel them: a cancelled
        # task does not stop the database call under it, which would then run
        # on while its caller goes on to close the store. Consumers close this
        # generator (contextlib.aclosing) so that this runs before they return.
        for _, task in in_flight:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _call(read: Callable[[int, int], Awaitable[Sequence[T]]], after: int, limit: int) -> Any:
    return await read(after, limit)


def event_pages(
    store: EventStore, *, after: int = 0, upto: int, page: int = PAGE
) -> AsyncGenerator[Sequence[RecordedEvent], None]:
    """Pages of recorded events in ``(after, upto]``."""

    async def read(position: int, limit: int) -> Sequence[RecordedEvent]:
        return await store.read_all(after=position, limit=limit)

    return paged(read, _position, after=after, upto=upto, page=page)


def _position(event: RecordedEvent) -> int:
    return event.position
