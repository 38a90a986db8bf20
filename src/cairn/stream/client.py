"""A client of ``GET /events/v1/stream`` that never loses its place.

:func:`follow` subscribes over a WebSocket and yields each delivered event
document. When the server ends the subscription with a ``closing`` message
that names a position (the subscriber fell behind, the server is restarting),
or the connection drops, it subscribes again from the last position it was
served, so the caller sees every event once, in order. It gives up only on
answers that retrying cannot change (401, 403, 400) or after ``retries``
failed attempts in a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import msgspec

from cairn.errors import CairnError

_decoder = msgspec.json.Decoder()


class StreamRefused(CairnError):
    """The server refused the subscription (bad token, not allowed, bad filter)."""


class Position:
    """How far the follower has been served: the value to resume from."""

    def __init__(self, start: str | None) -> None:
        self.value = start

    def __str__(self) -> str:
        return "the head" if self.value is None else str(self.value)


async def follow(
    base_url: str,
    token: str,
    query: Mapping[str, str],
    position: Position,
    *,
    retries: int = 5,
    session: aiohttp.ClientSession | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Every event the subscription delivers, across reconnections.

    ``position.value`` is where to start (a position, an ISO time, or ``None``
    for the head) and is kept up to date with the position served."""
    url = base_url.rstrip("/") + "/events/v1/stream"
    own = session is None
    session = session or aiohttp.ClientSession()
    failures = 0
    try:
        while True:
            params = dict(query)
            if position.value is not None:
                params["from"] = position.value
            try:
                async with session.ws_connect(
                    url, params=params, headers={"X-Auth-Token": token}, heartbeat=30
                ) as ws:
                    failures = 0
                    async for message in ws:
                        if message.type is not aiohttp.WSMsgType.TEXT:
                            break
                        body = _decoder.decode(message.data)
                        kind = body.get("type")
                        if kind == "events":
                            for event in body["events"]:
                                position.value = str(event["position"])
                                yield event
                        if kind in ("events", "heartbeat", "closing"):
                            position.value = str(body["position"])
                        if kind == "closing" and "resume" not in body.get("reason", ""):
                            raise StreamRefused(f"the server ended the stream: {body['reason']}")
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (400, 401, 403, 404):
                    raise StreamRefused(f"the server refused the stream: {exc.status} "
                                        f"{exc.message}") from None  # fmt: skip
                failures += 1
            except (aiohttp.ClientError, OSError):
                failures += 1
            if failures > retries:
                raise StreamRefused(f"cannot reach {url} after {retries} attempts")
            await asyncio.sleep(min(0.2 * 2**failures, 5.0) if failures else 0)
    finally:
        if own:
            await session.close()
