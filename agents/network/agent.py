"""The network agent of one machine: its datapath kept equal to the networking read model.

The agent follows the log with a networking read model of its own. Whenever
the model changes it builds the machine's plan (:func:`~cairn.agents.network.planner.host_plan`)
and, when the plan differs from the last one applied, applies it
(:meth:`~cairn.agents.network.datapath.Datapath.apply` is idempotent and removes
what no longer belongs). Applying a plan is the whole reconciliation: on start
the first plan meets whatever a previous run (or a crash) left, and every
``resync`` seconds the plan is applied again even when the model did not
change, so what was removed or broken under the agent (a namespace deleted by
hand, a dnsmasq that died) comes back.

Then it reports: each port of this machine whose wiring changed gets a
``PortWired`` (``ACTIVE`` once its datapath is in place: a guest's tap is on
its bridge with its filter loaded, a router or DHCP leg exists; ``DOWN`` when
that stops being true). A guest's tap appears when libvirt starts the guest,
which no networking event announces, so the agent looks again every
``interval`` while a port of this machine is not yet wired.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from cairn.agents.network.datapath import Datapath
from cairn.agents.network.desired import HostPlan
from cairn.agents.network.planner import host_plan
from cairn.events import ANY_VERSION, Metadata, registry
from cairn.events import network as ev
from cairn.logs import get_logger
from cairn.network.common import DHCP, ROUTER_GATEWAY, ROUTER_INTERFACE
from cairn.projections.network import NetworkProjection, NetworkState, stream_of
from cairn.readmodel import ProjectionRunner
from cairn.store.port import EventStore, StreamWrite

log = get_logger(__name__)
META = Metadata(user_id="cairn-network-agent")
#: device owners whose wiring the agent reports besides guests' ports
SERVICE_OWNERS = (DHCP, ROUTER_INTERFACE, ROUTER_GATEWAY)
#: what one machine's agent is, in Neutron's agent types
KINDS = ("Linux bridge agent", "DHCP agent", "L3 agent", "Metadata agent")


class NetworkAgent:
    def __init__(
        self,
        store: EventStore,
        datapath: Datapath,
        hosts: Iterable[str],
        *,
        name: str,
        interval: float = 0.05,
        resync: float = 10.0,
        heartbeat_interval: float = 30.0,
    ) -> None:
        self.store = store
        self.datapath = datapath
        self.hosts = frozenset(hosts)
        self.name = name
        self.interval = interval
        self.resync = resync
        self.runner: ProjectionRunner[NetworkState] = ProjectionRunner(store, NetworkProjection())
        self.applied: HostPlan | None = None
        self.heartbeat_interval = heartbeat_interval
        self._started = ""
        self._beat = 0.0
        self._forced = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> NetworkState:
        return self.runner.state

    async def start(self) -> None:
        await self.runner.start()
        self._started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.heartbeat()
        await self.sync()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="network-agent")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.runner.stop()
        await self.datapath.close()

    async def heartbeat(self) -> None:
        """Say this machine's agent runs (Neutron's agent list shows it, alive while
        heartbeats keep coming)."""
        event = ev.NetworkAgentHeartbeat(
            host=self.name, started_at=self._started, kinds=list(KINDS)
        )
        await self.store.append(
            StreamWrite(f"netagent-{self.name}", [registry.new(event, META)], ANY_VERSION)
        )
        self._beat = time.monotonic()

    async def sync(self, *, force: bool = False) -> bool:
        """Apply the plan of the current state if it changed (or ``force``: the host
        may have changed under it), then report wiring; whether some port of this
        machine is still waiting to be wired."""
        plan = host_plan(self.state, self.hosts)
        if force or plan != self.applied:
            started = time.perf_counter()
            await self.datapath.apply(plan)
            self.applied = plan
            if self.datapath.changes:
                log.info(
                    "network datapath applied",
                    changes=len(self.datapath.changes),
                    ms=round((time.perf_counter() - started) * 1000, 1),
                )
        return await self._report(plan)

    def _mine(self) -> list[tuple[str, str]]:
        """(port id, status) of every port whose wiring this agent reports."""
        found = []
        for port in self.state.of("port").values():
            owner = str(port.get("device_owner") or "")
            if owner in SERVICE_OWNERS or (
                owner.startswith("compute:") and port.get("binding:host_id") in self.hosts
            ):
                found.append((port.id, str(port.get("status"))))
        return found

    async def _report(self, plan: HostPlan) -> bool:
        mine = self._mine()
        if not mine:
            return False
        wired = await self.datapath.wired(plan)
        writes = []
        waiting = False
        for port_id, status in mine:
            wanted = "ACTIVE" if port_id in wired else "DOWN"
            waiting = waiting or wanted == "DOWN"
            if status != wanted:
                event = ev.PortWired(port_id=port_id, host=self.name, status=wanted)
                writes.append(
                    StreamWrite(
                        stream_of("port", port_id), [registry.new(event, META)], ANY_VERSION
                    )
                )
        if writes:
            result = await self.store.append(*writes)
            await self.runner.wait_for(result.position)
        return waiting

    async def _run(self) -> None:
        seen = self.runner.changed_position
        waiting = True
        last = time.monotonic()
        while True:
            try:
                await asyncio.sleep(self.interval)
                changed = self.runner.changed_position != seen
                due = time.monotonic() - last >= (self.interval * 4 if waiting else self.resync)
                due = due or time.monotonic() - self._beat >= self.heartbeat_interval
                if not (changed or due):
                    continue
                seen = self.runner.changed_position
                # Every ``resync`` the plan is applied even if unchanged: what someone
                # removed by hand (or a crashed dnsmasq) comes back.
                force = time.monotonic() - self._forced >= self.resync
                last = time.monotonic()
                waiting = await self.sync(force=force)
                if force:
                    self._forced = last
                if time.monotonic() - self._beat >= self.heartbeat_interval:
                    await self.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a host that refuses one step: try again shortly
                log.warning("network agent sync failed", error=str(exc))
                self.applied = None
                await asyncio.sleep(1.0)
