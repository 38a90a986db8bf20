"""Replay to a past position or time; check snapshots against a rebuild."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import msgspec

from cairn.audit import check, position_at, replay, resolve
from cairn.events import RecordedEvent
from cairn.projections import Projection, handles
from cairn.projections.catalog import catalog
from cairn.projections.streams import Streams
from cairn.readmodel import ProjectionRunner
from cairn.store import EventStore, Snapshot
from tests.audit.conftest import (
    THING_A,
    THING_B,
    AuditThingCreated,
    Handle,
    append_many,
    append_sequence,
)


class ThingNames(Projection[dict[str, str]]):
    """thing stream -> its name; deleted things disappear."""

    name = "audit-test-things"
    state_type: ClassVar[Any] = dict[str, str]

    def initial(self) -> dict[str, str]:
        return {}

    @handles("AuditThingCreated", "AuditThingRenamed")
    def _named(
        self, state: dict[str, str], event: RecordedEvent, data: AuditThingCreated
    ) -> dict[str, str]:
        state[event.stream] = data.name
        return state

    @handles("AuditThingDeleted")
    def _deleted(self, state: dict[str, str], event: RecordedEvent, data: Any) -> dict[str, str]:
        state.pop(event.stream, None)
        return state


async def live_state(store: EventStore) -> tuple[dict[str, str], int]:
    """What the live read model holds right now."""
    runner = ProjectionRunner(store, ThingNames())
    await runner.load()
    return dict(runner.state), runner.position


async def test_replay_at_a_past_position_is_what_the_read_model_held_then(
    handle: Handle,
) -> None:
    store = handle.store
    await append_sequence(store)
    then, position = await live_state(store)
    await append_many(store, 30)
    result = await replay(store, [ThingNames()], upto=position)
    assert result.states["audit-test-things"] == then
    assert result.position == position == 6
    assert then == {f"thing-{THING_B}": "b", f"quota-{THING_A}": "quota"}
    earlier = await replay(store, [ThingNames()], upto=4)
    assert earlier.states["audit-test-things"] == {
        f"thing-{THING_A}": "a2", f"quota-{THING_A}": "quota", f"thing-{THING_B}": "b",
    }  # fmt: skip
    assert earlier.events == 4


async def test_replay_at_a_past_time_stops_at_the_last_event_recorded_by_then(
    handle: Handle,
) -> None:
    store = handle.store
    steps = await append_sequence(store)
    then, _ = await live_state(store)
    last = (await store.read_all(after=steps["a_deleted"] - 1, limit=1))[0].recorded_at
    # The next events must be recorded strictly later; wait (bounded) for the clock.
    deadline = time.monotonic() + 2
    while datetime.now(UTC) <= last + timedelta(microseconds=1):
        assert time.monotonic() < deadline, "the clock did not move"
        await asyncio.sleep(0.001)
    await append_many(store, 20)
    assert await position_at(store, last) == steps["a_deleted"]
    assert await resolve(store, last.isoformat(), head=await store.head()) == steps["a_deleted"]
    result = await replay(store, [ThingNames()], upto=await position_at(store, last))
    assert result.states["audit-test-things"] == then
    first = (await store.read_all(limit=1))[0].recorded_at
    assert await position_at(store, first - timedelta(seconds=1)) == 0


async def test_the_streams_projection_shows_what_existed_per_project(handle: Handle) -> None:
    store = handle.store
    steps = await append_sequence(store)
    entry = catalog.get("streams")
    result = await replay(store, [entry.new()], upto=steps["a_renamed"])
    rows = entry.rows(result.states["streams"], None)
    assert [(r["stream"], r["version"], r["last_event"], r["project"]) for r in rows] == [
        (f"quota-{THING_A}", 1, "AuditThingCreated", "p1"),
        (f"thing-{THING_A}", 2, "AuditThingRenamed", "p1"),
        (f"thing-{THING_B}", 1, "AuditThingCreated", "p2"),
    ]
    assert [r["stream"] for r in entry.rows(result.states["streams"], "p2")] == [f"thing-{THING_B}"]


async def test_check_finds_a_consistent_snapshot_consistent(handle: Handle) -> None:
    store = handle.store
    await append_sequence(store)
    runner = ProjectionRunner(store, ThingNames())
    await runner.load()
    await runner.snapshot()
    streams = ProjectionRunner(store, Streams())
    await streams.load()
    await streams.snapshot()
    await append_many(store, 25)  # events after the snapshots do not matter
    results = await check(store, [ThingNames(), Streams()])
    assert [(r.projection, r.status, r.position) for r in results] == [
        ("audit-test-things", "consistent", 6),
        ("streams", "consistent", 6),
    ]
    assert not any(r.failed for r in results)


async def test_check_reports_a_corrupted_snapshot(handle: Handle) -> None:
    store = handle.store
    await append_sequence(store)
    await append_many(store, 10)
    corrupt = {f"thing-{THING_B}": "renamed-by-hand", "thing-ghost": "x"}
    await store.save_snapshot(
        Snapshot("audit-test-things", ThingNames.version, 8, msgspec.msgpack.encode(corrupt))
    )
    # a snapshot in the middle of the second page, to cross a page seam
    (result,) = await check(store, [ThingNames()])
    assert result.status == "diverged"
    assert result.failed
    assert result.position == 8
    text = "\n".join(result.differences)
    assert "thing-ghost" in text
    assert "absent from the rebuild" in text
    assert "renamed-by-hand" in text
    assert f"quota-{THING_A}" in text
    assert "missing from the snapshot" in text


async def test_check_says_when_there_is_nothing_to_compare(handle: Handle) -> None:
    store = handle.store
    await append_sequence(store)
    await store.save_snapshot(Snapshot("streams", Streams.version + 1, 3, b"\x80"))
    await store.save_snapshot(Snapshot("audit-test-things", 1, 99, b"\x80"))
    results = await check(store, [Streams(), ThingNames(), _Unsnapshotted()])
    assert [(r.projection, r.status, r.failed) for r in results] == [
        ("streams", "other fold version", False),
        ("audit-test-things", "ahead of log", True),
        ("audit-test-unsnapshotted", "no snapshot", False),
    ]


async def test_check_compares_several_snapshots_in_one_pass(handle: Handle) -> None:
    store = handle.store
    await append_many(store, 40, per_append=3)
    things = await replay(store, [ThingNames()], upto=17)
    await store.save_snapshot(
        Snapshot(
            "audit-test-things",
            1,
            17,
            ThingNames().encode_state(things.states["audit-test-things"]),
        )
    )
    everything = await replay(store, [Streams()], upto=40)
    await store.save_snapshot(
        Snapshot("streams", 1, 40, Streams().encode_state(everything.states["streams"]))
    )
    results = await check(store, [Streams(), ThingNames()])
    assert [(r.status, r.position) for r in results] == [("consistent", 40), ("consistent", 17)]


class _Unsnapshotted(ThingNames):
    name = "audit-test-unsnapshotted"
