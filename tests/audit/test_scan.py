"""Paged reads: ranges with gaps, and no read left running once a pass ends."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from contextlib import aclosing

from cairn.audit.scan import paged


class Log:
    """Positions with gaps; reads that take a while and count themselves."""

    def __init__(self, positions: list[int]) -> None:
        self.positions = positions
        self.running = 0
        self.started = asyncio.Event()
        self.lock = threading.Lock()

    async def read(self, after: int, limit: int) -> Sequence[int]:
        # In a thread, as the SQLite store reads: cancelling the awaiting task
        # does not stop the call, which is what a pass must not leave behind.
        self.started.set()
        return await asyncio.get_running_loop().run_in_executor(None, self._read, after, limit)

    def _read(self, after: int, limit: int) -> Sequence[int]:
        with self.lock:
            self.running += 1
        try:
            time.sleep(0.3 if after == 0 else 0.01)  # the first read is the slow one
            return [p for p in self.positions if p > after][:limit]
        finally:
            with self.lock:
                self.running -= 1


async def collect(log: Log, after: int, upto: int, page: int) -> list[int]:
    seen: list[int] = []
    async with aclosing(paged(log.read, int, after=after, upto=upto, page=page)) as pages:
        async for items in pages:
            seen.extend(items)
    return seen


async def test_every_position_once_in_order_despite_gaps() -> None:
    positions = [1, 2, 3, 7, 8, 20, 21, 22, 23, 24, 25, 40]
    log = Log(positions)
    assert await collect(log, 0, 40, page=4) == positions
    assert await collect(log, 2, 23, page=3) == [3, 7, 8, 20, 21, 22, 23]
    assert await collect(log, 40, 40, page=3) == []


async def test_leaving_early_waits_for_the_reads_in_flight() -> None:
    log = Log(list(range(1, 101)))
    async with aclosing(paged(log.read, int, after=0, upto=100, page=10, depth=3)) as pages:
        async for _ in pages:
            break
    assert log.running == 0


async def test_a_cancelled_pass_leaves_no_read_running() -> None:
    log = Log(list(range(1, 101)))
    task = asyncio.ensure_future(collect(log, 0, 100, page=10))
    await asyncio.wait_for(log.started.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert log.running == 0
