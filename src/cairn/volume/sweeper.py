"""The deadline sweeper: no volume or snapshot stays creating, extending or
deleting forever, even when no agent is left to finish it.

The agent fails a step that outlives its own ``operation_timeout``; this sweeper
(in the API process) covers the case where no agent runs the step at all (its
backend is gone, or crashed and not restarted): a transitional status whose last
change is older than ``deadline`` ends in the failure event the agent would have
appended (``error``, ``error_extending``, ``error_deleting``). Each is appended
at the stream's version the sweeper saw, so an agent answering at the last
moment wins and the sweeper's decision is dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from cairn.events import DomainEvent, Metadata, registry
from cairn.events import volume as ev
from cairn.logs import get_logger
from cairn.projections.volume import VolumeState, snapshot_stream, volume_stream
from cairn.readmodel import ProjectionRunner
from cairn.store.port import EventStore, StreamWrite, WrongExpectedVersion

log = get_logger(__name__)
META = Metadata(user_id="cairn-volume-deadlines")

Failure = Callable[[str, str], DomainEvent]

#: pending work -> the failure that ends it
VOLUME_FAILURES: dict[str, Failure] = {
    "create": lambda vid, why: ev.VolumeCreateFailed(volume_id=vid, reason=why),
    "extend": lambda vid, why: ev.VolumeExtendFailed(volume_id=vid, reason=why),
    "delete": lambda vid, why: ev.VolumeDeleteFailed(volume_id=vid, reason=why),
}
SNAPSHOT_FAILURES: dict[str, Failure] = {
    "create": lambda sid, why: ev.SnapshotCreateFailed(snapshot_id=sid, reason=why),
    "delete": lambda sid, why: ev.SnapshotDeleteFailed(snapshot_id=sid, reason=why),
}


def expired(state: VolumeState, deadline: float, now: float) -> list[tuple[str, DomainEvent]]:
    """(stream, failure event) for each volume and snapshot past its deadline."""
    found: list[tuple[str, DomainEvent]] = []

    def late(since: datetime) -> bool:
        return now - since.timestamp() > deadline

    why = f"no volume backend finished it within {deadline:g}s"
    for volume in state.volumes.values():
        fail = VOLUME_FAILURES.get(volume.pending)
        if fail is not None and late(volume.updated_at):
            found.append((volume_stream(volume.id), fail(volume.id, why)))
    for snapshot in state.snapshots.values():
        fail = SNAPSHOT_FAILURES.get(snapshot.pending)
        if fail is not None and late(snapshot.updated_at):
            found.append((snapshot_stream(snapshot.id), fail(snapshot.id, why)))
    return found


class VolumeDeadlineSweeper:
    def __init__(
        self,
        store: EventStore,
        runner: ProjectionRunner[VolumeState],
        deadline: float,
        interval: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.runner = runner
        self.deadline = deadline
        self.interval = interval
        self.clock = clock

    async def sweep(self) -> int:
        """End every expired transitional status once; return how many were ended."""
        done = 0
        state = self.runner.state
        for stream, event in expired(state, self.deadline, self.clock()):
            write = StreamWrite(stream, [registry.new(event, META)], state.versions[stream])
            try:
                result = await self.store.append(write)
            except WrongExpectedVersion:
                continue  # it moved on by itself meanwhile
            await self.runner.wait_for(result.position)
            log.warning("volume deadline passed", stream=stream, outcome=type(event).__name__)
            done += 1
        return done

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("volume deadline sweep failed; trying again")
            await asyncio.sleep(self.interval)
