"""Small helpers every compute decider uses."""

from __future__ import annotations

from collections.abc import Iterable

from cairn.events import ANY_VERSION, NO_STREAM, DomainEvent, Metadata, registry
from cairn.projections.compute import ComputeState
from cairn.store.port import StreamWrite

Writes = list[StreamWrite]


def write(
    state: ComputeState, stream: str, events: Iterable[DomainEvent], meta: Metadata
) -> StreamWrite:
    """``events`` for ``stream``, expecting the version the state folded."""
    return StreamWrite(
        stream,
        [registry.new(event, meta) for event in events],
        state.versions.get(stream, NO_STREAM),
    )


def new_stream(stream: str, events: Iterable[DomainEvent], meta: Metadata) -> StreamWrite:
    """``events`` starting ``stream``, which must not exist yet."""
    return StreamWrite(stream, [registry.new(event, meta) for event in events], NO_STREAM)


def append_any(stream: str, events: Iterable[DomainEvent], meta: Metadata) -> StreamWrite:
    """``events`` for ``stream`` at whatever version it has: for releases, which
    only give back and are idempotent, so no decision rests on the version."""
    return StreamWrite(stream, [registry.new(event, meta) for event in events], ANY_VERSION)


def merge(*groups: Iterable[StreamWrite]) -> Writes:
    """Writes for one append with each stream once: the events of a stream named
    twice are joined, in order, at the first write's expected version."""
    merged: dict[str, StreamWrite] = {}
    for group in groups:
        for found in group:
            before = merged.get(found.stream)
            merged[found.stream] = (
                found
                if before is None
                else StreamWrite(
                    found.stream, [*before.events, *found.events], before.expected_version
                )
            )
    return list(merged.values())
