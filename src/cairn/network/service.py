"""The networking control plane as one object: what the API and the runtime hold.

:class:`Networking` owns the networking read model's runner and a command
executor over it. A command is a function that fills a
:class:`~cairn.network.plan.Plan`; :meth:`Networking.run` decides it against
the current state, appends the plan's writes atomically and, when a stream
moved meanwhile, decides it again against the state that includes the winner.

Port creates are the hot path (a boot, a Tempest class, a load test create
hundreds at once), and all ports of one project append to its quota stream:
deciding them one at a time would make each conflict with the one before. So
concurrent port creates of one project are gathered and decided in order as
one plan, one append (:meth:`Networking.create_port`); each still sees the
addresses and quota the ones before it took.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cairn.app.executor import CommandExecutor
from cairn.events import Metadata
from cairn.logs import get_logger
from cairn.network import networks, ports, subnetpools, subnets
from cairn.network.access import Caller
from cairn.network.config import NetworkConfig
from cairn.network.errors import NetworkError
from cairn.network.plan import Plan
from cairn.projections.network import NetworkProjection, NetworkState, Resource
from cairn.readmodel import ProjectionRunner
from cairn.store.port import EventStore, StreamWrite

log = get_logger(__name__)
T = TypeVar("T")
#: networking commands re-decide this often on conflicts before giving up
MAX_ATTEMPTS = 20
#: port creates of one project decided in one append, at most
PORT_BATCH = 64

Command = Callable[[Plan], T]


@dataclass
class _PortRequest:
    caller: Caller
    attrs: dict[str, Any]
    project_id: str
    meta: Metadata
    done: asyncio.Future[Resource] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Networking:
    def __init__(self, store: EventStore, config: NetworkConfig) -> None:
        self.store = store
        self.config = config
        self.runner: ProjectionRunner[NetworkState] = ProjectionRunner(store, NetworkProjection())
        self.executor = CommandExecutor(store, self.runner, max_attempts=MAX_ATTEMPTS)
        self._ports: defaultdict[str, list[_PortRequest]] = defaultdict(list)
        self._draining: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> NetworkState:
        return self.runner.state

    async def start(self) -> None:
        await self.runner.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):  # each request got its own outcome
                await task
        await self.runner.stop()

    async def run(self, meta: Metadata, command: Command[T]) -> T:
        """Decide ``command`` on a plan, append it, read the write back; the
        command's return value (decided on the state that won) is returned."""
        result: list[T] = []

        def decide(state: NetworkState) -> list[StreamWrite]:
            plan = Plan(state, meta)
            result[:] = [command(plan)]
            return plan.writes()

        await self.executor.execute(decide)
        return result[0]

    # -- ports, batched ------------------------------------------------------------------

    async def create_port(
        self, caller: Caller, attrs: dict[str, Any], project_id: str, meta: Metadata
    ) -> Resource:
        request = _PortRequest(caller, attrs, project_id, meta)
        self._ports[project_id].append(request)
        if project_id not in self._draining:
            self._draining.add(project_id)
            task = asyncio.get_running_loop().create_task(self._drain(project_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await request.done

    async def _drain(self, project_id: str) -> None:
        try:
            while self._ports[project_id]:
                batch = self._ports[project_id][:PORT_BATCH]
                del self._ports[project_id][:PORT_BATCH]
                await self._decide_ports(batch)
        finally:
            self._draining.discard(project_id)
            # Requests still queued when the drain is cancelled (a stop) are told so.
            for request in self._ports.pop(project_id, []):
                if not request.done.done():
                    request.done.cancel()

    async def _decide_ports(self, batch: list[_PortRequest]) -> None:
        outcomes: dict[int, Resource | BaseException] = {}

        def decide(state: NetworkState) -> list[StreamWrite]:
            outcomes.clear()
            plan = Plan(state, batch[0].meta)
            for index, request in enumerate(batch):
                # ports.create checks everything before it changes the plan, so a
                # refused request leaves nothing in the others' append.
                plan.meta = request.meta
                try:
                    outcomes[index] = ports.create(
                        plan, request.caller, self.config, dict(request.attrs), request.project_id
                    )
                except NetworkError as exc:
                    outcomes[index] = exc
            return plan.writes()

        try:
            await self.executor.execute(decide)
        except BaseException as exc:
            for request in batch:
                if not request.done.done():
                    request.done.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for index, request in enumerate(batch):
            outcome = outcomes[index]
            if isinstance(outcome, BaseException):
                request.done.set_exception(outcome)
            else:
                request.done.set_result(outcome)

    # -- the first start -----------------------------------------------------------------

    async def bootstrap(self, admin_project: str | None) -> None:
        """The all-in-one's external network ``public`` (flat, on physical network
        ``public``, with its subnet) and the default IPv4 subnet pool, unless they
        exist. Idempotent: a start finds them and does nothing."""
        if admin_project is None or self.config.public_cidr is None:
            return
        meta = Metadata(request_id="cairn-network-bootstrap", project_id=admin_project)
        admin = Caller(project_id=admin_project, user_id="cairn-bootstrap", is_admin=True)
        config = self.config

        def public(plan: Plan) -> None:
            if any(
                n.get("name") == config.public_network and n.get("router:external")
                for n in plan.resources("network")
            ):
                return
            network = networks.create(
                plan,
                admin,
                config,
                {
                    "name": config.public_network,
                    "router:external": True,
                    "is_default": True,
                    "provider:network_type": "flat",
                    "provider:physical_network": "public",
                    "description": "The external network of the all-in-one",
                },
                admin_project,
            )
            subnets.create(
                plan,
                admin,
                config,
                {
                    "network_id": network.id,
                    "name": f"{config.public_network}-subnet",
                    "cidr": config.public_cidr,
                    "enable_dhcp": False,
                    "ip_version": 4,
                },
                admin_project,
            )

        def pool(plan: Plan) -> None:
            if any(
                p.get("is_default") and p.get("ip_version") == 4
                for p in plan.resources("subnetpool")
            ):
                return
            subnetpools.create(
                plan,
                admin,
                config,
                {
                    "name": "shared-default-subnetpool-v4",
                    "prefixes": list(config.default_prefixes),
                    "default_prefixlen": config.default_prefixlen,
                    "shared": True,
                    "is_default": True,
                },
                admin_project,
            )

        await self.run(meta, public)
        await self.run(meta, pool)
        log.info("networking ready", networks=len(self.state.of("network")))
