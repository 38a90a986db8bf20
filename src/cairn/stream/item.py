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
    """The fields read from a payload or metadata to place the event."""

    project_id: str | None = None
    owner: str | None = None  # an image's project (Glance names it ``owner``)


_encoder = msgspec.json.Encoder()
_project_decoder = msgspec.json.Decoder(_ProjectField)
_PROJECT_KEYS = (b'"project_id"', b'"owner"')


class Item(msgspec.Struct, frozen=True):
    """One event, ready to deliver: its JSON document and its filterable fields."""

    position: int
    type: str
    stream: str
    category: str
    projects: tuple[str, ...]
    json: bytes


def _project_of(raw: bytes, *, owner: bool = False) -> str | None:
    if not any(key in raw for key in _PROJECT_KEYS):
        return None
    try:
        fields = _project_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if fields.project_id is None and owner:
        return fields.owner
    return fields.project_id


def payload_project(event: RecordedEvent) -> str | None:
    """The project of the resource an event is about, as its payload names it:
    ``project_id``, or an image's ``owner``; ``None`` when it names none."""
    return _project_of(event.data, owner=event.stream.startswith("image-"))


def event_projects(event: RecordedEvent) -> tuple[str, ...]:
    """The projects an event belongs to: the project of the resource it is
    about (its payload's ``project_id``, an image's ``owner``) or, only when
    the payload names none, its metadata's ``project_id`` (the project of the
    caller who caused it).

    The caller's project comes second on purpose: an admin acting on another
    project's server must not make that server's events visible to every
    member of the admin's project. A pure function of the stored event, so
    that a subscriber resuming from the log sees exactly what it would have
    seen live.
    """
    resource = payload_project(event)
    if resource is not None:
        return (resource,)
    caller = _project_of(event.raw_metadata)
    return (caller,) if caller is not None else ()


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
