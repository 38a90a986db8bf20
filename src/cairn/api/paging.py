"""One paging rule for every service's listings: ``limit``, ``marker``, and
whether a next page exists.

OpenStack services page the same way (Nova, Neutron, Cinder, Glance): a
listing is cut after ``marker`` to at most ``limit`` items, ``limit`` is capped
by the deployment's maximum (Nova's ``[api] max_limit``), and a next link is
given when more items follow. The read models hold a listing whole in memory,
so "more follow" is known exactly: a next link appears whenever, and only
when, another item exists, even without a ``limit`` (a listing cut at the
cap says so instead of ending silently), and never after an empty page.

``limit=0`` is no limit (the cap), as Nova's and Neutron's databases read it;
a negative or non-integer limit and an unknown marker are :class:`PagingError`,
which each service words in its own fault body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from cairn.errors import CairnError

T = TypeVar("T")

#: The cap when a deployment sets none (Nova's ``max_limit`` default).
DEFAULT_MAX_LIMIT = 1000
_INTEGER = re.compile(r"[ \t]*-?[0-9]+[ \t]*")


class PagingError(CairnError):
    """A bad ``limit`` or ``marker``; ``kind`` says which."""

    def __init__(self, kind: str, value: str) -> None:
        super().__init__(f"bad {kind}: {value!r}")
        self.kind = kind
        self.value = value


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    #: whether items follow the last one of this page
    more: bool


def limit_of(raw: str | None, max_limit: int) -> int:
    """The page size ``raw`` (the ``limit`` parameter) asks for, capped at ``max_limit``."""
    if raw is None:
        return max_limit
    if not raw.isascii() or not _INTEGER.fullmatch(raw) or int(raw) < 0:
        raise PagingError("limit", raw)
    return min(int(raw) or max_limit, max_limit)


def window(
    items: Sequence[T],
    ident: Callable[[T], str],
    *,
    limit: str | None,
    marker: str | None,
    max_limit: int = DEFAULT_MAX_LIMIT,
) -> Page[T]:
    """The page of ``items`` (already filtered and ordered) after ``marker``."""
    size = limit_of(limit, max_limit)
    start = 0
    if marker is not None:
        for index, item in enumerate(items):
            if ident(item) == marker:
                start = index + 1
                break
        else:
            raise PagingError("marker", marker)
    chosen = list(items[start : start + size])
    return Page(chosen, bool(chosen) and start + size < len(items))
