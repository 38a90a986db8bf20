"""Replay: fold registered projections up to a past position; check snapshots.

``replay`` answers "what existed at position P (or time T), and in what
state": it folds each asked-for projection from the first event up to P, with
the same fold the live read model uses.

``check`` answers "are the live read models right": for every registered
projection with a snapshot in the store, it rebuilds the state from zero up to
the snapshot's position and compares the two. One pass over the log serves
every projection; each one's state is compared when the pass reaches its
snapshot's position.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import Any, Literal

import msgspec

from cairn.audit.scan import event_pages
from cairn.events import RecordedEvent
from cairn.projections import Projection
from cairn.projections.streams import AllTypes
from cairn.store.port import EventStore


class Replayed(msgspec.Struct):
    """States as of ``position``, after folding ``events`` events."""

    position: int
    events: int
    states: dict[str, Any]


async def replay(
    store: EventStore,
    projections: Sequence[Projection[Any]],
    *,
    upto: int,
    on_progress: Callable[[int], None] | None = None,
) -> Replayed:
    """Fold ``projections`` over every event with position ``<= upto``."""
    states = [p.initial() for p in projections]
    folds = [(p.apply, p.event_types) for p in projections]
    count, reached = 0, 0
    async with aclosing(event_pages(store, upto=upto)) as pages:
        async for events in pages:
            for i, (apply, wanted) in enumerate(folds):
                states[i] = _fold(apply, wanted, states[i], events)
            count += len(events)
            reached = events[-1].position
            if on_progress is not None:
                on_progress(reached)
    return Replayed(reached, count, {p.name: s for p, s in zip(projections, states, strict=True)})


def _fold(
    apply: Callable[[Any, RecordedEvent], Any],
    wanted: frozenset[str],
    state: Any,
    events: Sequence[RecordedEvent],
) -> Any:
    if isinstance(wanted, AllTypes):
        for event in events:
            state = apply(state, event)
        return state
    for event in events:
        if event.type in wanted:
            state = apply(state, event)
    return state


Status = Literal["consistent", "diverged", "no snapshot", "other fold version", "ahead of log"]


class CheckResult(msgspec.Struct):
    """One projection's verdict; ``differences`` says where states differ."""

    projection: str
    status: Status
    position: int = 0
    differences: list[str] = []

    @property
    def failed(self) -> bool:
        return self.status in ("diverged", "ahead of log")


#: Differences listed per projection at most; the count says how many more.
MAX_DIFFERENCES = 20


async def check(
    store: EventStore,
    projections: Sequence[Projection[Any]],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> list[CheckResult]:
    """Compare each projection's stored snapshot with a rebuild from zero."""
    head = await store.head()
    results: dict[str, CheckResult] = {}
    targets: list[tuple[int, Projection[Any], bytes]] = []
    for projection in projections:
        snapshot = await store.load_snapshot(projection.name)
        if snapshot is None:
            results[projection.name] = CheckResult(projection.name, "no snapshot")
        elif snapshot.version != projection.version:
            results[projection.name] = CheckResult(
                projection.name, "other fold version", snapshot.position,
                [f"snapshot of fold v{snapshot.version}, this fold is v{projection.version}"],
            )  # fmt: skip
        elif snapshot.position > head:
            results[projection.name] = CheckResult(
                projection.name, "ahead of log", snapshot.position,
                [f"the snapshot is at position {snapshot.position} but the log ends at {head}"],
            )  # fmt: skip
        else:
            targets.append((snapshot.position, projection, snapshot.state))
    targets.sort(key=lambda t: t[0])
    states = {p.name: p.initial() for _, p, _ in targets}
    pending = list(targets)

    def compare_due(upto: int) -> None:
        while pending and pending[0][0] <= upto:
            position, projection, stored = pending.pop(0)
            results[projection.name] = _compare(projection, states.pop(projection.name),
                                                stored, position)  # fmt: skip

    compare_due(0)
    if pending:
        async with aclosing(event_pages(store, upto=pending[-1][0])) as pages:
            async for events in pages:
                start = 0
                while pending and start < len(events):
                    # Fold up to the next snapshot's position, compare there, go on.
                    target = pending[0][0]
                    stop = bisect.bisect_right(events, target, lo=start, key=_position)
                    chunk = events[start:stop]
                    for _, projection, _ in pending:
                        name = projection.name
                        states[name] = _fold(projection.apply, projection.event_types,
                                             states[name], chunk)  # fmt: skip
                    start = stop
                    if stop == len(events) and events[-1].position < target:
                        break  # the target is in a later page
                    compare_due(target)
                if on_progress is not None:
                    on_progress(events[-1].position)
        compare_due(head)  # snapshots past the last event there is
    return [results[p.name] for p in projections]


def _position(event: RecordedEvent) -> int:
    return event.position


def _compare(
    projection: Projection[Any], rebuilt: Any, stored: bytes, position: int
) -> CheckResult:
    # Both sides go through the projection's own codec, so that a dict's order
    # or a tuple-vs-list does not count as a difference; sets are sorted (their
    # order depends on how they were built, not on what they hold).
    try:
        live = msgspec.to_builtins(projection.decode_state(stored), order="deterministic")
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return CheckResult(projection.name, "diverged", position,
                           [f"the snapshot does not decode: {exc}"])  # fmt: skip
    fresh = msgspec.to_builtins(
        projection.decode_state(projection.encode_state(rebuilt)), order="deterministic"
    )
    differences: list[str] = []
    _diff(live, fresh, "state", differences)
    if not differences:
        return CheckResult(projection.name, "consistent", position)
    if len(differences) > MAX_DIFFERENCES:
        more = len(differences) - MAX_DIFFERENCES
        differences = [*differences[:MAX_DIFFERENCES], f"... and {more} more"]
    return CheckResult(projection.name, "diverged", position, differences)


def _diff(live: Any, fresh: Any, path: str, out: list[str]) -> None:
    """Describe how ``live`` (the snapshot) differs from ``fresh`` (the rebuild)."""
    if isinstance(live, dict) and isinstance(fresh, dict):
        for key in sorted(live.keys() | fresh.keys(), key=str):
            where = f"{path}[{key!r}]"
            if key not in fresh:
                out.append(f"{where}: in the snapshot, absent from the rebuild")
            elif key not in live:
                out.append(f"{where}: missing from the snapshot")
            else:
                _diff(live[key], fresh[key], where, out)
    elif isinstance(live, list) and isinstance(fresh, list) and len(live) == len(fresh):
        for i, (a, b) in enumerate(zip(live, fresh, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif live != fresh:
        out.append(f"{path}: snapshot has {_short(live)}, rebuild has {_short(fresh)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
