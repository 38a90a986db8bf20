"""The projection runner: fold, follow, snapshot, restart, read-your-writes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cairn.events import DomainEvent, RecordedEvent, registry
from cairn.projections import Projection, handles
from cairn.readmodel import ProjectionRunner, ReadModelLagging
from cairn.store import StreamWrite
from cairn.store.sqlite import SQLiteEventStore


@registry.event
class CounterIncremented(DomainEvent):
    by: int


@registry.event
class CounterReset(DomainEvent):
    pass


class Counters(Projection[dict[str, int]]):
    """Per-stream counters: a tiny projection for the runner's tests."""

    name = "test-counters"
    state_type: ClassVar[Any] = dict[str, int]

    def initial(self) -> dict[str, int]:
        return {}

    @handles("CounterIncremented")
    def _incremented(
        self, state: dict[str, int], event: RecordedEvent, data: CounterIncremented
    ) -> dict[str, int]:
        state[event.stream] = state.get(event.stream, 0) + data.by
        return state

    @handles("CounterReset")
    def _reset(
        self, state: dict[str, int], event: RecordedEvent, data: CounterReset
    ) -> dict[str, int]:
        state.pop(event.stream, None)
        return state


def _inc(by: int) -> StreamWrite:
    return StreamWrite("counter-a", [registry.new(CounterIncremented(by=by))])


def test_the_fold_is_events_in_state_out() -> None:
    from tests.events.test_registry import _recorded

    events = [
        _recorded("CounterIncremented", b'{"by":2}', 1),
        _recorded("CounterIncremented", b'{"by":3}', 1),
        _recorded("SomethingElse", b"{}", 1),
        _recorded("CounterReset", b"{}", 1),
        _recorded("CounterIncremented", b'{"by":7}', 1),
    ]
    fold = Counters()
    state = fold.initial()
    seen = []
    for event in events:
        state = fold.apply(state, event)
        seen.append(dict(state))
    assert seen == [{"thing-1": 2}, {"thing-1": 5}, {"thing-1": 5}, {}, {"thing-1": 7}]


async def test_runner_follows_the_log_and_reads_its_own_writes(tmp_path: Path) -> None:
    store = await SQLiteEventStore.open(tmp_path / "s.sqlite")
    runner = ProjectionRunner(store, Counters())
    await runner.start()
    try:
        for by in (1, 2, 3):
            result = await store.append(_inc(by))
            await runner.wait_for(result.position, timeout=5)
            assert runner.position >= result.position
        assert runner.state == {"counter-a": 6}
        with pytest.raises(ReadModelLagging, match="not yet at 999"):
            await runner.wait_for(999, timeout=0.05)
    finally:
        await runner.stop()
        await store.close()


async def test_restart_resumes_from_the_snapshot_not_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = await SQLiteEventStore.open(path)
    await asyncio.gather(*(store.append(_inc(1)) for _ in range(120)))
    runner = ProjectionRunner(store, Counters(), snapshot_every=50)
    await runner.load()
    assert runner.state == {"counter-a": 120}
    await runner.stop()
    assert await store.load_checkpoint("test-counters") == 120
    for _ in range(5):
        await store.append(_inc(10))
    await store.close()

    store = await SQLiteEventStore.open(path)
    reads: list[int] = []
    real_read_all = store.read_all

    async def counting_read_all(*, after: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        reads.append(after)
        return await real_read_all(after=after, limit=limit)

    store.read_all = counting_read_all  # type: ignore[method-assign]
    again = ProjectionRunner(store, Counters())
    await again.load()
    assert again.state == {"counter-a": 170}
    assert reads[0] == 120, "the replay must start at the snapshot's position"
    await store.close()


async def test_a_changed_fold_version_ignores_the_old_snapshot(tmp_path: Path) -> None:
    store = await SQLiteEventStore.open(tmp_path / "s.sqlite")
    for _ in range(3):
        await store.append(_inc(1))
    first = ProjectionRunner(store, Counters())
    await first.load()
    await first.stop()

    class DoubleCounters(Counters):
        """The fold's meaning changed: every increment now counts twice."""

        version = 2

        @handles("CounterIncremented")
        def _incremented(
            self, state: dict[str, int], event: RecordedEvent, data: CounterIncremented
        ) -> dict[str, int]:
            state[event.stream] = state.get(event.stream, 0) + 2 * data.by
            return state

    second = ProjectionRunner(store, DoubleCounters())
    await second.load()
    assert second.state == {"counter-a": 6}, "a v1 snapshot (3) must not seed the v2 fold"
    assert (await store.load_snapshot("test-counters")) is not None
    await store.close()


async def test_changed_position_moves_only_with_events_the_projection_folds(
    tmp_path: Path,
) -> None:
    from cairn.events import NewEvent

    store = await SQLiteEventStore.open(tmp_path / "s.sqlite")
    runner = ProjectionRunner(store, Counters())
    await runner.start()
    try:
        folded = await store.append(_inc(1))
        other = await store.append(StreamWrite("else-1", [NewEvent(type="Unrelated", data=b"{}")]))
        await runner.wait_for(other.position, timeout=5)
        assert runner.position == other.position
        assert runner.changed_position == folded.position
    finally:
        await runner.stop()
        await store.close()
