"""Typed events: encoding, decoding, and upcasting old shapes on read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec
import pytest

from cairn.events import (
    GENESIS_HASH,
    DomainEvent,
    EventRegistry,
    Metadata,
    RecordedEvent,
    UnknownEventType,
    stream_category,
    stream_name,
)


def _recorded(type_: str, data: bytes, schema_version: int) -> RecordedEvent:
    return RecordedEvent(
        id=uuid.uuid4(),
        stream="thing-1",
        version=1,
        position=1,
        type=type_,
        schema_version=schema_version,
        recorded_at=datetime.now(UTC),
        data=data,
        raw_metadata=b"{}",
        prev_hash=GENESIS_HASH,
        hash=GENESIS_HASH,
    )


def test_new_encodes_a_registered_event_with_its_type_and_schema_version() -> None:
    reg = EventRegistry()

    @reg.event
    class ThingMade(DomainEvent):
        name: str

    new = reg.new(ThingMade(name="a"), Metadata(user_id="u"))
    assert (new.type, new.schema_version, new.metadata.user_id) == ("ThingMade", 1, "u")
    assert msgspec.json.decode(new.data) == {"name": "a"}
    assert reg.decode(_recorded(new.type, new.data, 1)) == ThingMade(name="a")


def test_old_shapes_are_upcast_step_by_step_on_read() -> None:
    reg = EventRegistry()

    @reg.event
    class ServerRenamed(DomainEvent):
        schema_version: ClassVar[int] = 3
        display_name: str
        reason: str

    @reg.upcaster("ServerRenamed", 1)
    def _v1_v2(raw: dict[str, Any]) -> dict[str, Any]:
        return {"display_name": raw["name"]}

    @reg.upcaster("ServerRenamed", 2)
    def _v2_v3(raw: dict[str, Any]) -> dict[str, Any]:
        return {**raw, "reason": "unknown"}

    stored_v1 = _recorded("ServerRenamed", b'{"name":"web"}', 1)
    assert reg.decode(stored_v1) == ServerRenamed(display_name="web", reason="unknown")
    stored_v2 = _recorded("ServerRenamed", b'{"display_name":"db"}', 2)
    assert reg.decode(stored_v2) == ServerRenamed(display_name="db", reason="unknown")


def test_a_missing_upcaster_or_type_is_a_clear_error() -> None:
    reg = EventRegistry()

    @reg.event
    class Moved(DomainEvent):
        schema_version: ClassVar[int] = 2
        to: str

    with pytest.raises(UnknownEventType, match="no upcaster leads from it"):
        reg.decode(_recorded("Moved", b'{"x":1}', 1))
    with pytest.raises(UnknownEventType, match="no event type named 'Vanished'"):
        reg.decode(_recorded("Vanished", b"{}", 1))


def test_unregistered_classes_and_duplicate_names_are_refused() -> None:
    reg = EventRegistry()

    class Stray(DomainEvent):
        x: int

    with pytest.raises(UnknownEventType):
        reg.new(Stray(x=1))
    reg.event(Stray)
    with pytest.raises(ValueError, match="already registered"):
        reg.event(type("Stray", (DomainEvent,), {"__annotations__": {"y": int}}))


def test_stream_names_are_category_dash_id() -> None:
    assert stream_name("server", "abc") == "server-abc"
    assert stream_category("server-abc-def") == "server"
    with pytest.raises(ValueError, match="may not contain"):
        stream_name("bad-cat", "1")


def test_event_ids_are_version_7_and_ordered_by_time() -> None:
    import time

    from cairn.events.envelope import new_event_id

    first = new_event_id()
    time.sleep(0.002)
    later = [new_event_id() for _ in range(1000)]
    assert first.version == 7
    assert first.variant == uuid.RFC_4122
    assert all(u.version == 7 for u in later)
    assert len(set(later)) == 1000
    assert all(first < u for u in later), "an id from a later millisecond sorts after"
    assert uuid.UUID(str(first)) == first
    assert hash(uuid.UUID(bytes=first.bytes)) == hash(first)
    millis = first.int >> 80
    assert abs(millis - time.time() * 1000) < 60_000
