"""The outbox relay: publishes every committed event to the bus, in order.

The event log *is* the outbox: an event is published only after it committed,
so nothing is ever published that the log does not hold. The relay follows
``store.subscribe(after=checkpoint)`` (history, then live, with no gap at the
seam), takes whatever has arrived (up to ``batch_size`` events) and publishes it
as one pipelined batch; only when the bus has confirmed the whole batch does it
save the checkpoint. A crash between the confirm and the checkpoint republishes
that batch after the restart: delivery is at least once, in order, and
consumers de-duplicate by event id (:mod:`cairn.bus.idempotent`).

Reading runs ahead of publishing (a bounded queue between them), so the next
batch is fetched while the broker confirms the current one.

Run one relay per store. Two relays would only cost duplicates: each publishes
the same sequence in the same order, so once duplicates are dropped every queue
still sees events in log order.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from cairn.bus.port import Bus, BusUnavailable, PublishRejected
from cairn.events import RecordedEvent
from cairn.store.port import EventStore, StoreUnavailable

log = structlog.get_logger(__name__)

#: Failures the relay waits out and retries; anything else ends :meth:`OutboxRelay.run`.
TRANSIENT = (BusUnavailable, PublishRejected, StoreUnavailable)


class OutboxRelay:
    """Publishes the store's events to the bus; one checkpoint named ``name``."""

    def __init__(
        self,
        store: EventStore,
        bus: Bus,
        name: str = "outbox-relay",
        *,
        batch_size: int = 500,
        retry_delay: tuple[float, float] = (0.1, 5.0),
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, not {batch_size}")
        self.store = store
        self.bus = bus
        self.name = name
        self.batch_size = batch_size
        self._retry_first, self._retry_max = retry_delay
        #: The position of the last event the bus confirmed (and checkpointed).
        self.position = 0
        self._stopping = asyncio.Event()
        self._running: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Publish until :meth:`stop`, retrying transient failures. A relay runs
        once: after :meth:`stop`, make a new one to run again.

        Loads the checkpoint, then publishes every later event in batches,
        saving the checkpoint after each confirmed batch. When the bus or the
        store fails transiently (:data:`TRANSIENT`) it logs, waits (backing off
        up to ``retry_delay[1]`` seconds) and resumes from the last confirmed
        position, republishing any unconfirmed batch. Any other error (the bus
        or store was closed, a bug) propagates. If the task running ``run`` is
        cancelled, the batch in flight may or may not have been published and
        its checkpoint is not saved: the next run republishes it.
        """
        if self._running is not None:
            raise RuntimeError(f"relay {self.name!r} is already running")
        self._running = asyncio.current_task()
        delay = self._retry_first
        try:
            self.position = await self.store.load_checkpoint(self.name)
            log.info("relay.started", relay=self.name, position=self.position)
            while not self._stopping.is_set():
                try:
                    await self._pump()
                except TRANSIENT as exc:
                    log.warning(
                        "relay.retrying",
                        relay=self.name,
                        position=self.position,
                        delay=delay,
                        error=str(exc),
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), delay)
                    delay = min(delay * 2, self._retry_max)
                else:
                    delay = self._retry_first
            log.info("relay.stopped", relay=self.name, position=self.position)
        finally:
            self._running = None

    async def _pump(self) -> None:
        """Follow the store from ``self.position`` until stopped or failed."""
        ahead: asyncio.Queue[RecordedEvent] = asyncio.Queue(maxsize=2 * self.batch_size)
        reader = asyncio.create_task(self._read(ahead), name=f"cairn-relay-read-{self.name}")
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                if ahead.empty():
                    first = asyncio.create_task(ahead.get())
                    done, _ = await asyncio.wait(
                        {first, reader, stopping}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if first not in done:
                        first.cancel()
                        await asyncio.wait({first})
                    if stopping in done:
                        return
                    if reader in done:
                        reader.result()  # raises what stopped the reader
                        raise AssertionError("the store subscription ended")  # pragma: no cover
                    batch = [first.result()]
                else:
                    batch = [ahead.get_nowait()]
                while len(batch) < self.batch_size and not ahead.empty():
                    batch.append(ahead.get_nowait())
                await self.bus.publish(batch)
                await self.store.save_checkpoint(self.name, batch[-1].position)
                self.position = batch[-1].position
                log.debug(
                    "relay.published", relay=self.name, events=len(batch), position=self.position
                )
        finally:
            for task in (reader, stopping):
                task.cancel()
            await asyncio.wait({reader, stopping})
            if not reader.cancelled():
                reader.exception()  # retrieved: a failure was already raised or superseded

    async def _read(self, ahead: asyncio.Queue[RecordedEvent]) -> None:
        events = self.store.subscribe(after=self.position, batch=self.batch_size)
        try:
            async for event in events:
                await ahead.put(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def stop(self) -> None:
        """Let the batch in flight finish (published and checkpointed), then make
        :meth:`run` return; returns when it has. Does nothing if not running."""
        self._stopping.set()
        running = self._running
        if running is not None and running is not asyncio.current_task():
            await asyncio.wait({running})
