"""Idempotent consumers: bus handlers that never apply one event twice.

The bus delivers at least once: an event is delivered again after a consumer
dies between acting and acking, after a relay republishes a batch whose
confirm it did not see, or when two relays overlap. "Never twice" therefore
needs a record of handled event ids, and that record must commit *atomically
with the effect*: recording before acting loses the effect on a crash in
between; recording after acting doubles it. Two handlers cover the two kinds
of effect an agent has:

* :class:`IdempotentConsumer`, for effects on local state kept in the ledger's
  SQLite file: ``apply(connection, event)`` runs in the same transaction that
  records the event id, so the effect and the record commit together or not at
  all. Exactly once, across any crash.
* :class:`IdempotentEffect`, for effects outside any transaction (define a
  libvirt domain, create a bridge, write a file). An attempt is recorded before
  acting and marked done after. A redelivered event already done is skipped; an
  event whose earlier attempt started but never finished is handed to the
  effect again with ``in_doubt=True``, and the effect must look at what really
  exists before acting (does the domain exist already?). It is never re-run
  blindly.

Both ack the delivery only after the ledger has committed, so an ack never runs
ahead of the record. Use one ``name`` per logical consumer (per agent and
purpose): the ledger keeps each name's handled ids apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from cairn.bus.ledger import Apply, Ledger, Status
from cairn.bus.port import Delivery
from cairn.events import RecordedEvent

log = structlog.get_logger(__name__)

#: An effect outside the ledger: ``effect(event, in_doubt)``.
Effect = Callable[[RecordedEvent, bool], Awaitable[None]]


class IdempotentConsumer:
    """A :data:`~cairn.bus.port.Handler` applying each event to local state once.

    ``apply(connection, event)`` runs on the ledger's thread inside the
    transaction that records ``event.id`` for ``name``; it must write its effect
    through ``connection`` only, and raise to abort (nothing is recorded, the
    consumer stops, and the event is delivered again).
    """

    def __init__(self, ledger: Ledger, name: str, apply: Apply) -> None:
        self.ledger = ledger
        self.name = name
        self._apply = apply
        #: Events applied / skipped as already handled, since this object was made.
        self.applied = 0
        self.skipped = 0

    async def __call__(self, delivery: Delivery) -> None:
        event = delivery.event
        if await self.ledger.apply_once(self.name, event, self._apply):
            self.applied += 1
        else:
            self.skipped += 1
            log.info(
                "bus.duplicate_skipped",
                consumer=self.name,
                event_id=str(event.id),
                position=event.position,
                redelivered=delivery.redelivered,
            )
        await delivery.ack()


class IdempotentEffect:
    """A :data:`~cairn.bus.port.Handler` for effects outside the ledger.

    ``effect(event, in_doubt)`` acts on the world. ``in_doubt`` is True when an
    earlier attempt at this event started and did not finish (the process died,
    or the effect raised): it may have acted, partly or fully, so the effect must
    check before acting again. If the effect raises, the event stays in doubt,
    the consumer stops, and the event is delivered again.
    """

    def __init__(self, ledger: Ledger, name: str, effect: Effect) -> None:
        self.ledger = ledger
        self.name = name
        self._effect = effect
        self.applied = 0
        self.skipped = 0
        self.in_doubt = 0

    async def __call__(self, delivery: Delivery) -> None:
        event = delivery.event
        status = await self.ledger.begin(self.name, event)
        if status is Status.DONE:
            self.skipped += 1
            log.info(
                "bus.duplicate_skipped",
                consumer=self.name,
                event_id=str(event.id),
                position=event.position,
            )
        else:
            if status is Status.IN_DOUBT:
                self.in_doubt += 1
                log.warning(
                    "bus.effect_in_doubt",
                    consumer=self.name,
                    event_id=str(event.id),
                    position=event.position,
                )
            await self._effect(event, status is Status.IN_DOUBT)
            await self.ledger.finish(self.name, event)
            self.applied += 1
        await delivery.ack()
