"""The bus: one port (:mod:`cairn.bus.port`), an in-process and a RabbitMQ
adapter, the outbox relay that feeds it from the event log, and idempotent
consumers that never apply an event twice. docs/adr/0004 explains the choices.
"""

from cairn.bus.factory import open_bus
from cairn.bus.port import (
    DEFAULT_EXCHANGE,
    DEFAULT_PREFETCH,
    Bus,
    BusClosed,
    BusError,
    BusUnavailable,
    Consumer,
    ConsumerFailed,
    Delivery,
    Handler,
    PublishRejected,
    StaleDelivery,
    routing_key,
)

__all__ = [
    "DEFAULT_EXCHANGE",
    "DEFAULT_PREFETCH",
    "Bus",
    "BusClosed",
    "BusError",
    "BusUnavailable",
    "Consumer",
    "ConsumerFailed",
    "Delivery",
    "Handler",
    "PublishRejected",
    "StaleDelivery",
    "open_bus",
    "routing_key",
]
