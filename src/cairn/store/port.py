"""The event-store port: what every adapter (SQLite, PostgreSQL) promises.

The log is one ordered sequence of events. Each event belongs to one stream
(``category-id``) and has a version in it (1, 2, ...) and a global position in
the whole log. Three promises hold in every adapter, and the contract suite in
``tests/contracts/test_event_store.py`` checks each:

* **Atomic, checked appends.** :meth:`EventStore.append` writes to one or several
  streams at once, each at an expected version. Either every event is stored or
  none is; a stream not at its expected version raises
  :class:`WrongExpectedVersion` and nothing is written.
* **Commit order is position order.** An event becomes visible to readers only
  after every event with a lower position is visible, so a reader paging by
  position never skips an event that commits late.
* **Durable on return.** ``append`` returns after the transaction holding the
  events is committed to disk. Concurrent appends share transactions (group
  commit), so throughput is not capped by the disk's sync rate.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from cairn.errors import CairnError
from cairn.events import ANY_VERSION, NewEvent, RecordedEvent


class StoreError(CairnError):
    """Base of event-store errors."""


class WrongExpectedVersion(StoreError):
    """A stream was not at the version an append expected; nothing was written."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        self.stream = stream
        self.expected = expected
        self.actual = actual
        wanted = {ANY_VERSION: "any version", 0: "no stream"}.get(expected, f"version {expected}")
        super().__init__(
            f"stream {stream!r} is at version {actual}, but the append expected {wanted}"
        )


class DuplicateEventId(StoreError):
    """An event's id is already in the log; nothing of its append was written."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"an event id of this append is already in the log ({detail})")


class StoreClosed(StoreError):
    """The store was closed by its owner; it accepts no more work."""


class StoreUnavailable(StoreError):
    """The store failed underneath (database gone, disk error); retry later."""


class StreamWrite(msgspec.Struct, frozen=True):
    """Events to append to one stream, at an expected version.

    ``expected_version`` is :data:`~cairn.events.ANY_VERSION`,
    :data:`~cairn.events.NO_STREAM` (0: the stream must not exist yet), or the
    exact number of events the stream must hold.
    """

    stream: str
    events: Sequence[NewEvent]
    expected_version: int = ANY_VERSION


class AppendResult(msgspec.Struct, frozen=True):
    """Where an append landed.

    ``position`` is the global position of the append's last event: a read that
    must see this write waits until its read model has reached it. ``versions``
    maps each written stream to its new version.
    """

    position: int
    versions: dict[str, int]


class Snapshot(msgspec.Struct, frozen=True):
    """A projection's encoded state as of ``position``; ``version`` is the fold's."""

    name: str
    version: int
    position: int
    state: bytes


#: One stored event as raw fields, in the order the hash chain takes them:
#: ``(position, id_bytes, stream, version, type, schema_version, micros, data,
#: metadata, prev_hash, hash)``; ``micros`` is ``recorded_at`` in whole
#: microseconds since the Unix epoch.
ChainRow = Sequence[Any]


class EventStore(abc.ABC):
    """The port. Adapters are named ``<Tech>EventStore``.

    Besides the log, a store keeps two small tables for its followers:
    checkpoints (how far a named follower got) and snapshots (a projection's
    state at a position), so a restart does not replay everything.
    """

    @abc.abstractmethod
    async def append(self, *writes: StreamWrite) -> AppendResult:
        """Append to one or more streams in one atomic, durable step.

        Raises :class:`WrongExpectedVersion` (nothing written) when a stream is not
        at its expected version, :class:`StoreClosed` after :meth:`close`, and
        :class:`StoreUnavailable` when the database fails; in the last case the
        append may or may not have been stored, as with any lost commit reply.
        A cancelled caller does not cancel an append already handed to the
        database: it commits or fails as a whole.
        """

    @abc.abstractmethod
    async def read_stream(
        self, stream: str, *, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The events of one stream from ``from_version`` on, oldest first."""

    @abc.abstractmethod
    async def stream_version(self, stream: str) -> int:
        """The current version of a stream: 0 when it does not exist."""

    @abc.abstractmethod
    async def read_all(self, *, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events with position greater than ``after``, in order."""

    @abc.abstractmethod
    async def read_chain(self, *, after: int = 0, limit: int = 1000) -> list[ChainRow]:
        """Like :meth:`read_all`, but raw rows (:data:`ChainRow`), for verifying the
        hash chain: building a typed event per row would cost more than hashing it."""

    @abc.abstractmethod
    async def head(self) -> int:
        """The position of the newest committed event, or 0 for an empty log."""

    @abc.abstractmethod
    async def wait_for_new(self, after: int, timeout: float) -> None:
        """Return once the head may have passed ``after``, or after ``timeout`` s.

        A hint for followers, not a guarantee: callers read again to find out.
        """

    async def subscribe(self, *, after: int = 0, batch: int = 1000) -> AsyncIterator[RecordedEvent]:
        """Every event with position greater than ``after``: first the history,
        then new events as they commit, with no gap or duplicate at the seam.

        The seam is safe because both phases read the log itself by position, and
        commit order is position order; notifications only say when to read.
        """
        position = after
        while True:
            events = await self.read_all(after=position, limit=batch)
            for event in events:
                yield event
            if events:
                position = events[-1].position
            if len(events) < batch:
                await self.wait_for_new(position, timeout=1.0)

    @abc.abstractmethod
    async def load_checkpoint(self, name: str) -> int:
        """The position saved for follower ``name``, or 0."""

    @abc.abstractmethod
    async def save_checkpoint(self, name: str, position: int) -> None:
        """Durably record that follower ``name`` has handled everything up to ``position``."""

    @abc.abstractmethod
    async def load_snapshot(self, name: str) -> Snapshot | None:
        """The newest snapshot of projection ``name``, if any."""

    @abc.abstractmethod
    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Replace projection ``snapshot.name``'s snapshot."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish the appends already accepted, then release every resource."""

    async def __aenter__(self) -> EventStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
