"""Wake followers when the log's head moves."""

from __future__ import annotations

import asyncio
import contextlib


class HeadSignal:
    """The highest position known to be committed, and a way to wait for more.

    ``advance`` is synchronous so that it can be called from a database
    notification callback; waiters compare against the position they already
    read, so a wake-up that came before they started waiting is not lost.
    """

    def __init__(self) -> None:
        self.position = 0
        self._changed = asyncio.Event()

    def advance(self, position: int) -> None:
        if position <= self.position:
            return
        self.position = position
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_past(self, after: int, timeout: float) -> None:
        if self.position > after:
            return
        # asyncio.timeout, not wait_for: Python 3.11's wait_for returns normally
        # when it is cancelled just as the event is set, swallowing the
        # cancellation, and a follower's stop() then waits for ever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._changed.wait()
