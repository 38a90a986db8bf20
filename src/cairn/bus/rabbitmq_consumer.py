"""A consumer of one RabbitMQ queue: its own channel, manual acks sent in runs.

The broker pushes up to ``prefetch`` messages into a local buffer; one task
hands them to the handler one at a time, in delivery order. Acks are not sent
one frame each: :meth:`_RabbitMQDelivery.ack` marks the delivery tag, and a
flush sends one ``basic.ack(multiple=True)`` for the leading run of acked tags
(every tag up to it is acked, so ``multiple`` cannot ack anything unhandled)
and single acks for any acked tag behind an unsettled one. A flush happens when
a quarter of the prefetch window is acked, whenever the buffer runs dry, and on
a graceful stop. Stopping closes the channel, which hands every unacked message
back to the queue in its original order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

import aio_pika.abc
import aiormq.abc
import structlog
from pamqp import commands as spec

from cairn.bus.amqp_errors import AMQP_FAILURES, translate
from cairn.bus.codec import UndecodableMessage, decode_event
from cairn.bus.port import (
    BusError,
    BusUnavailable,
    Delivery,
    Handler,
    StaleDelivery,
    handler_failed,
)
from cairn.bus.task_consumer import TaskConsumer
from cairn.events import RecordedEvent

log = structlog.get_logger(__name__)


class _RabbitMQDelivery(Delivery):
    def __init__(
        self, consumer: RabbitMQConsumer, tag: int, event: RecordedEvent, redelivered: bool
    ):
        self.event = event
        self.redelivered = redelivered
        self._consumer = consumer
        self._tag = tag

    async def ack(self) -> None:
        await self._consumer.settle(self._tag, self.event, ack=True, requeue=False)

    async def reject(self, *, requeue: bool = True) -> None:
        await self._consumer.settle(self._tag, self.event, ack=False, requeue=requeue)


class RabbitMQConsumer(TaskConsumer):
    """Started by :meth:`cairn.bus.rabbitmq.RabbitMQBus.consume`; see the port."""

    def __init__(
        self,
        queue: str,
        channel: aio_pika.abc.AbstractChannel,
        handler: Handler,
        prefetch: int,
    ) -> None:
        super().__init__()
        self.queue = queue
        self._channel = channel
        self._underlay: aiormq.abc.AbstractChannel | None = None
        self._handler = handler
        self._prefetch = prefetch
        self._ack_batch = max(1, prefetch // 4)
        self._buffer: deque[aiormq.abc.DeliveredMessage] = deque()
        # Delivery tags received and not yet settled with the broker, in order:
        # False while unsettled, True once acked locally but not yet sent.
        self._outstanding: dict[int, bool] = {}
        self._acks_pending = 0
        self._consumer_tag: str | None = None
        self._finished = False

    async def start(self, on_done: Callable[[RabbitMQConsumer], object]) -> None:
        try:
            await self._channel.set_qos(prefetch_count=self._prefetch)
            self._underlay = await self._channel.get_underlay_channel()
            self._underlay.on_consumer_cancel_callbacks.add(self._on_broker_cancel)
            ok = await self._underlay.basic_consume(self.queue, self._on_message, no_ack=False)
        except AMQP_FAILURES as exc:
            with contextlib.suppress(*AMQP_FAILURES):
                await self._channel.close()
            raise translate(exc, f"consuming queue {self.queue!r}") from exc
        self._consumer_tag = ok.consumer_tag
        asyncio.ensure_future(self._channel.closed()).add_done_callback(self._on_channel_closed)
        self._task = asyncio.create_task(self._run(), name=f"cairn-bus-consume-{self.queue}")
        self._task.add_done_callback(lambda _: on_done(self))

    # -- callbacks from aiormq's reader --------------------------------------

    async def _on_message(self, message: aiormq.abc.DeliveredMessage) -> None:
        # aiormq starts one task per delivery, in delivery order; this runs to
        # the end without suspending, so the buffer keeps that order.
        tag = message.delivery_tag
        if tag is None:  # pragma: no cover - only basic.get replies lack one
            return
        self._outstanding[tag] = False
        self._buffer.append(message)
        self._wake.set()

    def _on_broker_cancel(self, frame: spec.Basic.Cancel) -> None:
        # The queue was deleted (or the node holding it went away).
        if frame.consumer_tag == self._consumer_tag:
            log.info("bus.consumer_cancelled_by_broker", queue=self.queue)
            self._stopping = True
            self._wake.set()

    def _on_channel_closed(self, _: object) -> None:
        if not self._finished and self._failure is None:
            self._failure = BusUnavailable(
                f"the channel consuming queue {self.queue!r} closed under the consumer"
            )
            self._wake.set()

    # -- the handler loop --------------------------------------------------------

    async def _run(self) -> None:
        graceful = False
        try:
            while not self._stopping and self._failure is None:
                if not self._buffer:
                    await self._flush()
                    self._wake.clear()
                    if not self._buffer and not self._stopping and self._failure is None:
                        await self._wake.wait()
                    continue
                await self._handle(self._buffer.popleft())
                if self._acks_pending >= self._ack_batch:
                    await self._flush()
            graceful = True
        except BusUnavailable as exc:
            self._failure = self._failure or exc
        finally:
            self._finished = True
            await self._teardown(flush=graceful and not isinstance(self._failure, BusUnavailable))

    async def _handle(self, message: aiormq.abc.DeliveredMessage) -> None:
        tag = message.delivery_tag
        assert tag is not None
        try:
            event = decode_event(message.body)
        except UndecodableMessage as exc:
            log.error("bus.undecodable_message", queue=self.queue, error=str(exc))
            await self.settle(tag, None, ack=False, requeue=False)
            return
        redelivered = bool(message.redelivered)
        try:
            await self._handler(_RabbitMQDelivery(self, tag, event, redelivered))
        except Exception as exc:
            self._failure = handler_failed(self.queue, event, exc)
            log.error("bus.handler_failed", queue=self.queue, error=str(self._failure))

    async def settle(
        self, tag: int, event: RecordedEvent | None, *, ack: bool, requeue: bool
    ) -> None:
        if self._outstanding.get(tag) is not False or self._finished:
            raise StaleDelivery(
                f"event {event.id if event else '?'} from queue {self.queue!r} is already "
                "settled, or its consumer stopped"
            )
        if isinstance(self._failure, BusUnavailable):
            raise BusUnavailable(
                f"cannot settle a delivery of queue {self.queue!r}: "
                "its channel closed; the event will be delivered again"
            )
        if ack:
            self._outstanding[tag] = True
            self._acks_pending += 1
            if self._acks_pending >= self._ack_batch or not self._buffer:
                await self._flush()
            return
        del self._outstanding[tag]
        assert self._underlay is not None
        try:
            await self._underlay.basic_reject(tag, requeue=requeue)
        except AMQP_FAILURES as exc:
            raise translate(exc, f"rejecting a delivery of queue {self.queue!r}") from exc

    async def _flush(self) -> None:
        """Send every ack marked so far: one frame for the leading run."""
        if not self._acks_pending:
            return
        run_end: int | None = None
        singles: list[int] = []
        in_run = True
        for tag, acked in self._outstanding.items():
            if not acked:
                in_run = False
            elif in_run:
                run_end = tag
            else:
                singles.append(tag)
        # Forget them before sending, so a concurrent flush cannot send them twice.
        for tag in [t for t, acked in self._outstanding.items() if acked]:
            del self._outstanding[tag]
        self._acks_pending = 0
        assert self._underlay is not None
        try:
            if run_end is not None:
                await self._underlay.basic_ack(run_end, multiple=True)
            for tag in singles:
                await self._underlay.basic_ack(tag)
        except AMQP_FAILURES as exc:
            raise translate(exc, f"acking deliveries of queue {self.queue!r}") from exc

    async def _teardown(self, *, flush: bool) -> None:
        if flush:
            try:
                await self._flush()
            except BusError as exc:
                log.warning("bus.final_acks_lost", queue=self.queue, error=str(exc))
        # Closing the channel gives every unacked delivery back to the queue.
        if not self._channel.is_closed:
            with contextlib.suppress(*AMQP_FAILURES):
                await self._channel.close()

    # -- the handle -----------------------------------------------------------------

    async def _after_abort(self) -> None:
        # A cancel that landed inside the teardown may have cut the close short.
        if not self._channel.is_closed:
            with contextlib.suppress(*AMQP_FAILURES):
                await self._channel.close()
