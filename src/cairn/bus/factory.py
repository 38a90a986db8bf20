"""Open the bus a URL names: ``memory://`` (or nothing) or ``amqp://...``.

This is the one place that picks a bus adapter; the composition root calls it.
"""

from __future__ import annotations

from cairn.bus.port import DEFAULT_EXCHANGE, Bus


async def open_bus(url: str | None, *, exchange: str = DEFAULT_EXCHANGE) -> Bus:
    """Open the bus at ``url``.

    ``None`` or ``memory://`` gives an :class:`~cairn.bus.inprocess.InProcessBus`;
    ``amqp://user:pass@host:port/vhost`` (or ``amqps://``) connects to RabbitMQ and
    declares the topic exchange ``exchange``, raising
    :class:`~cairn.bus.port.BusUnavailable` if the broker cannot be reached.
    """
    scheme = "memory" if url is None else url.split("://", 1)[0].lower()
    if scheme == "memory":
        from cairn.bus.inprocess import InProcessBus

        return InProcessBus()
    if scheme in ("amqp", "amqps"):
        from cairn.bus.rabbitmq import RabbitMQBus

        assert url is not None
        return await RabbitMQBus.connect(url, exchange=exchange)
    raise ValueError(f"unsupported bus URL {url!r}: use memory:// or amqp://HOST")
