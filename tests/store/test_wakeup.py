"""HeadSignal: a follower's wait for new events, and its cancellation."""

from __future__ import annotations

import asyncio

import pytest

from cairn.store.wakeup import HeadSignal


async def test_a_cancel_that_meets_a_wakeup_is_not_swallowed() -> None:
    """Cancelled in the same turn of the loop as the head moves, the wait must
    still raise CancelledError, or a follower's stop() waits for ever."""
    signal = HeadSignal()
    waiter = asyncio.create_task(signal.wait_past(0, timeout=10))
    await asyncio.sleep(0)  # it is waiting now
    signal.advance(1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_it_returns_when_the_head_passes_or_the_time_is_up() -> None:
    signal = HeadSignal()
    signal.advance(5)
    await asyncio.wait_for(signal.wait_past(4, timeout=10), 1)  # already past
    waiting = asyncio.create_task(signal.wait_past(5, timeout=10))
    await asyncio.sleep(0)
    signal.advance(6)
    await asyncio.wait_for(waiting, 1)
    await signal.wait_past(6, timeout=0.01)  # nothing new: the timeout ends it
