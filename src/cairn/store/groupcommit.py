"""Group commit, shared by every adapter.

Concurrent appends are queued; one task takes everything queued, decides which
appends fit (expected versions), numbers the events, chains their hashes, and
hands the rows to the adapter to write in ONE transaction. Every caller whose
append was in that transaction wakes when it commits. Under load a batch holds
as many appends as there are waiting callers, so one disk sync serves them all.

The adapter supplies :meth:`GroupCommitter.write_batch`: it plans the batch
with :func:`plan_batch` on the log's head and the involved streams' versions,
and writes the rows in one transaction that excludes every other writer.
SQLite reads the head inside that transaction; PostgreSQL plans on what it
last wrote and lets the database check the assumption (ADR 2).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from cairn.events import ANY_VERSION, RecordedEvent
from cairn.events.chain import chain_hash, to_micros
from cairn.events.envelope import encode_metadata
from cairn.store.port import (
    AppendResult,
    StoreClosed,
    StoreError,
    StoreUnavailable,
    StreamWrite,
    WrongExpectedVersion,
)

log = structlog.get_logger(__name__)

#: Events per transaction at most: large enough to amortise a sync, small enough
#: that one transaction never holds the writer lock for long.
MAX_BATCH_EVENTS = 2000


@dataclass(slots=True)
class PendingAppend:
    writes: tuple[StreamWrite, ...]
    future: asyncio.Future[AppendResult]
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = sum(len(w.events) for w in self.writes)


@dataclass(slots=True)
class BatchOutcome:
    """What one committed transaction told each of its appends."""

    outcomes: list[tuple[PendingAppend, AppendResult | StoreError]]
    head_position: int


@dataclass(slots=True)
class Plan(BatchOutcome):
    """What one transaction writes, and what each append's caller is told."""

    #: The events to insert, exactly as they will be recorded.
    rows: list[RecordedEvent]
    head_hash: bytes
    #: Every stream the batch touched, at its version after the batch.
    versions: dict[str, int]


def now_micros() -> datetime:
    """The current UTC time at the microsecond precision both stores keep."""
    return datetime.now(UTC)


def plan_batch(
    pending: Iterable[PendingAppend],
    *,
    head_position: int,
    head_hash: bytes,
    versions: dict[str, int],
    recorded_at: datetime,
) -> Plan:
    """Decide a batch: check expected versions in queue order, number and chain rows.

    ``versions`` holds the committed version of every stream the batch touches
    (0 for a missing stream). An append whose expectation fails is rejected alone;
    the ones after it see the versions as if it never came.
    """
    rows: list[RecordedEvent] = []
    outcomes: list[tuple[PendingAppend, AppendResult | StoreError]] = []
    position, prev = head_position, head_hash
    current = dict(versions)
    micros = to_micros(recorded_at)
    for append in pending:
        conflict = _first_conflict(append.writes, current)
        if conflict is not None:
            outcomes.append((append, conflict))
            continue
        new_versions: dict[str, int] = {}
        for write in append.writes:
            stream = write.stream
            stream_bytes = stream.encode()
            version = current[stream]
            for event in write.events:
                version += 1
                position += 1
                metadata = encode_metadata(event.metadata)
                digest = chain_hash(
                    prev,
                    event.id.bytes,
                    stream_bytes,
                    version,
                    position,
                    event.type.encode(),
                    event.schema_version,
                    micros,
                    event.data,
                    metadata,
                )
                rows.append(
                    RecordedEvent(
                        event.id,
                        stream,
                        version,
                        position,
                        event.type,
                        event.schema_version,
                        recorded_at,
                        event.data,
                        metadata,
                        prev,
                        digest,
                    )
                )
                prev = digest
            current[stream] = version
            new_versions[stream] = version
        outcomes.append((append, AppendResult(position=position, versions=new_versions)))
    return Plan(
        outcomes=outcomes, head_position=position, rows=rows, head_hash=prev, versions=current
    )


def _first_conflict(
    writes: tuple[StreamWrite, ...], current: dict[str, int]
) -> WrongExpectedVersion | None:
    for write in writes:
        actual = current[write.stream]
        if write.expected_version != ANY_VERSION and write.expected_version != actual:
            return WrongExpectedVersion(write.stream, write.expected_version, actual)
    return None


