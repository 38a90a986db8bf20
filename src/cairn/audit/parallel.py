"""Chain verification on several cores: the log cut into ranges, one process each.

Checking an event's hash needs only the event itself and its stored link
(``prev_hash``), so ranges can be hashed independently; what is left is to
check each seam, that a range's first link is the hash the previous range
ended with. That check, and the choice of the earliest failure, happen here
in the parent, so the answer is exactly the one-process answer, only sooner.

Hashing ~500-byte rows in Python is CPU-bound and holds the GIL (hashlib
releases it only for inputs over 2 KiB), so threads would not help; worker
processes do. Each worker opens the store by URL once, through the same
factory and raw-row reader as the one-process path.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.util
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import aclosing

import msgspec

from cairn.audit.scan import paged
from cairn.audit.verify import VERIFY_PAGE, BrokenLink, VerifyReport, check_rows
from cairn.events import GENESIS_HASH
from cairn.store import EventStore, open_store
from cairn.store.port import ChainRow

#: Below this many events, one process is faster than starting others.
PARALLEL_FROM = 200_000
#: Positions per task: large enough that a task's overhead (a query, a
#: pickle) is noise, small enough to spread the work and show progress.
CHUNK = 100_000


class RangeResult(msgspec.Struct, frozen=True):
    """One range: how many events, its first link, last hash, first failure."""

    count: int
    first_position: int = 0
    first_stream: str = ""
    first_type: str = ""
    first_micros: int = 0
    first_link: bytes = b""
    last_hash: bytes = b""
    broken: BrokenLink | None = None
    #: Events of this range verified before ``broken``.
    verified: int = 0
    last_sound: int = 0


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


async def verify_parallel(
    url: str,
    head: int,
    *,
    jobs: int,
    chunk: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify positions ``1..head`` of the store at ``url`` with ``jobs`` processes,
    ``chunk`` positions per task."""
    chunk = chunk or max(CHUNK, -(-head // (jobs * 8)))
    ranges = [(start, min(start + chunk, head)) for start in range(0, head, chunk)]
    loop = asyncio.get_running_loop()
    # spawn, not fork: the parent runs an event loop and store threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init, initargs=(url,)) as pool:
        futures: list[Future[RangeResult]] = [
            pool.submit(_verify_range, after, upto) for after, upto in ranges
        ]
        try:
            results: list[RangeResult] = []
            for (_, upto), future in zip(ranges, futures, strict=True):
                result = await asyncio.wrap_future(future, loop=loop)
                results.append(result)
                if result.broken is not None:
                    break
                if on_progress is not None:
                    on_progress(upto)
        finally:
            for future in futures:
                future.cancel()
    return combine(results, head)


def combine(results: Sequence[RangeResult], head: int) -> VerifyReport:
    """The one-process answer from the ranges' answers, in position order."""
    prev = GENESIS_HASH  # the hash the log so far ends with
    verified, last = 0, 0
    for result in results:
        if result.count == 0 and result.broken is None:
            continue
        if result.first_link != prev:
            broken = BrokenLink(
                result.first_position, result.first_stream, result.first_type,
                result.first_micros, "link", prev, result.first_link,
            )  # fmt: skip
            return VerifyReport(verified, last, head, broken)
        if result.broken is not None:
            return VerifyReport(
                verified + result.verified, result.last_sound or last, head, result.broken
            )
        verified += result.count
        last = result.last_sound
        prev = result.last_hash
    return VerifyReport(verified, last, head)


# -- in the worker processes -----------------------------------------------------

_store: EventStore | None = None
_loop: asyncio.AbstractEventLoop | None = None


def _init(url: str) -> None:
    global _store, _loop
    _loop = asyncio.new_event_loop()
    _store = _loop.run_until_complete(open_store(url))
    # Run at the worker's orderly exit, while threads still work (atexit is too late).
    multiprocessing.util.Finalize(None, _close, exitpriority=10)


def _close() -> None:
    if _store is not None and _loop is not None:
        _loop.run_until_complete(_store.close())
        _loop.close()


def _verify_range(after: int, upto: int) -> RangeResult:
    assert _store is not None
    assert _loop is not None
    return _loop.run_until_complete(_check_range(_store, after, upto))


async def _check_range(store: EventStore, after: int, upto: int) -> RangeResult:
    count, prev, first = 0, b"", None

    async def read(position: int, limit: int) -> Sequence[ChainRow]:
        return await store.read_chain(after=position, limit=limit)

    last = after
    async with aclosing(paged(read, _position, after=after, upto=upto, page=VERIFY_PAGE)) as pages:
        async for rows in pages:
            if first is None:
                first = rows[0]
                prev = bytes(first[9])  # the seam's link is the parent's to check
            bad, prev = check_rows(rows, prev)
            if bad is not None:
                index, broken = bad
                return _result(first, count + index, prev, broken, count + index,
                               rows[index - 1][0] if index else last)  # fmt: skip
            count += len(rows)
            last = rows[-1][0]
    return _result(first, count, prev, None, count, last)


def _result(
    first: ChainRow | None,
    count: int,
    last_hash: bytes,
    broken: BrokenLink | None,
    verified: int,
    last_sound: int,
) -> RangeResult:
    if first is None:
        return RangeResult(0)
    return RangeResult(
        count, first[0], first[2], first[4], first[6], bytes(first[9]), bytes(last_hash),
        broken, verified, last_sound,
    )  # fmt: skip


def _position(row: ChainRow) -> int:
    position: int = row[0]
    return position
