"""The compute control plane as one object: what the API and the runtime hold.

:class:`Compute` owns the compute read model's runner, a command executor over
it, the image port, the scheduler and the deadline sweeper. Boot requests of
one project are decided one at a time in this process (an ``asyncio.Lock`` per
project): they all append to the project's quota stream, so deciding them
concurrently would only make them conflict with each other; across processes
the quota stream's expected version keeps them honest.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from cairn.app.executor import CommandExecutor, Decider
from cairn.compute import flavors, reclaimer, resizes, servers, shelving
from cairn.compute.config import ComputeConfig
from cairn.compute.decide import Writes, merge
from cairn.compute.images import ImagePort
from cairn.compute.networks import NetworkPort, NoNetworks
from cairn.compute.port_reaper import PortReaper
from cairn.compute.scheduler import Scheduler, SchedulerConfig, place
from cairn.compute.sweeper import DeadlineSweeper, now_iso
from cairn.events import Metadata
from cairn.logs import get_logger
from cairn.projections.compute import ComputeProjection, ComputeState, Server
from cairn.readmodel import ProjectionRunner
from cairn.sealing import sealer_at
from cairn.store.port import AppendResult, EventStore

log = get_logger(__name__)
BOOTSTRAP = Metadata(user_id="cairn-bootstrap")
#: compute commands re-decide this often on conflicts before giving up
MAX_ATTEMPTS = 20
#: boot requests of one project decided in one append, at most
BOOT_BATCH = 100


class Compute:
    def __init__(
        self,
        store: EventStore,
        images: ImagePort,
        config: ComputeConfig,
        *,
        clock: Callable[[], float] = time.time,
        networks: NetworkPort | None = None,
    ) -> None:
        self.store = store
        self.images = images
        self.networks: NetworkPort = networks or NoNetworks()
        self.config = config
        self.clock = clock
        #: seals the passwords requests carry to a guest's agent
        self.secrets = sealer_at(config.guest_secret_keys)
        self.runner: ProjectionRunner[ComputeState] = ProjectionRunner(store, ComputeProjection())
        self.executor = CommandExecutor(store, self.runner, max_attempts=MAX_ATTEMPTS)
        self.scheduler = Scheduler(
            store,
            self.runner,
            SchedulerConfig(config.scheduler_strategy, config.scheduler_max_attempts),
            clock=clock,
        )
        self.sweeper = DeadlineSweeper(
            store, self.runner, config.deadline, config.sweep_interval, clock=clock
        )
        self._waiting: defaultdict[str, list[_Boot]] = defaultdict(list)
        self._draining: set[asyncio.Task[None]] = set()
        self._draining_projects: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def state(self) -> ComputeState:
        return self.runner.state

    async def start(self) -> None:
        await self.runner.start()
        await self.execute(lambda s: flavors.default_flavors(s, BOOTSTRAP))
        if self.config.run_scheduler:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self.scheduler.run(), name="compute-scheduler"),
                loop.create_task(self.sweeper.run(), name="compute-deadlines"),
                loop.create_task(
                    PortReaper(self.runner, self.networks).run(), name="compute-port-reaper"
                ),
            ]
            if self.config.reclaim_interval > 0:
                self._tasks.append(loop.create_task(self._reclaim(), name="compute-reclaimer"))
            if self.config.shelved_offload_time > 0:
                self._tasks.append(loop.create_task(self._offload(), name="compute-offloader"))
            if self.config.resize_confirm_window > 0:
                self._tasks.append(
                    loop.create_task(self._auto_confirm(), name="compute-resize-confirmer")
                )
        log.info("compute ready", flavors=len(self.state.flavors), hosts=len(self.state.hosts))

    async def reclaim_due(self) -> int:
        """Delete the servers soft-deleted longer than the reclaim interval; how many."""
        now = self.clock()
        found = reclaimer.due(self.state, self.config.reclaim_interval, now)
        for server_id in found:
            await self.execute(reclaimer.reclaim(server_id, now, now_iso(now)))
            log.info("soft-deleted server reclaimed", server_id=server_id)
        return len(found)

    async def _reclaim(self) -> None:
        while True:
            try:
                await self.reclaim_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reclaiming soft-deleted servers failed; trying again")
            await asyncio.sleep(self.config.sweep_interval)

    async def offload_due(self) -> int:
        """Ask for the offload of the servers SHELVED longer than
        ``shelved_offload_time``; how many."""
        found = shelving.offload_due(self.state, self.config.shelved_offload_time, self.clock())
        for server_id in found:
            await self.execute(shelving.offload_later(server_id))
            log.info("shelved server offloaded", server_id=server_id)
        return len(found)

    async def _offload(self) -> None:
        while True:
            try:
                await self.offload_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("offloading shelved servers failed; trying again")
            await asyncio.sleep(self.config.sweep_interval)

    async def confirm_due(self) -> int:
        """Confirm the resizes left in VERIFY_RESIZE longer than the confirm window."""
        found = resizes.due(self.state, self.config.resize_confirm_window, self.clock())
        for server_id in found:
            await self.execute(functools.partial(resizes.auto_confirm, server_id=server_id))
            log.info("resize confirmed automatically", server_id=server_id)
        return len(found)

    async def _auto_confirm(self) -> None:
        while True:
            try:
                await self.confirm_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("confirming resizes failed; trying again")
            await asyncio.sleep(self.config.sweep_interval)

    async def stop(self) -> None:
        for task in self._tasks:
            await _cancel(task)
        self._tasks = []
        # Boots still being decided: they must not append past the read
        # model's stop; their callers are answered with a cancellation.
        for task in list(self._draining):
            await _cancel(task)
        for waiting in self._waiting.values():
            for item in waiting:
                item.done.cancel()
        self._waiting.clear()
        await self.runner.stop()
        log.info("compute stopped")

    async def execute(self, decide: Decider[ComputeState]) -> AppendResult | None:
        return await self.executor.execute(decide)

    async def boot(self, meta: Metadata, request: servers.BootRequest) -> list[str]:
        """Append a boot request with its quota; return the ids of the servers made."""
        loop = asyncio.get_running_loop()
        item = _Boot(meta, request, loop.create_future())
        project = request.project_id
        self._waiting[project].append(item)
        if project not in self._draining_projects:
            self._draining_projects.add(project)
            task = loop.create_task(self._drain(project), name=f"compute-boots-{project}")
            self._draining.add(task)
            task.add_done_callback(self._draining.discard)
        return await item.done

    async def _drain(self, project: str) -> None:
        """Decide the project's queued boot requests, a batch per append."""
        waiting = self._waiting[project]
        try:
            while waiting:
                batch, waiting[:] = waiting[:BOOT_BATCH], waiting[BOOT_BATCH:]
                outcomes: list[servers.Outcome] = []

                def decide(
                    state: ComputeState,
                    batch: list[_Boot] = batch,
                    outcomes: list[servers.Outcome] = outcomes,
                ) -> Writes:
                    return self._decide_boots(state, batch, outcomes)

                try:
                    await self.execute(decide)
                except asyncio.CancelledError:
                    for item in batch:
                        item.done.cancel()
                    raise
                except Exception as exc:
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    continue
                for item, outcome in zip(batch, outcomes, strict=True):
                    if item.done.done():
                        continue  # the caller went away; its servers exist all the same
                    if isinstance(outcome, Exception):
                        item.done.set_exception(outcome)
                    else:
                        item.done.set_result(outcome)
        finally:
            self._draining_projects.discard(project)
            if not waiting:
                self._waiting.pop(project, None)

    def _decide_boots(
        self, state: ComputeState, batch: list[_Boot], outcomes: list[servers.Outcome]
    ) -> Writes:
        """The batch's boot requests with their quota and, when this process
        schedules, their placement in the same append (one round trip less to
        ACTIVE; what cannot be placed fails with NoValidHost there too)."""
        created: list[Server] = []
        writes, found = servers.create_many(state, [(b.meta, b.request) for b in batch], created)
        outcomes[:] = found
        if not self.config.run_scheduler or not created:
            return writes
        placed = place(state, self.scheduler.config, self.clock(), created)
        return merge(writes, placed.writes())


@dataclass
class _Boot:
    meta: Metadata
    request: servers.BootRequest
    done: asyncio.Future[list[str]]


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait for it to end. Python 3.11's ``asyncio.wait_for``
    can swallow a cancellation that arrives as its inner wait completes (a
    follower waiting for the read model hung ``cairn up``'s shutdown so), so
    cancel again until the task has really ended."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
