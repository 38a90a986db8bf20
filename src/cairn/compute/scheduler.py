"""The scheduler: places waiting servers on hosts with claims no host can overbook.

Servers waiting for a host are the projection's ``pending`` set (new boot
requests, and servers whose spawn failed and may be retried). One pass plans
them in request order against what every host holds, including the claims
planned earlier in the same pass, and appends the whole plan atomically:

* each chosen host's ``computehost-<host>`` stream gets its
  :class:`~cairn.events.compute.HostResourcesClaimed` events **at the version
  the plan was made on**;
* each server's stream gets :class:`~cairn.events.compute.ServerScheduled` (or
  :class:`~cairn.events.compute.ServerScheduleFailed`, NoValidHost) at its version.

If anything moved meanwhile (another scheduler's claims, an agent's release, a
delete) the store refuses the whole plan and the pass is made again on the new
state. So any number of schedulers, in any number of processes, can run at
once: a host's capacity is checked and taken in one step.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cairn.compute.decide import Writes
from cairn.compute.filters import (
    BASE_FILTERS,
    Candidate,
    Context,
    make_affinity_filters,
    make_soft_group_order,
    weigh,
)
from cairn.compute.servers import host_stream, server_stream
from cairn.events import NO_STREAM, DomainEvent, Metadata, NewEvent, registry
from cairn.events import compute as ev
from cairn.logs import get_logger
from cairn.projections.compute import ComputeState, Server
from cairn.readmodel import ProjectionRunner, ReadModelLagging
from cairn.store.port import EventStore, StreamWrite, WrongExpectedVersion

log = get_logger(__name__)

#: Servers planned per append: bounds one transaction and one conflict's waste.
BATCH = 200
META = Metadata(user_id="cairn-scheduler")
NO_VALID_HOST = "No valid host was found. "


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    strategy: str = "spread"
    max_attempts: int = 3


@dataclass
class Plan:
    """The writes of one pass, gathered per stream."""

    state: ComputeState
    events: dict[str, list[NewEvent]] = field(default_factory=dict)
    placed: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    #: group id -> servers placed in it by this plan
    groups: dict[str, list[str]] = field(default_factory=dict)

    def add(self, stream: str, event: DomainEvent, meta: Metadata) -> None:
        self.events.setdefault(stream, []).append(registry.new(event, meta))

    def writes(self) -> Writes:
        versions = self.state.versions
        return [
            StreamWrite(stream, events, versions.get(stream, NO_STREAM))
            for stream, events in self.events.items()
        ]


def _meta(server: Server) -> Metadata:
    """The scheduler acts on behalf of the boot request: same correlation."""
    return Metadata(user_id=META.user_id, project_id=server.project_id,
                    correlation_id=server.id)  # fmt: skip


def plan(state: ComputeState, config: SchedulerConfig, now: float, limit: int = BATCH) -> Plan:
    """Place up to ``limit`` pending servers: a pure function of the state."""
    waiting = [state.servers.get(server_id) for server_id in list(state.pending)[:limit]]
    return place(state, config, now, [s for s in waiting if s is not None and not s.deleted])


def place(
    state: ComputeState, config: SchedulerConfig, now: float, servers: Sequence[Server]
) -> Plan:
    """Place ``servers`` in order (pending ones, or new ones of a boot request not
    yet in the state), each against the hosts plus the claims placed before it."""
    result = Plan(state)
    candidates = {name: Candidate.of(host) for name, host in state.hosts.items()}
    filters = (*BASE_FILTERS, *make_affinity_filters(result.placed, result.groups))
    soft_groups = make_soft_group_order(result.placed, result.groups)
    ctx = Context(state, now)
    for server in servers:
        meta = _meta(server)
        tried = len(server.tried_hosts)
        if tried and (not server.retryable or tried >= config.max_attempts):
            _fail(result, server, meta, tried, _retry_message(server, config, tried))
            continue
        fit = [c for c in candidates.values() if all(f(c, server, ctx) for f in filters)]
        if not fit:
            _fail(
                result,
                server,
                meta,
                tried + 1,
                NO_VALID_HOST,
                "There are not enough hosts available.",
            )
            continue
        chosen = soft_groups(weigh(fit, config.strategy), server, ctx)[0]
        flavor = server.flavor
        amounts = ev.ResourceAmounts(
            vcpus=flavor.vcpus, memory_mb=flavor.ram_mb,
            disk_gb=flavor.disk_gb + flavor.ephemeral_gb + (flavor.swap_mb + 1023) // 1024,
        )  # fmt: skip
        chosen.vcpus += amounts.vcpus
        chosen.memory_mb += amounts.memory_mb
        chosen.disk_gb += amounts.disk_gb
        name = chosen.host.host
        result.placed[server.id] = name
        for group_id in server.scheduler_hints.get("group", []):
            result.groups.setdefault(group_id, []).append(server.id)
        result.add(
            host_stream(name),
            ev.HostResourcesClaimed(host=name, server_id=server.id, amounts=amounts),
            meta,
        )
        result.add(
            server_stream(server.id),
            ev.ServerScheduled(server_id=server.id, host=name, attempt=tried + 1),
            meta,
        )
    return result


def _retry_message(server: Server, config: SchedulerConfig, tried: int) -> str:
    if not server.retryable:
        return f"Build of instance {server.id} aborted: {server.last_failure}"
    return (
        f"Exceeded maximum number of retries. Exceeded max scheduling attempts "
        f"{config.max_attempts} for instance {server.id}. Last exception: {server.last_failure}"
    )


def _fail(
    result: Plan, server: Server, meta: Metadata, attempts: int, message: str, details: str = ""
) -> None:
    result.failed.append(server.id)
    result.add(
        server_stream(server.id),
        ev.ServerScheduleFailed(
            server_id=server.id, attempts=attempts, fault_code=500, fault_message=message,
            fault_details=details,
        ),
        meta,
    )  # fmt: skip


class Scheduler:
    """Follows the compute read model and schedules whatever is pending."""

    def __init__(
        self,
        store: EventStore,
        runner: ProjectionRunner[ComputeState],
        config: SchedulerConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.runner = runner
        self.config = config
        self.clock = clock
        self.conflicts = 0

    async def schedule_pending(self) -> int:
        """Schedule everything pending now; return how many servers were decided."""
        decided = 0
        while self.runner.state.pending:
            result = plan(self.runner.state, self.config, self.clock())
            writes = result.writes()
            if not writes:
                return decided
            try:
                appended = await self.store.append(*writes)
            except WrongExpectedVersion as conflict:
                self.conflicts += 1
                log.debug("scheduling conflict; planning again", error=str(conflict))
                await self._catch_up(await self.store.head())
                continue
            decided += len(result.placed) + len(result.failed)
            await self._catch_up(appended.position)
        return decided

    async def _catch_up(self, position: int) -> None:
        try:
            await self.runner.wait_for(position, timeout=5.0)
        except ReadModelLagging:
            log.warning("the compute read model lags; the scheduler waits", position=position)

    async def run(self) -> None:
        """Schedule, then wait for the read model to move, forever."""
        while True:
            try:
                await self.schedule_pending()
                # Nothing new within a second: look again anyway (a host may have
                # come up for servers that wait).
                with contextlib.suppress(ReadModelLagging):
                    await self.runner.wait_for(self.runner.position + 1, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduling pass failed; retrying")
                await asyncio.sleep(0.5)
