"""The events service at ``/events``: Cairn's own API over its log.

* ``GET /events/v1/stream``: the log live, as a WebSocket or Server-Sent
  Events, filtered and resumable (:mod:`.stream`);
* ``GET /events/v1/resources/{kind}/{id}/history``: one resource's events
  (:mod:`.history`).

Both authenticate with identity's tokens and show a project's members only
their project's events (:mod:`.access`). The process has one
:class:`~cairn.stream.EventHub` reading the log for every subscriber; it
starts with the service and stops with it. Subscriptions outlive ordinary
requests, so on shutdown they are ended first (with a ``closing`` message that
says where to resume), not waited for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from cairn.api.events import history, stream
from cairn.api.events.keys import HUB, LIVE, STREAM_CONFIG, StreamConfig, Subscriptions
from cairn.api.identity.auth import token_middleware
from cairn.api.keys import STORE
from cairn.api.services import CatalogEntry, Service, get
from cairn.logs import get_logger
from cairn.stream.hub import EventHub
from cairn.stream.subscriber import SHUTDOWN

log = get_logger(__name__)


def _v1(request: web.Request) -> dict[str, object]:
    base = f"{request.url.origin()}/events/v1"
    return {
        "id": "v1",
        "status": "CURRENT",
        "links": [
            {"rel": "self", "href": f"{base}/"},
            {"rel": "stream", "href": f"{base}/stream"},
            {"rel": "history", "href": f"{base}/resources/{{kind}}/{{id}}/history"},
        ],
    }


async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": [_v1(request)]})


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": _v1(request)})


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app.get(STREAM_CONFIG) or StreamConfig()
    hub = EventHub(app[STORE], ring=config.ring)
    await hub.start()
    app[HUB] = hub
    log.info("event hub following the log", position=hub.position)
    try:
        yield
    finally:
        await hub.stop()


async def _end_subscriptions(app: web.Application) -> None:
    live: Subscriptions = app[LIVE]
    for subscriber in list(live):
        subscriber.finish(SHUTDOWN)


class EventsService(Service):
    """A service whose subscriptions are ended when the server begins to shut down."""

    __slots__ = ()

    def build(self) -> web.Application:
        app = Service.build(self)
        app[LIVE] = Subscriptions()
        app.on_shutdown.append(_end_subscriptions)
        return app


SERVICE = EventsService(
    name="events",
    title="Events (Cairn: stream, history)",
    routes=[
        get("", versions),
        get("/", versions),
        get("/v1", version),
        get("/v1/", version),
        get("/v1/stream", stream.stream),
        get("/v1/resources/{kind}/{id}/history", history.history),
    ],
    contexts=[hub_ctx],
    middlewares=[token_middleware],
    catalog=[CatalogEntry("events", "cairn-events")],
)

__all__ = ["HUB", "SERVICE", "STREAM_CONFIG", "StreamConfig"]
