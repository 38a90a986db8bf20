"""Points in the log's history: a global position, or a moment in time.

A moment is turned into the position of the last event recorded at or before
it. Positions are in commit order and ``recorded_at`` is taken as each batch is
planned, so recorded times rise with position; the lookup is a binary search
of a few dozen one-row reads, not a scan.
"""

from __future__ import annotations

from datetime import datetime

from cairn.errors import CairnError
from cairn.store.port import EventStore


class BadPoint(CairnError):
    """A point was neither a position nor a time Cairn can read."""


def parse_point(text: str) -> int | datetime:
    """``1234`` is a position; ``2026-11-21T14:03``, ``2026-11-21 14:03:05+01:00``
    or ``...Z`` is a time (without an offset: this machine's local time)."""
    text = text.strip()
    if text.isdecimal() and text.isascii():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadPoint(
            f"{text!r} is neither a position (a whole number) nor an ISO time "
            "such as 2026-11-21T14:03:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


async def position_at(store: EventStore, moment: datetime, *, head: int | None = None) -> int:
    """The position of the last event recorded at or before ``moment``; 0 if none."""
    lo, hi = 0, await store.head() if head is None else head
    while lo < hi:
        mid = (lo + hi + 1) // 2
        found = await store.read_all(after=mid - 1, limit=1)
        if found and found[0].position <= hi and found[0].recorded_at <= moment:
            lo = found[0].position
        else:
            hi = mid - 1
    return lo


async def resolve(store: EventStore, text: str, *, head: int) -> int:
    """The position ``text`` names, no further than ``head``."""
    point = parse_point(text)
    if isinstance(point, int):
        return min(point, head)
    return await position_at(store, point, head=head)
