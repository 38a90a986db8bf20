"""The events one block storage command appends, gathered per stream.

Each stream's events are appended at the version the deciding state folded
(``NO_STREAM`` for a new resource), so a concurrent command that changed one of
them makes this append fail as a whole and be decided again.
"""

from __future__ import annotations

from cairn.events import NO_STREAM, DomainEvent, Metadata, NewEvent, registry
from cairn.projections.volume import VolumeState
from cairn.store.port import StreamWrite


class Writes:
    def __init__(self, state: VolumeState, meta: Metadata) -> None:
        self.state = state
        self.meta = meta
        self._events: dict[str, list[NewEvent]] = {}
        self._expected: dict[str, int] = {}
        #: (project, type or "") -> [volumes, gigabytes, snapshots] this append adds
        #: (a batch of creates decided together counts the ones before each)
        self.taken: dict[tuple[str, str], list[int]] = {}
        #: usage counted from the state, once per (project, type) for this decision
        self.counted: dict[tuple[str, str], object] = {}

    def add(self, stream: str, event: DomainEvent, *, new: bool = False) -> None:
        if stream not in self._expected:
            self._expected[stream] = (
                NO_STREAM if new else self.state.versions.get(stream, NO_STREAM)
            )
        self._events.setdefault(stream, []).append(registry.new(event, self.meta))

    def result(self) -> list[StreamWrite]:
        return [StreamWrite(s, events, self._expected[s]) for s, events in self._events.items()]
