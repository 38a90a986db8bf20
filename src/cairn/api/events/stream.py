"""``GET /events/v1/stream``: the event log, live, as a WebSocket or Server-Sent Events.

A WebSocket upgrade request gets a WebSocket; any other request gets
``text/event-stream``. Query parameters (all optional, values repeated or
comma-separated):

* ``type``: event types, shell wildcards allowed (``Server*``);
* ``category``: stream categories (``server``, ``user``);
* ``resource``: a stream name or a resource id;
* ``project``: one project's events (yours by default if you are not an
  admin; an admin sees every project's unless this narrows it);
* ``from``: the position you have received up to (``0``: the whole log), or
  an ISO time (the events recorded after it); default: the head, only what
  comes next. A ``Last-Event-ID`` header (what ``EventSource`` sends when it
  reconnects) counts as a ``from``: given both, the newer (larger) is taken.
  A position beyond the log's head is refused (400);
* ``auth_token``: the identity token, for clients that cannot send
  ``X-Auth-Token`` (see :mod:`.access`).

What is sent is described in :mod:`cairn.stream.frames`. The subscription ends
with a ``closing`` message naming the position to resume from: when the
subscriber falls behind (its connection buffer is full), when its token
expires or is revoked, and when the server shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from cairn.api.events.access import caller, visible_projects
from cairn.api.events.keys import HUB, LIVE, STREAM_CONFIG, StreamConfig
from cairn.api.faults import HTTPFault
from cairn.api.identity.keys import IDENTITY
from cairn.api.keys import STORE
from cairn.audit.points import BadPoint, parse_point, position_at
from cairn.identity.errors import Unauthorized
from cairn.identity.service import Authenticated
from cairn.logs import get_logger
from cairn.stream.filters import Selection, split_values
from cairn.stream.frames import http_chunk, sse_control, ws_control, ws_frame
from cairn.stream.hub import EventHub
from cairn.stream.sinks import TransportSink
from cairn.stream.subscriber import GONE, SHUTDOWN, SLOW, Kind, Subscriber

log = get_logger(__name__)

EXPIRED = "the token expired or was revoked"
STORE_DOWN = "the event store is unavailable; resume from position"
#: How long the last message and the close may take before the connection is dropped.
CLOSE_TIMEOUT = 5.0
#: How often a subscriber's token is checked again (expiry, revocation), in seconds.
RECHECK = 5.0
#: SSE clients wait this long (ms) before reconnecting after a close.
SSE_RETRY_MS = 1000
_MAX_VALUES = 50


async def stream(request: web.Request) -> web.StreamResponse:
    who = caller(request)
    selection = await _selection(request, who)
    hub = request.config_dict[HUB]
    after = await _start(request, hub)
    config = request.config_dict.get(STREAM_CONFIG) or StreamConfig()
    if request.method == "HEAD":  # checked and allowed, but nothing to stream
        return web.Response(headers={hdrs.CONTENT_TYPE: "text/event-stream"})
    if _wants_websocket(request):
        return await _websocket(request, who, selection, after, hub, config)
    return await _sse(request, who, selection, after, hub, config)


async def _selection(request: web.Request, who: Authenticated) -> Selection:
    query = request.query
    types = split_values(query.getall("type", ()))
    categories = split_values(query.getall("category", ()))
    if len(types) > _MAX_VALUES or len(categories) > _MAX_VALUES:
        raise HTTPFault.bad_request(f"At most {_MAX_VALUES} types and categories.")
    if any(len(v) > 255 for v in (*types, *categories)):
        raise HTTPFault.bad_request("A type or category is longer than 255 characters.")
    resource = query.get("resource") or None
    project = query.get("project") or None
    for name, value in (("resource", resource), ("project", project)):
        if value is not None and len(value) > 255:
            raise HTTPFault.bad_request(f"Invalid {name}.")
    projects = await visible_projects(request, who, project)
    return Selection(types, frozenset(categories), resource, projects)


async def _start(request: web.Request, hub: EventHub) -> int:
    """The position the subscription starts after."""
    given = [raw for raw in (request.headers.get("Last-Event-ID"), request.query.get("from"))
             if raw is not None and raw.strip() != ""]  # fmt: skip
    if not given:
        return hub.position
    store = request.config_dict[STORE]
    starts = []
    for raw in given:
        try:
            point = parse_point(raw)
        except BadPoint as exc:
            raise HTTPFault.bad_request(f"Invalid from: {exc}") from None
        starts.append(point if isinstance(point, int) else await position_at(store, point))
    start = max(starts)  # both given: the newer
    # A position the log has not reached would be waited for forever.
    if start > hub.position and start > (head := await store.head()):
        raise HTTPFault.bad_request(f"Invalid from: {start} is beyond the log's head ({head}).")
    return start


def _wants_websocket(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


async def _websocket(
    request: web.Request,
    who: Authenticated,
    selection: Selection,
    after: int,
    hub: EventHub,
    config: StreamConfig,
) -> web.StreamResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=64 * 1024)
    if not ws.can_prepare(request).ok:
        raise HTTPFault.bad_request("Not a valid WebSocket upgrade request.")
    await ws.prepare(request)
    sink = TransportSink("ws", request.transport)
    subscriber = Subscriber(selection, sink, after=after, limit=config.buffer)
    sink.write(ws_frame(ws_control("subscribed", after, head=hub.position)))
    reader = asyncio.create_task(_read_until_closed(ws, subscriber))
    try:
        await _serve(request, who, subscriber, hub, config, "ws")
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    reason = subscriber.ended.result()
    if reason != GONE and not sink.closing():
        sink.write(ws_frame(ws_control("closing", subscriber.position, reason=reason)))
    code = {SLOW: WSCloseCode.POLICY_VIOLATION, SHUTDOWN: WSCloseCode.GOING_AWAY}.get(
        reason, WSCloseCode.OK
    )
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await ws.close(code=code)
    except (TimeoutError, ConnectionError):
        if request.transport is not None:
            request.transport.abort()
    return ws


async def _read_until_closed(ws: web.WebSocketResponse, subscriber: Subscriber) -> None:
    """Consume what the client sends (aiohttp answers pings); end on its close."""
    async for message in ws:
        if message.type is WSMsgType.ERROR:
            break
    subscriber.finish(GONE)


async def _sse(
    request: web.Request,
    who: Authenticated,
    selection: Selection,
    after: int,
    hub: EventHub,
    config: StreamConfig,
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            hdrs.CONTENT_TYPE: "text/event-stream",
            hdrs.CACHE_CONTROL: "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    response.enable_chunked_encoding()
    response.force_close()  # the end of a subscription is the end of its connection
    await response.prepare(request)
    sink = TransportSink("sse", request.transport)
    subscriber = Subscriber(selection, sink, after=after, limit=config.buffer)
    hello = sse_control("subscribed", after, head=hub.position)
    sink.write(http_chunk(b"retry: %d\n%b" % (SSE_RETRY_MS, hello)))
    await _serve(request, who, subscriber, hub, config, "sse")
    reason = subscriber.ended.result()
    if reason != GONE and not sink.closing():
        sink.write(http_chunk(sse_control("closing", subscriber.position, reason=reason)))
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await response.write_eof()
        except (TimeoutError, ConnectionError):
            if request.transport is not None:
                request.transport.abort()
    return response


async def _serve(
    request: web.Request,
    who: Authenticated,
    subscriber: Subscriber,
    hub: EventHub,
    config: StreamConfig,
    kind: Kind,
) -> None:
    """Catch up, follow live, send heartbeats, until the subscription ends."""
    live = request.app[LIVE]
    live.add(subscriber)
    log.info("subscribed", transport=kind, after=subscriber.position, user_id=who.user_id)
    serving = asyncio.create_task(hub.serve(subscriber))

    def on_served(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.warning("catch-up failed", error=str(task.exception()))
            subscriber.finish(STORE_DOWN)

    serving.add_done_callback(on_served)
    try:
        while not subscriber.finished:
            with contextlib.suppress(TimeoutError):
                wait = min(RECHECK, config.heartbeat)
                await asyncio.wait_for(asyncio.shield(subscriber.ended), wait)
            if subscriber.finished:
                break
            if not _still_valid(request, who):
                subscriber.finish(EXPIRED)
                break
            _heartbeat(subscriber, config.heartbeat, kind)
    finally:
        live.discard(subscriber)
        hub.detach(subscriber)
        subscriber.finish(GONE)
        if not serving.done():
            serving.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await serving
        log.info(
            "unsubscribed",
            transport=kind,
            position=subscriber.position,
            delivered=subscriber.delivered,
            reason=subscriber.ended.result(),
        )


def _still_valid(request: web.Request, who: Authenticated) -> bool:
    try:
        request.config_dict[IDENTITY].validate(who.token)
    except Unauthorized:
        return False
    return who.payload.expires_at > time.time()


def _heartbeat(subscriber: Subscriber, every: float, kind: Kind) -> None:
    """Tell a quiet subscriber how far it has been served (its resume point)."""
    if time.monotonic() - subscriber.last_write < every * 0.9:
        return
    if kind == "ws":
        frame = ws_frame(ws_control("heartbeat", subscriber.position))
    else:
        frame = http_chunk(sse_control("heartbeat", subscriber.position))
    subscriber.sink.write(frame)
    subscriber.last_write = time.monotonic()
