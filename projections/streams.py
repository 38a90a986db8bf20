"""Every stream in the log: its category, version, last event and project.

A generic projection that folds every event type, registered or not, without
decoding payloads; the audit tool's ``replay`` shows it as "what existed then".
A stream's project is the ``project_id`` of the first of its events that names
one (the project that created the resource).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

from cairn.events import RecordedEvent, stream_category
from cairn.events.envelope import decode_metadata
from cairn.projections.catalog import Row, catalog
from cairn.projections.fold import Projection


class StreamInfo(msgspec.Struct, array_like=True):
    category: str
    version: int
    last_type: str
    last_position: int
    last_at: datetime
    project_id: str | None = None


StreamsState = dict[str, StreamInfo]


class AllTypes(frozenset[str]):
    """An ``event_types`` that contains every type: folds see every event.
    (A fold loop may test ``isinstance(wanted, AllTypes)`` to skip the test.)"""

    def __contains__(self, item: object) -> bool:
        return True


_ALL = AllTypes()
_PROJECT_KEY = b'"project_id"'


class Streams(Projection[StreamsState]):
    name = "streams"
    state_type: ClassVar[Any] = StreamsState

    def initial(self) -> StreamsState:
        return {}

    @property
    def event_types(self) -> frozenset[str]:
        return _ALL

    def apply(self, state: StreamsState, event: RecordedEvent) -> StreamsState:
        info = state.get(event.stream)
        if info is None:
            state[event.stream] = StreamInfo(
                stream_category(event.stream),
                event.version,
                event.type,
                event.position,
                event.recorded_at,
                _project(event),
            )
            return state
        info.version = event.version
        info.last_type = event.type
        info.last_position = event.position
        info.last_at = event.recorded_at
        if info.project_id is None:
            info.project_id = _project(event)
        return state


def _project(event: RecordedEvent) -> str | None:
    # Most events name no project: skip the decode unless the key is there.
    if _PROJECT_KEY not in event.raw_metadata:
        return None
    return decode_metadata(event.raw_metadata).project_id


def stream_rows(state: StreamsState, project: str | None) -> list[Row]:
    return [
        {
            "stream": stream,
            "category": info.category,
            "version": info.version,
            "last_event": info.last_type,
            "position": info.last_position,
            "at": info.last_at.isoformat(),
            "project": info.project_id,
        }
        for stream, info in sorted(state.items())
        if project is None or info.project_id == project
    ]


catalog.register(
    "streams",
    Streams,
    rows=stream_rows,
    columns=("stream", "category", "version", "last_event", "position", "at", "project"),
    description="every stream: category, version, last event, project",
)
