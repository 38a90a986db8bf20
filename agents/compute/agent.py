"""The compute agent of one host: registers it, works its servers, reconciles on start.

Work arrives as *which server to look at*, never as a command to replay: a
request on the bus, a lifecycle event of a guest, or the reconciliation at
start all call :meth:`ComputeAgent.notify` with a server id. Each server has at
most one worker at a time; it reads the server's stream, asks
:func:`~cairn.agents.compute.server_view.next_step` what this host owes it, does
that step (:mod:`cairn.agents.compute.steps`), and looks again until nothing is
left. A notification that arrives while the worker runs makes it look once more.
Because every decision is taken on the stream, redelivered and duplicated
notifications are harmless, and a lost one is found by the next reconciliation.

On start (:meth:`ComputeAgent.start`) the agent registers the host with what its
hypervisor offers, subscribes to the guests' lifecycle events, and reconciles
(:mod:`cairn.agents.compute.reconcile`): every server this host has to do with,
every guest of this host in the hypervisor, every claim on the host's stream,
and every server directory gets looked at once. While it runs it appends a
heartbeat every ``heartbeat_interval``; a clean stop appends ComputeHostStopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable

from cairn.agents.compute import (
    host_facts,
    interface_steps,
    password_steps,
    rebuild_steps,
    reconcile,
    rescue_steps,
    resize_steps,
    shelve_steps,
    snapshot_steps,
    steps,
    volume_steps,
)
from cairn.agents.compute.console import ConsoleAnswers
from cairn.agents.compute.context import HostContext
from cairn.agents.compute.diagnostics import DiagnosticsAnswers
from cairn.agents.compute.driver import (
    Capability,
    EventKind,
    EventSubscription,
    HypervisorDriver,
    HypervisorUnavailable,
)
from cairn.agents.compute.guest_plan import server_of
from cairn.agents.compute.server_view import Step, next_step
from cairn.events import ANY_VERSION, RecordedEvent, registry
from cairn.events import compute as ev
from cairn.logs import get_logger
from cairn.store.port import StreamWrite

log = get_logger(__name__)

#: Steps one worker takes for a server before it yields (a guard against a loop).
MAX_STEPS = 16
#: After an unexpected failure, look at the server again after this many seconds.
RETRY_DELAY = 2.0
#: The longest wait between two attempts to reconnect to the hypervisor.
MAX_RECONNECT_DELAY = 30.0

#: Opens a new connection to the host's hypervisor.
Reopen = Callable[[], Awaitable[HypervisorDriver]]

#: action -> the step doing it, for the actions whose step has a module of its own
#: (the power actions are :func:`steps.action`'s)
_ACTION_STEPS = {
    action: module.run
    for module in (
        interface_steps,
        volume_steps,
        snapshot_steps,
        shelve_steps,
        rescue_steps,
        password_steps,
    )
    for action in module.ACTIONS
}


class ComputeAgent:
    """One host's agent. ``start`` it, ``notify`` it, ``stop`` it."""

    def __init__(self, ctx: HostContext, *, reopen: Reopen | None = None) -> None:
        self.ctx = ctx
        self._reopen = reopen
        #: False while the hypervisor connection is broken: no heartbeats then, so
        #: the scheduler sees the host go down.
        self.hypervisor_ok = True
        self.host = ctx.host
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._slots = asyncio.Semaphore(ctx.config.concurrency)
        self._tasks: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.TimerHandle] = set()
        self._stopping = False
        self._started = False
        self._claims_at_start: set[str] = set()
        self._reconciling: set[str] = set()
        #: Servers whose spawn step is under way: their guests' STARTED events are
        #: the spawn's own, and the step appends the state they report.
        self._spawning: set[str] = set()
        #: console output requests of this host's guests (console.py)
        self.console = ConsoleAnswers()
        #: diagnostics requests of this host's guests (diagnostics.py)
        self.diagnostics = DiagnosticsAnswers()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Register the host, follow the guests' events, reconcile, start heartbeats."""
        await self.register()
        events = self.ctx.driver.events()
        self._tasks.append(
            asyncio.create_task(self._follow_guests(events), name=f"compute-events-{self.host}")
        )
        self._tasks.append(
            asyncio.create_task(self._heartbeats(), name=f"compute-heartbeat-{self.host}")
        )
        self._started = True
        found = await self._reconcile()
        log.info("compute.agent_started", host=self.host, reconciling=found)

    async def _reconcile(self) -> int:
        """Look once at every server this host has to do with (see :mod:`reconcile`)."""
        found, self._claims_at_start = await reconcile.servers_to_look_at(self.ctx)
        for server_id in sorted(found):
            self.notify(server_id, reconciling=True)
        return len(found)

    async def register(self) -> None:
        info = await self.ctx.driver.host_info()
        address, booted = await asyncio.to_thread(
            lambda: (host_facts.host_ip(), host_facts.booted_at())
        )
        config = self.ctx.config
        uri = getattr(self.ctx.driver, "uri", "")
        registered = ev.ComputeHostRegistered(
            host=self.host,
            hypervisor_type=info.hypervisor_type,
            hypervisor_version=info.hypervisor_version,
            hypervisor_uri=str(uri),
            availability_zone=config.availability_zone,
            capacity=ev.ResourceAmounts(
                vcpus=info.vcpus, memory_mb=info.memory_mib, disk_gb=info.disk_total_gb
            ),
            reserved=config.reserved,
            cpu_allocation_ratio=config.cpu_allocation_ratio,
            ram_allocation_ratio=config.ram_allocation_ratio,
            disk_allocation_ratio=config.disk_allocation_ratio,
            heartbeat_interval=config.heartbeat_interval,
            capabilities=sorted(c.value for c in self.ctx.driver.capabilities),
            host_ip=address,
            booted_at=booted,
            serial_console_url=config.serial_console_url
            if Capability.SERIAL_CONSOLE in self.ctx.driver.capabilities
            else "",
        )
        await self._append_host(registered)

    async def stop(self) -> None:
        """Stop cleanly: no new work; operations under way get ``stop_grace`` seconds,
        then are cancelled (and completed by the next start's reconciliation)."""
        if self._stopping:
            return
        self._stopping = True
        for handle in self._retries:
            handle.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.console.stop()
        await self.diagnostics.stop()
        workers = list(self._workers.values())
        if workers:
            _, late = await asyncio.wait(workers, timeout=self.ctx.config.stop_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        if self._started:
            with contextlib.suppress(Exception):
                await self._append_host(ev.ComputeHostStopped(host=self.host))
        log.info("compute.agent_stopped", host=self.host)

    async def idle(self) -> None:
        """Wait until no server has work under way (for tests and tools)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    # -- work -----------------------------------------------------------------------------

    def answer_console(self, event: RecordedEvent) -> None:
        """Answer a console output request for one of this host's guests."""
        if not self._stopping:
            self.console.start(self.ctx, event)

    def answer_diagnostics(self, event: RecordedEvent) -> None:
        """Answer a diagnostics request for one of this host's guests."""
        if not self._stopping:
            self.diagnostics.start(self.ctx, event)

    def notify(self, server_id: str, *, reconciling: bool = False) -> None:
        """Look at ``server_id`` (now, or again once its worker is done);
        ``reconciling`` also removes what the host holds for a server not living here."""
        if self._stopping:
            return
        if reconciling:
            self._reconciling.add(server_id)
        if server_id in self._workers:
            self._again.add(server_id)
            return
        self._workers[server_id] = asyncio.create_task(
            self._work(server_id), name=f"compute-{self.host}-{server_id}"
        )

    async def _work(self, server_id: str) -> None:
        try:
            while True:
                self._again.discard(server_id)
                async with self._slots:
                    await self._settle(server_id)
                # Only now: a reconciliation that failed is tried again with the retry.
                self._reconciling.discard(server_id)
                if server_id not in self._again or self._stopping:
                    return
        except Exception as exc:
            log.error(
                "compute.server_work_failed", host=self.host, server_id=server_id, exc_info=exc
            )
            self._retry_later(server_id)
        finally:
            del self._workers[server_id]

    def _retry_later(self, server_id: str) -> None:
        if self._stopping:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._retries.discard(handle)
            self.notify(server_id)

        handle = loop.call_later(RETRY_DELAY, fire)
        self._retries.add(handle)

    async def _settle(self, server_id: str) -> None:
        """Take the steps the server is owed on this host until none is left."""
        ctx = self.ctx
        reconciling = server_id in self._reconciling
        for taken in range(MAX_STEPS):
            view = await steps.load(ctx, server_id)
            step = next_step(view, self.host)
            match step:
                case Step.SPAWN:
                    self._spawning.add(server_id)
                    try:
                        await steps.spawn(ctx, view)
                    finally:
                        self._spawning.discard(server_id)
                case Step.FAIL_SPAWN:
                    await steps.fail_spawn(ctx, view)
                case Step.DELETE:
                    await steps.delete(ctx, view)
                case Step.REBUILD:
                    await rebuild_steps.run(ctx, view)
                case Step.RESIZE:
                    await resize_steps.resize(ctx, view)
                case Step.CONFIRM_RESIZE:
                    await resize_steps.confirm(ctx, view)
                case Step.REVERT_RESIZE:
                    await resize_steps.revert(ctx, view)
                case Step.UNSHELVE:
                    self._spawning.add(server_id)
                    try:
                        await shelve_steps.unshelve(ctx, view)
                    finally:
                        self._spawning.discard(server_id)
                case Step.ACTION:
                    assert view.action is not None
                    await _ACTION_STEPS.get(view.action.action, steps.action)(ctx, view)
                case Step.SYNC:
                    # Right after a step of ours the guest is as the step left it; a
                    # change since then came with a lifecycle event, which looks again.
                    if taken == 0:
                        await steps.sync_power_state(ctx, view)
                    return
                case Step.NOTHING:
                    # Only what the log left this host with (a step just taken
                    # settled its own claims and files).
                    if reconciling and taken == 0:
                        await reconcile.not_on_this_host(
                            ctx, view, holds_claim=server_id in self._claims_at_start
                        )
                    return
        log.warning("compute.too_many_steps", host=self.host, server_id=server_id)
        self._retry_later(server_id)

    # -- background -----------------------------------------------------------------------

    async def _follow_guests(self, events: EventSubscription) -> None:
        """Every lifecycle event of one of this host's guests: look at its server.

        When the hypervisor connection breaks (libvirtd restarted), open a new one
        (backing off), then reconcile: events were lost meanwhile. Operations that
        were using the broken connection end in their failure events."""
        while True:
            try:
                async with events:
                    async for event in events:
                        server_id = server_of(self.host, event.name)
                        if server_id is not None and not self._own_event(server_id, event.kind):
                            self.notify(server_id)
                return  # the driver was closed: the agent is stopping
            except HypervisorUnavailable as exc:
                log.error("compute.hypervisor_lost", host=self.host, error=str(exc))
            if self._reopen is None:
                return
            self.hypervisor_ok = False
            await self._reconnect()
            events = self.ctx.driver.events()
            self.hypervisor_ok = True
            found = await self._reconcile()
            log.info("compute.hypervisor_reconnected", host=self.host, reconciling=found)

    def _own_event(self, server_id: str, kind: EventKind) -> bool:
        """Whether an event only reports what a step of ours is doing (looking at the
        server for it would read its stream and ask the hypervisor for nothing).

        A definition changes no power state. A STARTED during the server's spawn is
        the spawn's own start: the step appends ``active`` itself, and anything
        that happens to the guest after the start comes with an event of its own."""
        if kind is EventKind.DEFINED:
            return True
        return kind is EventKind.STARTED and server_id in self._spawning

    async def _reconnect(self) -> None:
        assert self._reopen is not None
        delay = 0.5
        while True:
            try:
                driver = await self._reopen()
                break
            except HypervisorUnavailable as exc:
                log.warning("compute.hypervisor_unavailable", host=self.host, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RECONNECT_DELAY)
        broken, self.ctx = self.ctx.driver, dataclasses.replace(self.ctx, driver=driver)
        with contextlib.suppress(Exception):
            await broken.close()

    async def _heartbeats(self) -> None:
        interval = self.ctx.config.heartbeat_interval
        while True:
            await asyncio.sleep(interval)
            if not self.hypervisor_ok:
                continue
            try:
                load = await asyncio.to_thread(host_facts.load_average)
                await self._append_host(ev.ComputeHostHeartbeat(host=self.host, load_average=load))
            except Exception as exc:
                log.warning("compute.heartbeat_failed", host=self.host, error=str(exc))

    async def _append_host(
        self, event: ev.ComputeHostRegistered | ev.ComputeHostHeartbeat | ev.ComputeHostStopped
    ) -> None:
        await self.ctx.store.append(
            StreamWrite(steps.host_stream(self.host), [registry.new(event)], ANY_VERSION)
        )
