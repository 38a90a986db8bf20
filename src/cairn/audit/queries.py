"""Questions about who did what: a resource's history, a user's actions, a diff.

* ``history``: every event of one resource. A resource is a stream
  (``server-<id>``), or an id: then every stream named ``<category>-<id>``
  for that exact id (``server-<id>``, ``quota-<id>``...).
* ``who``: every event whose metadata names the user, in log order. That
  includes the audit events of rejected requests (a denied policy check, a
  failed login), which are appended like any other event; their types are not
  special-cased here, only flagged by name (``...Denied``, ``...Failed``,
  ``...Rejected``) for the reader.
* ``diff``: what changed between two points, per stream: how many events,
  from which version to which, which types.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import msgspec

from cairn.audit.scan import event_pages
from cairn.events import RecordedEvent, stream_category
from cairn.events.envelope import decode_metadata
from cairn.store.port import EventStore
from cairn.stream.redact import redact

Progress = Callable[[int], None] | None

_REJECTED = re.compile(r"(Denied|Failed|Rejected|Refused)$")


def is_rejection(type_name: str) -> bool:
    """Whether an event type names a request that was turned down."""
    return _REJECTED.search(type_name) is not None


async def history(
    store: EventStore, resource: str, *, upto: int, on_progress: Progress = None
) -> list[RecordedEvent]:
    """Every event of ``resource`` (a stream name or an id) up to ``upto``."""
    if "-" in resource and await store.stream_version(resource) > 0:
        stream = await store.read_stream(resource)
        return [e for e in stream if e.position <= upto]
    matches: dict[str, bool] = {}
    found: list[RecordedEvent] = []
    async with aclosing(event_pages(store, upto=upto)) as pages:
        async for events in pages:
            for event in events:
                hit = matches.get(event.stream)
                if hit is None:
                    hit = matches[event.stream] = names_resource(event.stream, resource)
                if hit:
                    found.append(event)
            if len(matches) > 1_000_000:
                matches.clear()  # bounded memory on logs of very many streams
            if on_progress is not None:
                on_progress(events[-1].position)
    return found


def names_resource(stream: str, resource: str) -> bool:
    """Whether ``stream`` is the resource: the stream itself, or ``<category>-<resource>``."""
    return stream == resource or stream.partition("-")[2] == resource


async def who(
    store: EventStore, user_id: str, *, upto: int, on_progress: Progress = None
) -> list[RecordedEvent]:
    """Every event whose metadata's ``user_id`` is ``user_id``, up to ``upto``."""
    # Metadata is stored as compact JSON: a byte search skips almost every
    # event without decoding it; the decode confirms.
    needle = b'"user_id":' + msgspec.json.encode(user_id)
    found: list[RecordedEvent] = []
    async with aclosing(event_pages(store, upto=upto)) as pages:
        async for events in pages:
            for event in events:
                if needle in event.raw_metadata and event.metadata.user_id == user_id:
                    found.append(event)
            if on_progress is not None:
                on_progress(events[-1].position)
    return found


class StreamChange(msgspec.Struct):
    """One stream's events between two points."""

    stream: str
    category: str
    events: int
    from_version: int
    to_version: int
    created: bool
    last_type: str
    types: dict[str, int]


async def diff(
    store: EventStore, after: int, upto: int, *, on_progress: Progress = None
) -> list[StreamChange]:
    """Per stream, what the events in ``(after, upto]`` did; sorted by stream."""
    changes: dict[str, StreamChange] = {}
    counts: dict[str, Counter[str]] = {}
    async with aclosing(event_pages(store, after=after, upto=upto)) as pages:
        async for events in pages:
            for event in events:
                change = changes.get(event.stream)
                if change is None:
                    change = changes[event.stream] = StreamChange(
                        event.stream, stream_category(event.stream), 0, event.version - 1,
                        event.version, event.version == 1, event.type, {},
                    )  # fmt: skip
                    counts[event.stream] = Counter()
                change.events += 1
                change.to_version = event.version
                change.last_type = event.type
                counts[event.stream][event.type] += 1
            if on_progress is not None:
                on_progress(events[-1].position)
    for stream, change in changes.items():
        change.types = dict(counts[stream].most_common())
    return [changes[s] for s in sorted(changes)]


def event_row(event: RecordedEvent) -> dict[str, Any]:
    """An event as a flat dict, for the table and ``--format json``; secrets
    withheld as on the event stream (:mod:`cairn.stream.redact`)."""
    metadata = decode_metadata(event.raw_metadata)
    try:
        data: Any = msgspec.json.decode(redact(event.type, event.data))
    except msgspec.DecodeError:
        data = event.data.hex()
    return {
        "position": event.position,
        "at": event.recorded_at.isoformat(),
        "stream": event.stream,
        "version": event.version,
        "type": event.type,
        "rejected": is_rejection(event.type),
        "user": metadata.user_id,
        "project": metadata.project_id,
        "request": metadata.request_id,
        "data": data,
    }


def document_row(document: dict[str, Any]) -> dict[str, Any]:
    """An event document as the stream delivers it (:mod:`cairn.stream.item`), as
    the same flat dict as :func:`event_row`."""
    metadata = document.get("metadata") or {}
    return {
        "position": document["position"],
        "at": document["recorded_at"],
        "stream": document["stream"],
        "version": document["version"],
        "type": document["type"],
        "rejected": is_rejection(document["type"]),
        "user": metadata.get("user_id"),
        "project": metadata.get("project_id"),
        "request": metadata.get("request_id"),
        "data": document.get("data"),
    }
