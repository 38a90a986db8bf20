"""Typed keys and settings of the events service."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from cairn.stream.hub import EventHub
from cairn.stream.subscriber import Subscriber


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """``buffer``: bytes a subscriber's connection may hold unsent before it is cut
    off as slow; ``heartbeat``: seconds of silence after which a subscriber is
    told the position it has been served up to (and its token checked again);
    ``ring``: recent events the hub keeps in memory for resuming subscribers."""

    buffer: int = 4 * 1024 * 1024
    heartbeat: float = 15.0
    ring: int = 10_000


#: Set by the composition root (defaults when absent).
STREAM_CONFIG: web.AppKey[StreamConfig] = web.AppKey("stream_config", StreamConfig)
#: The process's one fan-out reader, on the root application.
HUB: web.AppKey[EventHub] = web.AppKey("event_hub", EventHub)


class Subscriptions(set[Subscriber]):
    """The subscriptions a sub-application is serving (ended on shutdown)."""


#: On the events sub-application.
LIVE: web.AppKey[Subscriptions] = web.AppKey("live_subscribers", Subscriptions)
