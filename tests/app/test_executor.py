"""The command executor: decide, append, re-decide on conflict, read your writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest

from cairn.app import CommandConflict, CommandExecutor
from cairn.events import NO_STREAM, DomainEvent, RecordedEvent, registry
from cairn.projections import Projection, handles
from cairn.readmodel import ProjectionRunner
from cairn.store import StreamWrite
from cairn.store.sqlite import SQLiteEventStore


@registry.event
class TallyCounted(DomainEvent):
    by: int


class Tally(msgspec.Struct):
    total: int = 0
    version: int = 0


class Tallies(Projection[Tally]):
    name = "test-tallies"
    state_type: ClassVar[Any] = Tally

    def initial(self) -> Tally:
        return Tally()

    @handles("TallyCounted")
    def _counted(self, state: Tally, event: RecordedEvent, data: TallyCounted) -> Tally:
        state.total += data.by
        state.version = event.version
        return state


STREAM = "tally-1"


def count(by: int, expected: int) -> list[StreamWrite]:
    return [StreamWrite(STREAM, [registry.new(TallyCounted(by=by))], expected)]


@pytest.fixture
async def executor(tmp_path: Path) -> AsyncIterator[CommandExecutor[Tally]]:
    store = await SQLiteEventStore.open(tmp_path / "cairn.sqlite")
    runner = ProjectionRunner(store, Tallies())
    await runner.start()
    yield CommandExecutor(store, runner, max_attempts=10)
    await runner.stop()
    await store.close()


async def test_the_answer_reads_its_own_write(executor: CommandExecutor[Tally]) -> None:
    result = await executor.execute(lambda state: count(3, state.version))
    assert result is not None
    assert result.versions == {STREAM: 1}
    # No sleep, no polling: the state already includes the append.
    assert executor.state.total == 3
    assert executor.runner.position >= result.position


async def test_a_decider_with_nothing_to_do_appends_nothing(
    executor: CommandExecutor[Tally],
) -> None:
    assert await executor.execute(lambda state: []) is None
    assert await executor.store.head() == 0


async def test_a_refusal_is_the_deciders_error(executor: CommandExecutor[Tally]) -> None:
    def refuse(state: Tally) -> Sequence[StreamWrite]:
        raise LookupError("no such tally")

    with pytest.raises(LookupError):
        await executor.execute(refuse)
    assert await executor.store.head() == 0


async def test_a_conflict_is_decided_again_on_fresh_state(
    executor: CommandExecutor[Tally],
) -> None:
    await executor.execute(lambda state: count(1, NO_STREAM))
    seen: list[int] = []

    def stale_then_fresh(state: Tally) -> Sequence[StreamWrite]:
        seen.append(state.version)
        # The first decision uses a version another writer has moved past.
        return count(10, NO_STREAM if len(seen) == 1 else state.version)

    result = await executor.execute(stale_then_fresh)
    assert result is not None
    assert seen == [1, 1]
    assert executor.state.total == 11


async def test_retries_are_bounded_and_write_nothing(executor: CommandExecutor[Tally]) -> None:
    await executor.execute(lambda state: count(1, NO_STREAM))
    calls = 0

    def always_stale(state: Tally) -> Sequence[StreamWrite]:
        nonlocal calls
        calls += 1
        return count(5, NO_STREAM)

    with pytest.raises(CommandConflict) as caught:
        await executor.execute(always_stale)
    assert calls == executor.max_attempts == caught.value.attempts
    assert executor.state.total == 1
    assert await executor.store.head() == 1


async def test_concurrent_commands_all_land_exactly_once(
    executor: CommandExecutor[Tally],
) -> None:
    results = await asyncio.gather(
        *(executor.execute(lambda state: count(1, state.version)) for _ in range(6))
    )
    assert all(result is not None for result in results)
    assert executor.state.total == 6
    assert executor.state.version == 6
    assert len(await executor.store.read_stream(STREAM)) == 6
