"""What a subscriber asked to see, and what it may see, as one hashable value.

A :class:`Selection` is the conjunction of every filter given (and of the
caller's visibility, which the API folds into ``projects``). Each filter is
optional; several values of one filter are alternatives:

* ``types``: event type patterns with shell wildcards (``Server*``, ``*Denied``);
* ``categories``: stream categories (``server``, ``user``);
* ``resource``: a stream name (``server-ab12``) or an id (every
  ``<category>-<id>`` stream);
* ``projects``: the event belongs to one of these projects
  (:func:`cairn.stream.item.event_projects`); ``None`` is no restriction.

Selections are frozen and hashable: the hub groups subscribers with equal
selections and matches each batch of events once per group.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cairn.stream.item import Item


@dataclass(frozen=True, slots=True)
class Selection:
    types: tuple[str, ...] = ()
    categories: frozenset[str] = frozenset()
    resource: str | None = None
    projects: frozenset[str] | None = None
    _type_pattern: re.Pattern[str] | None = field(
        default=None, init=False, compare=False, hash=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.types:
            joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in self.types)
            object.__setattr__(self, "_type_pattern", re.compile(joined))

    @property
    def everything(self) -> bool:
        return (
            not self.types and not self.categories and self.resource is None
            and self.projects is None
        )  # fmt: skip

    def matches(self, item: Item) -> bool:
        if self._type_pattern is not None and self._type_pattern.match(item.type) is None:
            return False
        if self.categories and item.category not in self.categories:
            return False
        resource = self.resource
        if resource is not None and not (
            item.stream == resource or item.stream.partition("-")[2] == resource
        ):
            return False
        projects = self.projects
        return projects is None or any(p in projects for p in item.projects)

    def select(self, items: Sequence[Item]) -> Sequence[Item]:
        """The items this selection lets through, in order (``items`` itself when all)."""
        if self.everything:
            return items
        matches = self.matches
        return [item for item in items if matches(item)]


def split_values(raw: Iterable[str]) -> tuple[str, ...]:
    """Query values given repeated or comma-separated, blanks dropped, order kept."""
    seen: dict[str, None] = {}
    for value in raw:
        for part in value.split(","):
            part = part.strip()
            if part:
                seen[part] = None
    return tuple(seen)
