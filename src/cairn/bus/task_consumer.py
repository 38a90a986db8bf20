"""The lifecycle both adapters' consumers share: one task, stopped or aborted.

A subclass runs its delivery loop in ``self._task`` (set by its ``start``),
checks ``self._stopping`` between deliveries, waits on ``self._wake`` when idle,
and records a handler or broker failure in ``self._failure``. This class turns
that into the :class:`~cairn.bus.port.Consumer` contract's ``stop``, ``abort``
and ``wait``.
"""

from __future__ import annotations

import asyncio

from cairn.bus.port import BusError, Consumer


class TaskConsumer(Consumer):
    def __init__(self) -> None:
        self._stopping = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: BusError | None = None

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait({self._task})
        except asyncio.CancelledError:
            await self.abort()
            raise

    async def abort(self) -> None:
        self._stopping = True
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.wait({self._task})
        await self._after_abort()

    async def _after_abort(self) -> None:
        """Release what a cancel inside the loop's teardown may have left open."""

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.wait({self._task})
            bug = None if self._task.cancelled() else self._task.exception()
            if bug is not None:
                raise bug  # a bug in this module: never hide it
        if self._failure is not None:
            raise self._failure