def validate_writes(writes: tuple[StreamWrite, ...]) -> None:
    """Reject malformed appends before they reach the queue."""
    if not writes:
        raise ValueError("an append needs at least one stream write")
    seen: set[str] = set()
    ids: set[object] = set()
    for write in writes:
        if write.stream in seen:
            raise ValueError(f"stream {write.stream!r} appears twice in one append")
        seen.add(write.stream)
        if not write.stream or "-" not in write.stream:
            raise ValueError(f"stream name {write.stream!r} is not of the form category-id")
        if not write.events:
            raise ValueError(f"the write to {write.stream!r} has no events")
        if write.expected_version < ANY_VERSION:
            raise ValueError(f"expected version {write.expected_version} is not valid")
        for event in write.events:
            if event.id in ids:
                raise ValueError(f"event id {event.id} appears twice in one append")
            ids.add(event.id)


class GroupCommitter(abc.ABC):
    """Owns the append queue and the task that drains it into transactions.

    ``lanes`` batches may be in flight at once (each adapter lane has its own
    connection). A lane is claimed before a batch is taken from the queue, so
    while every lane is busy, appends pile up into the next, larger batch. With
    two lanes, Python prepares one batch while the database commits the other;
    the database's writer lock still orders them (see the adapter).
    """

    def __init__(self, lanes: int = 1) -> None:
        # None in the queue tells the task to finish what came before and stop.
        self._queue: asyncio.Queue[PendingAppend | None] = asyncio.Queue()
        self._free_lanes: asyncio.Queue[int] = asyncio.Queue()
        for lane in range(lanes):
            self._free_lanes.put_nowait(lane)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: Transactions committed so far, and the appends they carried.
        self.transactions = 0
        self.appends = 0

    @abc.abstractmethod
    async def write_batch(self, lane: int, pending: list[PendingAppend]) -> BatchOutcome:
        """Write one batch in one exclusive transaction; say what each append got."""

    async def submit(self, writes: tuple[StreamWrite, ...]) -> AppendResult:
        if self._closing:
            raise StoreClosed("the event store is closed")
        validate_writes(writes)
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._run(), name="cairn-group-commit")
        future: asyncio.Future[AppendResult] = loop.create_future()
        self._queue.put_nowait(PendingAppend(writes, future))
        # Each append has its own future: a cancelled caller cancels only it,
        # and its batch commits or fails as a whole regardless (_settle skips
        # a cancelled future).
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        try:
            while not stopping:
                lane = await self._free_lanes.get()
                first = await self._queue.get()
                if first is None:
                    break
                # Another free lane gets a share of what waits, so that the
                # database commits one batch while Python prepares the next.
                share = (self._queue.qsize() + 1) // (self._free_lanes.qsize() + 1)
                batch, size = [first], first.size
                while size < MAX_BATCH_EVENTS and len(batch) < share and not self._queue.empty():
                    nxt = self._queue.get_nowait()
                    if nxt is None:
                        stopping = True
                        break
                    batch.append(nxt)
                    size += nxt.size
                task = loop.create_task(self._commit(lane, batch))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
        finally:
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _commit(self, lane: int, batch: list[PendingAppend]) -> None:
        try:
            await self._commit_batch(lane, batch)
        finally:
            self._free_lanes.put_nowait(lane)

    async def _commit_batch(self, lane: int, batch: list[PendingAppend]) -> None:
        try:
            outcome = await self.write_batch(lane, batch)
        except asyncio.CancelledError:
            for pending in batch:
                _settle(pending.future, StoreClosed("the event store closed mid-append"))
            raise
        except Exception as exc:
            if len(batch) > 1:
                return await self._commit_each(lane, batch)
            if isinstance(exc, StoreError):  # the adapter already said what went wrong
                _settle(batch[0].future, exc)
                return
            log.error("append failed", error=str(exc))
            failure = StoreUnavailable(f"the append failed: {exc}")
            failure.__cause__ = exc
            _settle(batch[0].future, failure)
            return
        self.transactions += 1
        self.appends += len(batch)
        for pending, result in outcome.outcomes:
            _settle(pending.future, result)

    async def _commit_each(self, lane: int, batch: list[PendingAppend]) -> None:
        """A failed batch wrote nothing; one bad append (a duplicate event id)
        must not fail the others that shared its transaction, so each is
        written again on its own, in order, and only the culprit fails."""
        for pending in batch:
            await self._commit_batch(lane, [pending])

    async def drain(self) -> None:
        """Stop accepting appends, commit those already queued, stop the task."""
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        try:
            await self._task
        finally:
            self._task = None


def _settle(future: asyncio.Future[AppendResult], outcome: AppendResult | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
