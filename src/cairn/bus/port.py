"""The bus port: what every adapter (in-process, RabbitMQ) promises.

The bus carries committed events from the log to the processes that act on
them. Its model is AMQP's, reduced to what Cairn needs:

* One **topic exchange** receives every published event under the routing key
  ``<stream category>.<event type>`` (``server.ServerRequested``), see
  :func:`routing_key`.
* Consumers read **named durable queues**. A queue is bound to the exchange by
  topic patterns (``server.*``, ``*.ServerDeleted``, ``#``): ``*`` matches one
  dot-separated word, ``#`` zero or more. A queue receives each published event
  whose key matches any of its bindings, once, in publish order. A queue exists
  from its first :meth:`Bus.declare` (or :meth:`Bus.consume`) on: events
  published before that are not in it.
* Delivery is **at least once** and acknowledged by hand. A delivery stays in
  its queue until the handler calls :meth:`Delivery.ack`; if the consumer stops,
  fails or dies first, the delivery is delivered again (``redelivered`` set).
  Consumers therefore de-duplicate by event id (see :mod:`cairn.bus.idempotent`).

Errors (all derive from :class:`cairn.errors.CairnError`)::

    BusError
    ├── BusClosed          you closed the bus; nothing more is accepted
    ├── BusUnavailable     the broker is unreachable or the connection broke
    ├── PublishRejected    the broker refused (nacked) a published event
    ├── ConsumerFailed     a consumer stopped because its handler raised
    ├── StaleDelivery      a delivery was settled twice, or after its consumer stopped
    ├── LedgerError        (cairn.bus.ledger) an idempotent consumer's SQLite file failed
    └── UndecodableMessage (cairn.bus.codec) a message on the exchange is not an event
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from cairn.errors import CairnError
from cairn.events import RecordedEvent

#: The exchange name adapters use unless told otherwise.
DEFAULT_EXCHANGE: Final = "cairn.events"
#: How many deliveries a consumer may hold unacknowledged unless told otherwise.
DEFAULT_PREFETCH: Final = 100


class BusError(CairnError):
    """Base of bus errors."""


class BusClosed(BusError):
    """The bus was closed by its owner; it accepts no more work."""


class BusUnavailable(BusError):
    """The broker is unreachable, or the connection to it broke; retry later."""


class PublishRejected(BusError):
    """The broker answered a publish with a negative confirm (nack)."""


class ConsumerFailed(BusError):
    """A consumer stopped because its handler raised; ``__cause__`` is that error."""


class StaleDelivery(BusError):
    """A delivery was acked or rejected twice, or after its consumer had stopped
    (it went back to its queue and will be delivered again)."""


def routing_key(event: RecordedEvent) -> str:
    """The key an event is published under: ``<stream category>.<event type>``."""
    return f"{event.category}.{event.type}"


def handler_failed(queue: str, event: RecordedEvent, exc: BaseException) -> ConsumerFailed:
    """The error a consumer's :meth:`Consumer.wait` raises after ``exc`` escaped its handler."""
    failure = ConsumerFailed(
        f"the handler of queue {queue!r} raised on event {event.id} "
        f"({event.type} at position {event.position}): {exc!r}"
    )
    failure.__cause__ = exc
    return failure


class Delivery(abc.ABC):
    """One event handed to a consumer, waiting to be settled.

    Settle each delivery exactly once, with :meth:`ack` or :meth:`reject`. A
    delivery never settled is delivered again after its consumer stops.
    """

    #: The event, exactly as the store recorded it.
    event: RecordedEvent
    #: True when this event may have been delivered before (to this queue, to any
    #: consumer): a previous consumer stopped, failed or died holding it.
    redelivered: bool

    @abc.abstractmethod
    async def ack(self) -> None:
        """Remove the event from its queue: it has been handled.

        Adapters may batch acknowledgements (RabbitMQ sends one frame for a run
        of consecutive acks), so an ack is final only once the consumer flushes
        it, at the latest when the consumer stops; a consumer that dies before
        that sees the event again. AMQP has no reply to an ack, so this is true
        of any ack: handle events idempotently.

        Raises :class:`StaleDelivery` if the delivery is already settled or its
        consumer has stopped, and :class:`BusUnavailable` if the connection
        broke (the event will be delivered again).
        """

    @abc.abstractmethod
    async def reject(self, *, requeue: bool = True) -> None:
        """Give the event back to its queue (``requeue=True``) or drop it.

        A requeued event is delivered again, to this or another consumer, but
        possibly after events this consumer has already fetched: to keep the
        queue's order, raise from the handler instead (the consumer stops and
        everything it held goes back in order). Raises as :meth:`ack` does.
        """


