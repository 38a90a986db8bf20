"""How requests reach a compute agent: from the bus, or by following the store.

Either feed only tells the agent *which server* to look at (a request naming
its host was appended); the agent decides what to do from the server's stream.
So a feed may deliver twice, and what it missed while the agent was down is
found by the agent's reconciliation at start: neither feed needs a checkpoint
of its own.

* :class:`BusFeed`: a durable queue ``compute.<host>`` bound to the request
  events (RabbitMQ, or the in-process bus of ``cairn up``). Declare it
  (:meth:`BusFeed.declare`) *before* the agent reconciles, so that nothing
  appended during the reconciliation is missed.
* :class:`StoreFeed`: follows the store from the head it saw before the
  reconciliation (a separate agent process without a bus).
"""

from __future__ import annotations

import asyncio
import contextlib

from cairn.agents.compute.agent import ComputeAgent
from cairn.agents.compute.reconcile import server_for_host
from cairn.bus.port import Bus, Consumer, Delivery
from cairn.events import RecordedEvent
from cairn.logs import get_logger
from cairn.store.port import EventStore

log = get_logger(__name__)

#: Routing keys of the requests a compute agent acts on (``<category>.<type>``).
BINDINGS = (
    "server.ServerScheduled",
    "server.ServerActionRequested",
    "server.ServerDeleteRequested",
    "server.ServerRebuildRequested",
    "server.ServerResizeRequested",
    "server.ServerResizeConfirmRequested",
    "server.ServerResizeRevertRequested",
    "serverconsole.ServerConsoleOutputRequested",
    "serverdiagnostics.ServerDiagnosticsRequested",
)


def queue_name(host: str) -> str:
    return f"compute.{host}"


def _dispatch(agent: ComputeAgent, event: RecordedEvent) -> None:
    """A console request is answered at once; any other request names a server to look at."""
    if agent.console.wanted(event, agent.host):
        agent.answer_console(event)
        return
    if agent.diagnostics.wanted(event, agent.host):
        agent.answer_diagnostics(event)
        return
    server_id = server_for_host(event, agent.host)
    if server_id is not None:
        agent.notify(server_id)


class BusFeed:
    """The host's queue on the bus, feeding the agent."""

    def __init__(self, bus: Bus, agent: ComputeAgent) -> None:
        self.bus = bus
        self.agent = agent
        self.queue = queue_name(agent.host)
        self._consumer: Consumer | None = None

    async def declare(self) -> None:
        await self.bus.declare(self.queue, BINDINGS)

    async def start(self) -> None:
        self._consumer = await self.bus.consume(self.queue, BINDINGS, self._handle)

    async def _handle(self, delivery: Delivery) -> None:
        _dispatch(self.agent, delivery.event)
        # Acked at once: the request is in the log, and the agent's start finds any
        # it did not finish. Holding the delivery would serialize the host's work.
        await delivery.ack()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class StoreFeed:
    """Follows the store's log, feeding the agent."""

    def __init__(self, store: EventStore, agent: ComputeAgent) -> None:
        self.store = store
        self.agent = agent
        self._after = 0
        self._task: asyncio.Task[None] | None = None

    async def declare(self) -> None:
        self._after = await self.store.head()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"compute-feed-{self.agent.host}")

    async def _follow(self) -> None:
        async for event in self.store.subscribe(after=self._after):
            _dispatch(self.agent, event)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
