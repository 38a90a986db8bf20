"""Run a projection: fold the log into state, follow it live, snapshot, restart fast.

On start the runner loads the projection's newest snapshot (if it was taken by
the same fold ``version``), then folds every event after it, then follows the
log as it grows. Every ``snapshot_every`` events, and on stop, it saves the
state and its position together with a checkpoint, so a restart replays only
what came after.

Read-your-writes: a write returns the position of its last event, and
:meth:`ProjectionRunner.wait_for` blocks (bounded) until the state includes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Generic, TypeVar

import structlog

from cairn.errors import CairnError
from cairn.events import RecordedEvent
from cairn.projections import Projection
from cairn.store.port import EventStore, Snapshot
from cairn.store.wakeup import HeadSignal

log = structlog.get_logger(__name__)

S = TypeVar("S")

#: Events read from the store per round trip while catching up.
READ_BATCH = 5000


class ReadModelLagging(CairnError):
    """A read model did not reach a position in time; the caller may retry."""

    def __init__(self, name: str, wanted: int, reached: int, timeout: float) -> None:
        super().__init__(
            f"read model {name!r} is at position {reached}, not yet at {wanted} "
            f"after {timeout:.1f}s"
        )
        self.wanted, self.reached = wanted, reached


class ProjectionRunner(Generic[S]):
    """Keeps one projection's state current with the log."""

    def __init__(
        self,
        store: EventStore,
        projection: Projection[S],
        *,
        snapshot_every: int = 50_000,
    ) -> None:
        self.store = store
        self.projection = projection
        self.snapshot_every = snapshot_every
        self.state: S = projection.initial()
        self.position = 0
        #: The position of the newest event the projection folded (events of
        #: other types move ``position`` but leave the state as it was): what
        #: caches derived from the state should be keyed on.
        self.changed_position = 0
        self._snapshot_position = 0
        self._reached = HeadSignal()
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.projection.name

    async def load(self) -> None:
        """Restore the newest usable snapshot, then fold everything after it."""
        snapshot = await self.store.load_snapshot(self.name)
        if snapshot is not None and snapshot.version == self.projection.version:
            self.state = self.projection.decode_state(snapshot.state)
            self.position = self._snapshot_position = snapshot.position
            self.changed_position = snapshot.position
            self._reached.advance(self.position)
        elif snapshot is not None:
            log.info(
                "snapshot ignored: the fold changed",
                projection=self.name,
                snapshot_version=snapshot.version,
                fold_version=self.projection.version,
            )
        started, first = time.perf_counter(), self.position
        await self._replay()
        log.info(
            "projection loaded",
            projection=self.name,
            position=self.position,
            replayed=self.position - first,
            seconds=round(time.perf_counter() - started, 3),
        )

    async def _replay(self) -> None:
        """Fold everything there is, reading the next page while folding this one."""
        loop = asyncio.get_running_loop()
        page = loop.create_task(self.store.read_all(after=self.position, limit=READ_BATCH))
        try:
            while events := await page:
                page = loop.create_task(
                    self.store.read_all(after=events[-1].position, limit=READ_BATCH)
                )
                await self._fold(events)
        finally:
            page.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await page

    async def catch_up(self) -> bool:
        """Fold the next batch of events, if any; return whether there was one."""
        events = await self.store.read_all(after=self.position, limit=READ_BATCH)
        if not events:
            return False
        await self._fold(events)
        return True

    async def _fold(self, events: list[RecordedEvent]) -> None:
        apply, wanted, state = self.projection.apply, self.projection.event_types, self.state
        changed = self.changed_position
        for event in events:
            if event.type in wanted:
                state = apply(state, event)
                changed = event.position
        self.state = state
        self.changed_position = changed
        self.position = events[-1].position
        self._reached.advance(self.position)
        if self.position - self._snapshot_position >= self.snapshot_every:
            await self.snapshot()

    async def snapshot(self) -> None:
        """Save the state at the current position, and the position as the checkpoint."""
        await self.store.save_snapshot(
            Snapshot(
                name=self.name,
                version=self.projection.version,
                position=self.position,
                state=self.projection.encode_state(self.state),
            )
        )
        await self.store.save_checkpoint(self.name, self.position)
        self._snapshot_position = self.position

    async def start(self) -> None:
        """Load, then follow the log in a background task."""
        await self.load()
        self._task = asyncio.get_running_loop().create_task(
            self._follow(), name=f"projection-{self.name}"
        )

    async def _follow(self) -> None:
        while True:
            try:
                if not await self.catch_up():
                    await self.store.wait_for_new(self.position, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A read failure (database restarting) must not end the read
                # model: report it and try again shortly.
                log.warning("projection follow failed", projection=self.name, error=str(exc))
                await asyncio.sleep(0.5)

    async def wait_for(self, position: int, timeout: float = 5.0) -> None:
        """Return once the state includes every event up to ``position``.

        Raises :class:`ReadModelLagging` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while self.position < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReadModelLagging(self.name, position, self.position, timeout)
            await self._reached.wait_past(self.position, remaining)

    async def stop(self) -> None:
        """Stop following and save a final snapshot."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.position > self._snapshot_position:
            await self.snapshot()
