"""The in-process bus: queues in memory, for the all-in-one process and tests.

It keeps RabbitMQ's semantics where they matter to consumers, so code tested
on it behaves the same on the broker: a queue holds its events until acked;
an unacked delivery goes back to its place in the queue (``redelivered`` set)
when its consumer stops, fails or is aborted; ``prefetch`` bounds unacked
deliveries; competing consumers share a queue. Queues live as long as the bus
object: nothing survives the process.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from cairn.bus.port import (
    DEFAULT_PREFETCH,
    Bus,
    BusClosed,
    BusError,
    Consumer,
    Delivery,
    Handler,
    StaleDelivery,
    handler_failed,
    routing_key,
)
from cairn.bus.task_consumer import TaskConsumer
from cairn.bus.topic import topic_matches
from cairn.events import RecordedEvent

log = structlog.get_logger(__name__)


@dataclass(order=True)
class _Message:
    seq: int
    event: RecordedEvent = field(compare=False)
    redelivered: bool = field(default=False, compare=False)


class _Queue:
    def __init__(self, name: str) -> None:
        self.name = name
        self.bindings: set[str] = set()
        self.ready: list[_Message] = []  # a heap ordered by seq: requeues go back in place
        self.deleted = False
        self._routes: dict[str, bool] = {}
        self._changed = asyncio.Event()

    def bind(self, patterns: Sequence[str]) -> None:
        self.bindings.update(patterns)
        self._routes.clear()

    def routes(self, key: str) -> bool:
        hit = self._routes.get(key)
        if hit is None:
            hit = self._routes[key] = any(topic_matches(p, key) for p in self.bindings)
        return hit

    def put(self, message: _Message) -> None:
        heapq.heappush(self.ready, message)
        self.notify()

    def notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def changes(self) -> asyncio.Event:
        """An event set at the queue's next change. Take it in the same step as
        looking at the queue (no await in between), so no change is missed."""
        return self._changed


class InProcessBus(Bus):
    """A bus whose queues live in this process's memory."""

    def __init__(self) -> None:
        self._queues: dict[str, _Queue] = {}
        self._consumers: set[_InProcessConsumer] = set()
        self._seq = itertools.count(1)
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("the bus is closed")

    async def publish(self, events: Sequence[RecordedEvent]) -> None:
        self._check_open()
        for event in events:
            key = routing_key(event)
            for queue in self._queues.values():
                if queue.routes(key):
                    queue.put(_Message(next(self._seq), event))

    async def declare(self, queue: str, bindings: Sequence[str]) -> None:
        self._check_open()
        self._queue(queue).bind(bindings)

    def _queue(self, name: str) -> _Queue:
        if name not in self._queues:
            self._queues[name] = _Queue(name)
        return self._queues[name]

    async def consume(
        self,
        queue: str,
        bindings: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> Consumer:
        if prefetch < 1:
            raise ValueError(f"prefetch must be positive, not {prefetch}")
        await self.declare(queue, bindings)
        consumer = _InProcessConsumer(self._queues[queue], handler, prefetch)
        self._consumers.add(consumer)
        consumer.start(on_done=self._consumers.discard)
        return consumer

    async def queue_depth(self, queue: str) -> int:
        self._check_open()
        try:
            return len(self._queues[queue].ready)
        except KeyError:
            raise BusError(f"queue {queue!r} does not exist") from None

    async def delete_queue(self, queue: str) -> None:
        self._check_open()
        deleted = self._queues.pop(queue, None)
        if deleted is not None:
            deleted.deleted = True
            deleted.ready.clear()
            deleted.notify()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for consumer in list(self._consumers):
            await consumer.stop()


class _InProcessDelivery(Delivery):
    def __init__(self, consumer: _InProcessConsumer, message: _Message) -> None:
        self.event = message.event
        self.redelivered = message.redelivered
        self._consumer = consumer
        self._message = message

    def _settle(self) -> None:
        if self._consumer.held.pop(self._message.seq, None) is None:
            raise StaleDelivery(
                f"event {self.event.id} from queue {self._consumer.queue!r} is already "
                "settled, or its consumer stopped"
            )
        self._consumer.wake()

    async def ack(self) -> None:
        self._settle()

    async def reject(self, *, requeue: bool = True) -> None:
        self._settle()
        if requeue and not self._consumer.source.deleted:
            self._message.redelivered = True
            self._consumer.source.put(self._message)


class _InProcessConsumer(TaskConsumer):
    def __init__(self, source: _Queue, handler: Handler, prefetch: int) -> None:
        super().__init__()
        self.queue = source.name
        self.source = source
        self.held: dict[int, _Message] = {}  # delivered, not yet settled
        self._handler = handler
        self._prefetch = prefetch

    def start(self, on_done: Callable[[_InProcessConsumer], object]) -> None:
        self._task = asyncio.create_task(self._run(), name=f"cairn-bus-consume-{self.queue}")
        self._task.add_done_callback(lambda _: on_done(self))

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        try:
            while not self._stopping and not self.source.deleted:
                if self.source.ready and len(self.held) < self._prefetch:
                    message = heapq.heappop(self.source.ready)
                    self.held[message.seq] = message
                    try:
                        await self._handler(_InProcessDelivery(self, message))
                    except Exception as exc:
                        self._failure = handler_failed(self.queue, message.event, exc)
                        log.error("bus.handler_failed", queue=self.queue, error=str(self._failure))
                        return
                    # Let the rest of the process run even when the queue is long
                    # and the handler never suspends.
                    await asyncio.sleep(0)
                    continue
                self._wake.clear()
                waits = {
                    asyncio.ensure_future(self.source.changes().wait()),
                    asyncio.ensure_future(self._wake.wait()),
                }
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waits:
                        waiter.cancel()
        finally:
            self._requeue_held()

    def _requeue_held(self) -> None:
        held, self.held = self.held, {}
        if self.source.deleted:
            return
        for message in held.values():
            message.redelivered = True
            self.source.put(message)
