"""Read the log in pages, the next page in flight while the caller works on this one.

Every audit pass (verify, replay, history, who, diff, check) is one walk over a
fixed stretch of the log: from just after ``after`` up to and including
``upto`` (the head when the pass started, so a running cloud's new events do
not make it endless). Memory holds two pages at most.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from cairn.events import RecordedEvent
from cairn.store.port import EventStore

T = TypeVar("T")

#: Events per read: large enough to amortise a round trip, small enough to
#: keep memory flat (a page of 5,000 typical events is a few MB).
PAGE = 5000


async def paged(
    read: Callable[[int, int], Awaitable[Sequence[T]]],
    position_of: Callable[[T], int],
    *,
    after: int,
    upto: int,
    page: int = PAGE,
) -> AsyncIterator[Sequence[T]]:
    """Pages of ``read(after, limit)`` results up to position ``upto``, prefetched."""
    if after >= upto:
        return
    loop = asyncio.get_running_loop()
    pending: asyncio.Task[Sequence[T]] | None = loop.create_task(_call(read, after, page))
    try:
        while pending is not None:
            items = await pending
            pending = None
            if not items:
                return
            last = position_of(items[-1])
            finished = last >= upto or len(items) < page
            if not finished:
                pending = loop.create_task(_call(read, last, page))
            if last > upto:
                items = items[: bisect.bisect_right(items, upto, key=position_of)]
            if items:
                yield items
            if finished:
                return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending


async def _call(read: Callable[[int, int], Awaitable[Sequence[T]]], after: int, limit: int) -> Any:
    return await read(after, limit)


def event_pages(
    store: EventStore, *, after: int = 0, upto: int, page: int = PAGE
) -> AsyncIterator[Sequence[RecordedEvent]]:
    """Pages of recorded events in ``(after, upto]``."""

    async def read(position: int, limit: int) -> Sequence[RecordedEvent]:
        return await store.read_all(after=position, limit=limit)

    return paged(read, _position, after=after, upto=upto, page=page)


def _position(event: RecordedEvent) -> int:
    return event.position
