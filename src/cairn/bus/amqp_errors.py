"""Translate aio-pika/aiormq failures into the bus port's errors."""

from __future__ import annotations

from typing import Final

import aiormq.exceptions
from yarl import URL

from cairn.bus.port import BusError, BusUnavailable, PublishRejected

#: What a broken or refusing broker raises through aio-pika.
AMQP_FAILURES: Final = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    TimeoutError,
)

_REFUSALS: Final = (
    aiormq.exceptions.ChannelAccessRefused,
    aiormq.exceptions.ChannelNotFoundEntity,
    aiormq.exceptions.ChannelLockedResource,
    aiormq.exceptions.ChannelPreconditionFailed,
)


def translate(exc: BaseException, doing: str) -> BusError:
    """The port error for ``exc``, raised while ``doing`` (``"declaring queue 'q'"``)."""
    if isinstance(exc, aiormq.exceptions.DeliveryError):
        return PublishRejected(f"the broker refused {doing}: {exc!r}")
    if isinstance(exc, _REFUSALS):
        return BusError(f"the broker refused {doing}: {exc}")
    return BusUnavailable(f"{doing} failed, RabbitMQ is unreachable or went away: {exc!r}")


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parsed = URL(url)
    return str(parsed.with_password("***")) if parsed.password else url
