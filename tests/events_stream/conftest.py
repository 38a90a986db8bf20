"""A cloud with identity and events on each store, and stream clients for tests.

``cloud`` is parametrized over SQLite and PostgreSQL. :class:`StreamReader`
reads either transport (WebSocket or SSE) with aiohttp's client and yields the
same thing for both: each delivered event document, and control messages.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS
from cairn.api.events import HUB
from cairn.api.events import SERVICE as EVENTS_SERVICE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.api.keys import STORE
from cairn.events import DomainEvent, Metadata, registry
from cairn.runtime import build_app
from cairn.store import EventStore, StreamWrite
from cairn.stream.hub import EventHub
from tests.conftest import fresh_pg_database
from tests.identity.conftest import ADMIN_PASSWORD, Cloud, settings_for


@registry.event
class GadgetMade(DomainEvent, frozen=True):
    gadget_id: str
    project_id: str | None = None
    size: int = 0
    filler: str = ""


@registry.event
class GadgetSecretSet(DomainEvent, frozen=True):
    """A payload from a service that does not exist yet, with secrets by name."""

    gadget_id: str
    admin_pass: str
    nested: dict[str, Any] = {}


@dataclass
class StreamCloud(Cloud):
    @property
    def store(self) -> EventStore:
        return self.client.app[STORE]  # type: ignore[index]

    @property
    def hub(self) -> EventHub:
        return self.client.app[HUB]  # type: ignore[index]

    async def gadgets(
        self, n: int, *, project: str | None = "p-red", writer: str = "w", filler: str = ""
    ) -> list[int]:
        """Append ``n`` gadget events (one append each); their positions."""
        positions = []
        for i in range(n):
            event = GadgetMade(gadget_id=f"{writer}-{i}", project_id=project, filler=filler)
            meta = Metadata(request_id=f"req-{writer}-{i}", user_id="u", project_id=project)
            result = await self.store.append(
                StreamWrite(f"gadget-{writer}-{i}", [registry.new(event, meta)])
            )
            positions.append(result.position)
        return positions


@asynccontextmanager
async def stream_cloud(
    data: Path, store: str | None = None, **changes: Any
) -> AsyncIterator[StreamCloud]:
    settings = settings_for(data, **({"store": store} if store else {}), **changes)
    app = build_app(settings, services=[IDENTITY_SERVICE, EVENTS_SERVICE])
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        made = StreamCloud(client, "")
        made.admin_token = await made.token("admin", ADMIN_PASSWORD, "admin")
        yield made
    finally:
        await client.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StreamCloud]:
    if request.param == "sqlite":
        async with stream_cloud(tmp_path) as made:
            yield made
        return
    async with fresh_pg_database() as dsn, stream_cloud(tmp_path, dsn) as made:
        yield made


@dataclass
class Received:
    events: list[dict[str, Any]] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def positions(self) -> list[int]:
        return [e["position"] for e in self.events]


def parse_sse(text: str) -> list[tuple[str, str | None, str]]:
    """(event name, id, data) of each complete message in ``text``."""
    messages = []
    for block in text.split("\n\n"):
        name, ident, data = "message", None, []
        for line in block.split("\n"):
            key, _, value = line.partition(": ")
            if key == "event":
                name = value
            elif key == "id":
                ident = value
            elif key == "data":
                data.append(value)
        if data:
            messages.append((name, ident, "\n".join(data)))
    return messages


class StreamReader:
    """One subscription over ``transport`` ("ws" or "sse"); iterate for
    ``("event", doc)`` and ``(control_name, body)`` pairs."""

    def __init__(self, cloud: StreamCloud, transport: str, token: str | None = None,
                 **query: Any) -> None:  # fmt: skip
        self.cloud, self.transport = cloud, transport
        self.token = token or cloud.admin_token
        self.query = {k: str(v) for k, v in query.items() if v is not None}
        self.status = 0

    @asynccontextmanager
    async def open(
        self, headers: dict[str, str] | None = None
    ) -> AsyncIterator[AsyncIterator[tuple[str, dict[str, Any]]]]:
        headers = {"X-Auth-Token": self.token, **(headers or {})}
        client = self.cloud.client
        if self.transport == "ws":
            ws = await client.ws_connect("/events/v1/stream", params=self.query, headers=headers)
            try:
                yield self._ws_messages(ws)
            finally:
                await ws.close()
        else:
            response = await client.get("/events/v1/stream", params=self.query, headers=headers)
            self.status = response.status
            try:
                yield self._sse_messages(response)
            finally:
                response.close()

    async def _ws_messages(
        self, ws: aiohttp.ClientWebSocketResponse
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        async for message in ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            body = json.loads(message.data)
            if body["type"] == "events":
                for event in body["events"]:
                    yield "event", event
            else:
                yield body["type"], body

    async def _sse_messages(
        self, response: aiohttp.ClientResponse
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        pending = ""
        async for chunk in response.content.iter_any():
            pending += chunk.decode()
            complete, sep, pending = pending.rpartition("\n\n")
            if not sep:
                pending = complete + pending
                continue
            for name, ident, data in parse_sse(complete + "\n\n"):
                body = json.loads(data)
                if name == "message":
                    assert ident == str(body["position"])
                    yield "event", body
                else:
                    assert ident == str(body["position"])
                    yield name, body
