"""The image projection: events in, state out, no database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cairn.events import DomainEvent, RecordedEvent, registry
from cairn.events import image as ev
from cairn.projections.catalog import catalog
from cairn.projections.image import ImageProjection, ImageState

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def recorded(events: list[tuple[str, DomainEvent]]) -> list[RecordedEvent]:
    versions: dict[str, int] = {}
    out = []
    for position, (stream, event) in enumerate(events, start=1):
        new = registry.new(event)
        versions[stream] = versions.get(stream, 0) + 1
        out.append(RecordedEvent(uuid.uuid4(), stream, versions[stream], position, new.type, 1,
                                 AT, new.data, b"{}", b"", b""))  # fmt: skip
    return out


def fold(events: list[tuple[str, DomainEvent]]) -> ImageState:
    projection = ImageProjection()
    state = projection.initial()
    for event in recorded(events):
        state = projection.apply(state, event)
    return state


ATTRS = ev.ImageAttributes(name="one", disk_format="raw", container_format="bare")


def test_an_image_lifecycle() -> None:
    state = fold([
        ("image-i", ev.ImageCreated(image_id="i", owner="p", attributes=ATTRS)),
        ("imagequota-p", ev.ImageUsageChanged(project_id="p", images=1, bytes=0)),
        ("image-i", ev.ImageUploadStarted(image_id="i")),
        ("image-i", ev.ImageDataUploaded(image_id="i", size=5, checksum="m", os_hash_algo="sha512",
                                         os_hash_value="s", virtual_size=None)),
        ("imagequota-p", ev.ImageUsageChanged(project_id="p", images=1, bytes=5)),
        ("image-i", ev.ImageMemberAdded(image_id="i", member_id="q")),
        ("image-i", ev.ImageMemberStatusChanged(image_id="i", member_id="q", status="accepted")),
        ("image-i", ev.ImageDeactivated(image_id="i")),
    ])  # fmt: skip
    image = state.images["i"]
    assert (image.status, image.owner, image.data.size if image.data else None) == (
        "deactivated", "p", 5,
    )  # fmt: skip
    assert image.members["q"].status == "accepted"
    assert (state.usage["p"].images, state.usage["p"].bytes) == (1, 5)
    assert state.versions == {"image-i": 6, "imagequota-p": 2}


def test_a_failed_upload_is_queued_again_and_a_deleted_image_is_gone() -> None:
    state = fold([
        ("image-i", ev.ImageCreated(image_id="i", owner=None, attributes=ATTRS)),
        ("image-i", ev.ImageUploadStarted(image_id="i")),
        ("image-i", ev.ImageUploadFailed(image_id="i", reason="cut off")),
    ])  # fmt: skip
    assert state.images["i"].status == "queued"
    assert state.images["i"].data is None
    state = fold([
        ("image-i", ev.ImageCreated(image_id="i", owner=None, attributes=ATTRS)),
        ("image-i", ev.ImageDeleted(image_id="i")),
    ])  # fmt: skip
    assert state.images == {}
    assert state.versions["image-i"] == 2  # the id stays taken


def test_the_state_survives_a_snapshot_and_the_audit_tool_knows_it() -> None:
    state = fold([("image-i", ev.ImageCreated(image_id="i", owner="p", attributes=ATTRS))])
    projection = ImageProjection()
    again = projection.decode_state(projection.encode_state(state))
    assert again == state
    entry = catalog.get("images")
    rows = entry.rows(state, "p")
    assert [(r["id"], r["name"], r["status"]) for r in rows] == [("i", "one", "queued")]
    assert entry.rows(state, "other") == []
