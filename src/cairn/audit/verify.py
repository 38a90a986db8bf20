"""Verify the hash chain of the whole log, streaming, in bounded memory.

Each stored event carries ``prev_hash`` (its link: the hash of the event just
before it) and ``hash`` (over its own fields and the link). Walking the log in
position order, an event is sound when its link equals the previous event's
hash and its hash equals what its stored fields hash to. The first event that
is not sound is reported with what failed:

* ``hash``: the event's fields were changed after it was written (payload,
  metadata, type, time, stream...);
* ``link``: the event does not follow the one stored before it: an event was
  deleted, inserted or moved, or the previous one's hash was rewritten.

Rows are hashed raw (:meth:`EventStore.read_chain`), never built into events, and the
next page is read while this one is hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import Any, Literal

import msgspec

from cairn.audit.scan import paged
from cairn.events import GENESIS_HASH
from cairn.events.chain import chain_hash
from cairn.store.port import ChainRow, EventStore

#: Rows per read: the raw rows are small and hashing dominates.
VERIFY_PAGE = 10_000


class BrokenLink(msgspec.Struct, frozen=True):
    """The first event that fails, and how."""

    position: int
    stream: str
    type: str
    #: Microseconds since the Unix epoch, as stored.
    recorded_micros: int
    mismatch: Literal["link", "hash"]
    expected: bytes
    stored: bytes

    def explain(self) -> str:
        if self.mismatch == "hash":
            return "its stored fields do not hash to its stored hash: the event was changed"
        return (
            "its link is not the hash of the event stored before it: "
            "an event was deleted, inserted or moved before it"
        )


class VerifyReport(msgspec.Struct, frozen=True):
    """``verified`` events were sound, from the first up to ``last_position``;
    ``head`` is where the log ended when verification started."""

    verified: int
    last_position: int
    head: int
    broken: BrokenLink | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


async def verify_chain(
    store: EventStore,
    *,
    page: int = VERIFY_PAGE,
    on_progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Check every link and hash from the first event to the current head."""
    head = await store.head()
    prev, verified, last = GENESIS_HASH, 0, 0

    async def read(after: int, limit: int) -> Sequence[ChainRow]:
        return await store.read_chain(after=after, limit=limit)

    async with aclosing(paged(read, _position, after=0, upto=head, page=page)) as pages:
        async for rows in pages:
            bad, prev = check_rows(rows, prev)
            if bad is not None:
                index, broken = bad
                return VerifyReport(verified + index, last if index == 0 else rows[index - 1][0],
                                    head, broken)  # fmt: skip
            verified += len(rows)
            last = rows[-1][0]
            if on_progress is not None:
                on_progress(last)
    return VerifyReport(verified, last, head)


def _position(row: ChainRow) -> int:
    position: int = row[0]
    return position


def check_rows(
    rows: Sequence[ChainRow], prev: bytes
) -> tuple[tuple[int, BrokenLink] | None, bytes]:
    """Hash ``rows`` following the event whose hash is ``prev``. Returns the index
    and description of the first unsound row (or None), and the last hash."""
    for index, row in enumerate(rows):
        (position, id_bytes, stream, version, type_, schema, micros, data, meta, link, stored) = row
        # events/chain.py holds the one layout; the audit tool only calls it.
        digest = chain_hash(
            prev,
            id_bytes,
            stream.encode(),
            version,
            position,
            type_.encode(),
            schema,
            micros,
            data,
            meta,
        )
        if link != prev or digest != stored:
            return (index, _broken(row, prev, digest)), prev
        prev = stored
    return None, prev


def _broken(row: Any, prev: bytes, digest: bytes) -> BrokenLink:
    position, _id, stream, _v, type_, _sv, micros, _d, _m, link, stored = row
    if link != prev:
        return BrokenLink(position, stream, type_, micros, "link", bytes(prev), bytes(link))
    return BrokenLink(position, stream, type_, micros, "hash", digest, bytes(stored))
