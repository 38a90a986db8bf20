"""The scale-out bus: RabbitMQ through aio-pika.

One durable topic exchange (``cairn.events`` unless told otherwise) carries
every event as a persistent message; queues are durable. Publishing uses one
channel in confirm mode and keeps up to ``max_in_flight`` messages unconfirmed
at once (one-at-a-time confirms cap out near 0.5k msg/s, pipelined ones reach
several thousand: see docs/adr/0004). Each consumer gets its own channel, so
its delivery tags, prefetch window and failure are its own.

The connection is plain, not aio-pika's "robust" one: a robust connection
re-creates consumers behind our back with fresh delivery tags, which would
make batched acks ack the wrong messages. Instead a lost connection fails the
consumers (their ``wait`` raises :class:`BusUnavailable`, their unacked
messages are redelivered) and the next call on the bus reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import aio_pika
import aio_pika.abc

from cairn.bus.amqp_errors import AMQP_FAILURES, safe_url, translate
from cairn.bus.codec import CONTENT_TYPE, encode_event
from cairn.bus.port import (
    DEFAULT_EXCHANGE,
    DEFAULT_PREFETCH,
    Bus,
    BusClosed,
    BusError,
    Consumer,
    Handler,
    routing_key,
)
from cairn.bus.rabbitmq_consumer import RabbitMQConsumer
from cairn.events import RecordedEvent


class RabbitMQBus(Bus):
    """Bus on a RabbitMQ broker. Open it with :meth:`connect`."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        max_in_flight: int = 1000,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.exchange = exchange
        self._max_in_flight = max_in_flight
        self._connect_timeout = connect_timeout
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._publisher: aio_pika.abc.AbstractExchange | None = None
        self._publisher_channel: aio_pika.abc.AbstractChannel | None = None
        self._lock = asyncio.Lock()
        self._consumers: set[RabbitMQConsumer] = set()
        self._closed = False

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        max_in_flight: int = 1000,
        connect_timeout: float = 10.0,
    ) -> RabbitMQBus:
        """Connect to the broker at ``url`` (``amqp://user:pass@host:port/vhost``)
        and declare the exchange. Raises :class:`BusUnavailable` if that fails."""
        bus = cls(
            url, exchange=exchange, max_in_flight=max_in_flight, connect_timeout=connect_timeout
        )
        await bus._exchange()
        return bus

    # -- connection ------------------------------------------------------------

    async def _connect(self) -> aio_pika.abc.AbstractConnection:
        # Under self._lock.
        if self._closed:
            raise BusClosed("the bus is closed")
        if self._connection is None or self._connection.is_closed:
            self._publisher = None
            try:
                self._connection = await aio_pika.connect(
                    self.url,
                    timeout=self._connect_timeout,
                    client_properties={"connection_name": "cairn"},
                )
            except AMQP_FAILURES as exc:
                raise translate(exc, f"connecting to RabbitMQ at {safe_url(self.url)}") from exc
        return self._connection

    async def _exchange(self) -> aio_pika.abc.AbstractExchange:
        """The exchange on the publishing channel, reopened if it was lost."""
        async with self._lock:
            connection = await self._connect()
            channel = self._publisher_channel
            if self._publisher is None or channel is None or channel.is_closed:
                try:
                    channel = self._publisher_channel = await connection.channel(
                        publisher_confirms=True
                    )
                    self._publisher = await channel.declare_exchange(
                        self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
                    )
                except AMQP_FAILURES as exc:
                    raise translate(exc, f"declaring exchange {self.exchange!r}") from exc
            return self._publisher

    @contextlib.asynccontextmanager
    async def _admin(self, doing: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
        """A short-lived channel: a refused declaration closes the channel it was
        made on, so it must not be the publishing one."""
        async with self._lock:
            connection = await self._connect()
        try:
            channel = await connection.channel(publisher_confirms=False)
            try:
                yield channel
            finally:
                if not channel.is_closed:
                    await channel.close()
        except AMQP_FAILURES as exc:
            raise translate(exc, doing) from exc

    # -- the port ----------------------------------------------------------------

    async def publish(self, events: Sequence[RecordedEvent]) -> None:
        if self._closed:
            raise BusClosed("the bus is closed")
        if not events:
            return
        exchange = await self._exchange()
        window = asyncio.Semaphore(self._max_in_flight)

        async def publish_one(event: RecordedEvent) -> None:
            try:
                await exchange.publish(_message(event), routing_key(event), mandatory=False)
            finally:
                window.release()

        # Order: the tasks start in creation order and each reaches the channel's
        # (FIFO) lock without suspending, so frames leave in ``events`` order, and
        # AMQP keeps a channel's order into every queue. The contract suite checks
        # the order of thousands of pipelined events.
        try:
            async with asyncio.TaskGroup() as tasks:
                for event in events:
                    await window.acquire()
                    tasks.create_task(publish_one(event))
        except ExceptionGroup as group:
            first = group.exceptions[0]
            if isinstance(first, AMQP_FAILURES):
                raise translate(first, f"publishing {len(events)} events") from group
            raise

    async def declare(self, queue: str, bindings: Sequence[str]) -> None:
        async with self._admin(f"declaring queue {queue!r}") as channel:
            declared = await channel.declare_queue(queue, durable=True)
            for pattern in bindings:
                await declared.bind(self.exchange, routing_key=pattern)

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
        async with self._lock:
            connection = await self._connect()
        try:
            channel = await connection.channel(publisher_confirms=False)
        except AMQP_FAILURES as exc:
            raise translate(exc, f"opening a channel to consume {queue!r}") from exc
        consumer = RabbitMQConsumer(queue, channel, handler, prefetch)
        await consumer.start(on_done=self._consumers.discard)
        self._consumers.add(consumer)
        return consumer

    async def queue_depth(self, queue: str) -> int:
        async with self._admin(f"inspecting queue {queue!r}") as channel:
            declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        if count is None:  # pragma: no cover - the broker always sends it
            raise BusError(f"the broker did not report the depth of queue {queue!r}")
        return count

    async def delete_queue(self, queue: str) -> None:
        async with self._admin(f"deleting queue {queue!r}") as channel:
            await channel.queue_delete(queue)

    async def close(self) -> None:
        if self._closed:
            return
        for consumer in list(self._consumers):
            await consumer.stop()
        async with self._lock:
            self._closed = True
            if self._connection is not None and not self._connection.is_closed:
                with contextlib.suppress(*AMQP_FAILURES):
                    await self._connection.close()
            self._connection = None
            self._publisher = None


def _message(event: RecordedEvent) -> aio_pika.Message:
    return aio_pika.Message(
        encode_event(event),
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event.id),
        type=event.type,
        timestamp=event.recorded_at,
        correlation_id=event.metadata.correlation_id,
        headers={"cairn-position": event.position, "cairn-stream": event.stream},
        app_id="cairn",
    )
