"""The agent's fold of a server stream and what it says the host owes the server:
lists of events in, a step out, no store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cairn.agents.compute.server_view import Step, fold, next_step
from cairn.events import GENESIS_HASH, DomainEvent, RecordedEvent, registry
from cairn.events import compute as ev
from cairn.events import compute_migration as mev

SERVER = str(uuid.uuid4())
HOST, OTHER = "node-1", "node-2"
FLAVOR = ev.FlavorSnapshot(flavor_id="1", name="tiny", vcpus=1, ram_mb=128, disk_gb=1)


def record(event_type: str, data: bytes, version: int) -> RecordedEvent:
    fields = (uuid.uuid4(), f"server-{SERVER}", version, version, event_type, 1)
    return RecordedEvent(*fields, datetime.now(UTC), data, b"{}", GENESIS_HASH, GENESIS_HASH)


def recorded(events: list[DomainEvent]) -> list[RecordedEvent]:
    return [
        record(type(event).__name__, registry.new(event).data, version)
        for version, event in enumerate(events, 1)
    ]


CREATED = ev.ServerCreateRequested(
    server_id=SERVER,
    project_id="p",
    user_id="u",
    name="vm",
    flavor=FLAVOR,
    image=ev.ImageSnapshot(image_id="i"),
    created_at="2026-11-21T00:00:00Z",
)


def on(host: str, attempt: int = 1) -> ev.ServerScheduled:
    return ev.ServerScheduled(server_id=SERVER, host=host, attempt=attempt)


STARTED = ev.ServerSpawnStarted(server_id=SERVER, host=HOST)
SPAWNED = ev.ServerSpawned(
    server_id=SERVER, host=HOST, launched_at="2026-11-21T00:00:01Z", instance_name="x"
)
FAILED = ev.ServerSpawnFailed(server_id=SERVER, host=HOST, attempt=1, reason="no")
STOP = ev.ServerActionRequested(server_id=SERVER, host=HOST, action="stop")
STOPPED = ev.ServerActionCompleted(
    server_id=SERVER, host=HOST, action="stop", vm_state="stopped", power_state=4
)
DELETE = ev.ServerDeleteRequested(server_id=SERVER, host=HOST)
DELETED = ev.ServerDeleted(server_id=SERVER, deleted_at="2026-11-21T00:00:02Z")
ERRORED = ev.ServerErrored(server_id=SERVER, fault_code=500, fault_message="deadline")


@pytest.mark.parametrize(
    ("events", "step"),
    [
        ([CREATED], Step.NOTHING),  # not placed yet
        ([CREATED, on(HOST)], Step.SPAWN),
        ([CREATED, on(OTHER)], Step.NOTHING),
        ([CREATED, on(HOST), STARTED], Step.SPAWN),  # the agent died once: try again
        ([CREATED, on(HOST), STARTED, STARTED], Step.FAIL_SPAWN),  # and again: give up
        ([CREATED, on(HOST), STARTED, SPAWNED], Step.SYNC),
        ([CREATED, on(HOST), STARTED, FAILED], Step.NOTHING),
        ([CREATED, on(HOST), STARTED, FAILED, on(OTHER, 2)], Step.NOTHING),
        ([CREATED, on(OTHER), on(HOST, 2)], Step.SPAWN),  # rescheduled here
        ([CREATED, on(HOST), STARTED, SPAWNED, STOP], Step.ACTION),
        ([CREATED, on(HOST), STARTED, SPAWNED, STOP, STOPPED], Step.SYNC),
        ([CREATED, on(HOST), STARTED, SPAWNED, DELETE], Step.DELETE),
        ([CREATED, on(HOST), DELETE], Step.DELETE),  # deleted before it was built
        ([CREATED, on(HOST), STARTED, SPAWNED, STOP, DELETE], Step.DELETE),  # delete first
        ([CREATED, on(HOST), STARTED, SPAWNED, DELETE, DELETED], Step.NOTHING),
        ([CREATED, on(HOST), STARTED, ERRORED], Step.NOTHING),  # the sweeper gave up on it
        ([CREATED, on(HOST), STARTED, SPAWNED, DELETE, ERRORED], Step.SYNC),  # delete failed
        ([CREATED, on(HOST), STARTED, SPAWNED, ERRORED, DELETE], Step.DELETE),
    ],
)
def test_next_step(events: list[DomainEvent], step: Step) -> None:
    assert next_step(fold(SERVER, recorded(events)), HOST) is step


def test_the_view_tracks_version_vm_state_and_project() -> None:
    view = fold(SERVER, recorded([CREATED, on(HOST), STARTED, SPAWNED, STOP, STOPPED]))

    assert (view.version, view.vm_state, view.project_id) == (6, "stopped", "p")
    assert view.on_host(HOST)
    assert not view.on_host(OTHER)


def test_unknown_event_types_are_skipped_but_counted() -> None:
    events = recorded([CREATED, on(HOST)])
    unknown = record("ServerSomethingNew", b"{}", 3)

    view = fold(SERVER, [*events, unknown])

    assert view.version == 3  # the next append expects it
    assert next_step(view, HOST) is Step.SPAWN


def test_a_rebuild_is_owed_to_its_host_and_builds_from_what_it_changed() -> None:
    nic = {"uuid": "net", "port": "p1", "created": "true"}
    booted = ev.ServerCreateRequested(
        **{**{f: getattr(CREATED, f) for f in CREATED.__struct_fields__}, "networks": [nic]}
    )
    plugged = ev.ServerInterfaceAttached(
        server_id=SERVER, host=HOST, nic={"uuid": "net2", "port": "p2", "created": "false"}
    )
    asked = ev.ServerRebuildRequested(
        server_id=SERVER,
        host=HOST,
        image=ev.ImageSnapshot(image_id="new"),
        name="renamed",
        user_data="aGk=",
    )
    events: list[DomainEvent] = [booted, on(HOST), STARTED, SPAWNED, plugged, asked]
    view = fold(SERVER, recorded(events))
    assert next_step(view, HOST) is Step.REBUILD
    assert next_step(view, OTHER) is Step.NOTHING
    assert [n["port"] for n in view.nics] == ["p1", "p2"]
    done = ev.ServerRebuilt(server_id=SERVER, host=HOST, vm_state="active", power_state=1)
    view = fold(SERVER, recorded([*events, done]))
    assert next_step(view, HOST) is Step.SYNC
    assert view.created is not None
    assert (view.created.image.image_id, view.created.name) == ("new", "renamed")
    assert view.created.user_data == "aGk="
    unplugged = ev.ServerInterfaceDetached(server_id=SERVER, host=HOST, port_id="p1")
    view = fold(SERVER, recorded([*events, done, unplugged]))
    assert [n["port"] for n in view.nics] == ["p2"]


def test_an_admins_reset_ends_the_resize_the_agent_owed() -> None:
    bigger = ev.FlavorSnapshot(flavor_id="2", name="small", vcpus=1, ram_mb=256, disk_gb=1)
    asked = mev.ServerResizeRequested(
        server_id=SERVER,
        host=HOST,
        dest_host=HOST,
        migration_id="m",
        migration_type="resize",
        old_flavor=FLAVOR,
        new_flavor=bigger,
    )
    events: list[DomainEvent] = [CREATED, on(HOST), STARTED, SPAWNED, asked]
    assert next_step(fold(SERVER, recorded(events)), HOST) is Step.RESIZE
    reset = ev.ServerStateReset(server_id=SERVER, vm_state="active")
    view = fold(SERVER, recorded([*events, reset]))
    assert view.migration is None
    assert next_step(view, HOST) is Step.SYNC
