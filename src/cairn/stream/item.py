"""An event as subscribers receive it: encoded once, with what filters look at.

Every delivered event is the same JSON document, whoever receives it and
however (WebSocket, Server-Sent Events, a resource's history)::

    {"position": 42, "id": "0192…", "type": "UserCreated", "stream": "user-ab12",
     "category": "user", "version": 1, "recorded_at": "2026-11-21T12:00:00.123456Z",
     "project_ids": ["p1"], "metadata": {"request_id": "req-…", "user_id": "u1",
     "project_id": "p1"}, "data": {"user_id": "ab12", "password_hash": "[redacted]", …}}

``project_ids`` are the projects the event belongs to (:func:`event_projects`);
``data`` is the stored payload with secrets withheld (:mod:`cairn.stream.redact`).
An :class:`Item` carries those bytes and the fields filters test, so that a
thousand subscribers cost one encoding.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from cairn.events import RecordedEvent
from cairn.stream.redact import redact


class _Document(msgspec.Struct):
    position: int
    id: uuid.UUID
    type: str
    stream: str
    category: str
    version: int
    recorded_at: datetime
    project_ids: list[str]
    metadata: msgspec.Raw
    data: msgspec.Raw


class _ProjectField(msgspec.Struct):
    """The one field read from a payload or metadata to place the event."""

    project_id: str | None = None


_encoder = msgspec.json.Encoder()
_project_decoder = msgspec.json.Decoder(_ProjectField)
_PROJECT_KEY = b'"project_id"'


class Item(msgspec.Struct, frozen=True):
    """One event, ready to deliver: its JSON document and its filterable fields."""

    position: int
    type: str
    stream: str
    category: str
    projects: tuple[str, ...]
    json: bytes


def _project_of(raw: bytes) -> str | None:
    if _PROJECT_KEY not in raw:
        return None
    try:
        return _project_decoder.decode(raw).project_id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def event_projects(event: RecordedEvent) -> tuple[str, ...]:
    """The projects an event belongs to: its metadata's ``project_id`` (the
    project of the caller who caused it) and its payload's top-level
    ``project_id`` (the project of the resource it is about), when present.

    A pure function of the stored event, so that a subscriber resuming from
    the log sees exactly what it would have seen live. Services that want
    their events visible to a project's members put ``project_id`` in the
    payload (or act with metadata naming the project).
    """
    first = _project_of(event.raw_metadata)
    second = _project_of(event.data)
    if first is None:
        return (second,) if second is not None else ()
    if second is None or second == first:
        return (first,)
    return (first, second)


def make_item(event: RecordedEvent) -> Item:
    projects = event_projects(event)
    category, _, _ = event.stream.partition("-")
    document = _Document(
        event.position, event.id, event.type, event.stream, category, event.version,
        event.recorded_at, list(projects), msgspec.Raw(event.raw_metadata or b"{}"),
        msgspec.Raw(redact(event.type, event.data) or b"null"),
    )  # fmt: skip
    return Item(event.position, event.type, event.stream, category, projects,
                _encoder.encode(document))  # fmt: skip