#: A consumer's handler: called with one delivery at a time, in queue order.
Handler = Callable[[Delivery], Awaitable[None]]


class Consumer(abc.ABC):
    """A running consumer of one queue, as returned by :meth:`Bus.consume`."""

    #: The name of the queue this consumer reads.
    queue: str

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop consuming, gracefully.

        No new delivery reaches the handler; the handler call in progress, if
        any, runs to its end; acks already given are sent. Every delivery that
        was fetched but not yet handed over, or left unsettled, goes back to the
        queue and is delivered again (``redelivered`` set). Returns when all of
        that is done. Calling it again, or on a consumer that already stopped
        or failed, does nothing. Never raises the handler's error: use
        :meth:`wait` for that.

        If the task awaiting ``stop`` is cancelled, the consumer is torn down as
        by :meth:`abort` and the cancellation propagates.
        """

    @abc.abstractmethod
    async def abort(self) -> None:
        """Stop at once, as if the process had died.

        The handler call in progress, if any, is cancelled; acks not yet sent
        may be lost; every delivery not acknowledged to the broker goes back to
        the queue. Use it when a graceful :meth:`stop` takes too long. Calling it
        on a stopped consumer does nothing.
        """

    @abc.abstractmethod
    async def wait(self) -> None:
        """Wait until the consumer has stopped.

        Returns after :meth:`stop` or :meth:`abort`. Raises
        :class:`ConsumerFailed` (its ``__cause__`` is the handler's exception)
        when the consumer stopped because the handler raised: the delivery being
        handled and every later one went back to the queue, in order, so no event
        is skipped. Raises :class:`BusUnavailable` when the connection broke.
        Cancelling ``wait`` does not affect the consumer.
        """


class Bus(abc.ABC):
    """The port. Adapters are named ``<Tech>Bus``."""

    @abc.abstractmethod
    async def publish(self, events: Sequence[RecordedEvent]) -> None:
        """Publish ``events``, in this order, to the exchange.

        Returns only when every event is accepted by every queue bound to its
        routing key (RabbitMQ: confirmed by the broker; persistent messages in
        durable queues survive a broker restart). Events with no matching queue
        are dropped, as AMQP does. Each queue gets its events in ``events``
        order; events of concurrent ``publish`` calls may interleave.

        Raises :class:`BusClosed` after :meth:`close`,
        :class:`BusUnavailable` if the broker is unreachable or the connection
        broke, and :class:`PublishRejected` if the broker refused an event. After
        an error, or if the caller is cancelled, any of the events may or may not
        have been routed: publish them all again (consumers de-duplicate by event
        id). A later ``publish`` reconnects if the connection was lost.
        """

    @abc.abstractmethod
    async def declare(self, queue: str, bindings: Sequence[str]) -> None:
        """Create durable queue ``queue`` if it does not exist, and bind it to
        every topic pattern in ``bindings``.

        From its return on, published events whose key matches are kept in the
        queue until consumed. Bindings are only ever added; remove them with
        :meth:`delete_queue`. Raises :class:`BusClosed`, :class:`BusUnavailable`,
        or :class:`BusError` if the broker refuses the declaration.
        """

    @abc.abstractmethod
    async def consume(
        self,
        queue: str,
        bindings: Sequence[str],
        handler: Handler,
        *,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> Consumer:
        """Declare ``queue`` with ``bindings`` (as :meth:`declare`) and start
        calling ``handler`` with its deliveries, one at a time, in queue order.

        At most ``prefetch`` deliveries are held by this consumer without an
        ack. Several consumers of one queue share its events (each event goes to
        one of them). Returns once the consumer is registered; consuming goes on
        in the background until :meth:`Consumer.stop`. The handler acks or
        rejects each delivery; if it raises, the consumer stops (see
        :meth:`Consumer.wait`). Raises as :meth:`declare` does, and
        ``ValueError`` if ``prefetch`` is not positive.
        """

    @abc.abstractmethod
    async def queue_depth(self, queue: str) -> int:
        """How many events are waiting in ``queue``, not counting deliveries
        held by consumers and not yet acknowledged.

        Raises :class:`BusError` if the queue does not exist.
        """

    @abc.abstractmethod
    async def delete_queue(self, queue: str) -> None:
        """Delete ``queue`` and every event in it; its consumers stop (their
        :meth:`Consumer.wait` returns). Deleting a missing queue does nothing."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop every consumer (as :meth:`Consumer.stop`), then release the
        connection. Further calls raise :class:`BusClosed`; closing twice does
        nothing. Nothing already confirmed by :meth:`publish` is lost."""

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
