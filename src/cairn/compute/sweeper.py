"""The deadline sweeper: no server stays building, deleting or mid-action forever.

Every request that leaves a server in a transitional state (task state set)
starts a deadline in the projection (``transition_since``). When it passes:

* a build (scheduling, spawning) ends in ERROR with a fault saying it timed out;
* a delete whose host is down, or that is on no host, is completed here (the
  agent's reconciliation removes an orphan guest when its host returns); one
  whose host is up but silent ends in ERROR, so the user can delete again;
* an action (stop, reboot, ...) fails: the task state is cleared, the fault says why;
  a volume attach or detach gives the volume back in the same append (the
  reservation ended, or the detach rolled back to ``in-use``), as the agent's own
  failure does;
* a resize or a revert fails into ERROR, its claim and quota back to the old flavor.

Each outcome is appended at the server stream's version the sweeper saw, so an
agent answering at the last moment wins and the sweeper's decision is dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cairn.compute import resizes, servers
from cairn.compute.decide import Writes, append_any, write
from cairn.compute.resizes import RESIZE_TASKS
from cairn.events import DomainEvent, Metadata
from cairn.events import compute as ev
from cairn.events import volume as vev
from cairn.logs import get_logger
from cairn.projections.compute import ComputeState, Server
from cairn.projections.volume import volume_stream
from cairn.readmodel import ProjectionRunner
from cairn.store.port import EventStore, WrongExpectedVersion

log = get_logger(__name__)
META = Metadata(user_id="cairn-deadlines")


def now_iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expired(state: ComputeState, deadline: float, now: float) -> list[Server]:
    found = []
    for server_id in state.transitional:
        server = state.servers.get(server_id)
        if server is not None and now - server.transition_since > deadline:
            found.append(server)
    return found


def resolve(state: ComputeState, server: Server, deadline: float, now: float) -> Writes:
    """What ends ``server``'s expired transitional state."""
    meta = Metadata(user_id=META.user_id, project_id=server.project_id, correlation_id=server.id)
    stream = servers.server_stream(server.id)
    task = server.task_state
    if task == "deleting":
        host = state.hosts.get(server.host) if server.host else None
        if host is None or not host.is_up(now):
            return servers.local_delete(state, meta, server, now_iso(now))
        event: DomainEvent = ev.ServerErrored(
            server_id=server.id, fault_code=500,
            fault_message=f"Deleting instance {server.id} timed out after {deadline:g}s "
            f"on host {server.host}.",
        )  # fmt: skip
    elif server.migration_id is not None and task in RESIZE_TASKS:
        # A resize's claim and quota are settled with its end (compute/resizes.py).
        reason = f"Operation {server.pending_action or task} on instance {server.id} "
        return resizes.expire(state, meta, server, f"{reason}timed out after {deadline:g}s.")
    elif server.vm_state == "building":
        event = ev.ServerErrored(
            server_id=server.id, fault_code=500,
            fault_message=f"Build of instance {server.id} timed out after {deadline:g}s "
            f"(task state {task}).",
        )  # fmt: skip
    else:
        event = ev.ServerActionFailed(
            server_id=server.id, host=server.host or "", action=server.pending_action or task or "",
            reason=f"Operation {server.pending_action or task} on instance {server.id} "
            f"timed out after {deadline:g}s.",
        )  # fmt: skip
        return [write(state, stream, [event], meta), *_volume_given_back(server, meta)]
    return [write(state, stream, [event], meta)]


def _volume_given_back(server: Server, meta: Metadata) -> Writes:
    """What an expired volume action leaves for its volume to undo (at any
    version: the server's expected version decides whether the failure goes in)."""
    volume_id = server.pending_volume.get("volume_id")
    if not volume_id:
        return []
    undo: DomainEvent
    if server.pending_action == "attach_volume":
        undo = vev.VolumeUnreserved(volume_id=volume_id)
    elif server.pending_action == "detach_volume":
        undo = vev.VolumeDetachRolledBack(volume_id=volume_id)
    else:
        return []
    return [append_any(volume_stream(volume_id), [undo], meta)]


class DeadlineSweeper:
    def __init__(
        self,
        store: EventStore,
        runner: ProjectionRunner[ComputeState],
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
        """Resolve every expired server once; return how many were resolved."""
        done = 0
        now = self.clock()
        for server in expired(self.runner.state, self.deadline, now):
            try:
                result = await self.store.append(
                    *resolve(self.runner.state, server, self.deadline, now)
                )
            except WrongExpectedVersion:
                continue  # the server moved on by itself meanwhile
            await self.runner.wait_for(result.position)
            log.warning("deadline passed", server_id=server.id, task_state=server.task_state)
            done += 1
        return done

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deadline sweep failed; trying again")
            await asyncio.sleep(self.interval)
