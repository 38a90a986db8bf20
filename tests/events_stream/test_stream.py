"""The stream over both transports and both stores: catch-up, live, resume, filters."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from cairn.events import registry
from cairn.store import EventStore, StreamWrite
from cairn.store.postgres import PostgresEventStore
from tests.events_stream.conftest import GadgetMade, StreamCloud, StreamReader

TRANSPORTS = ["ws", "sse"]


async def take(reader: StreamReader, count: int, *, timeout: float = 10.0,
               headers: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The first ``count`` events the subscription delivers."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout), reader.open(headers) as messages:
        async for kind, body in messages:
            if kind == "event":
                got.append(body)
                if len(got) == count:
                    break
    return got


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_whole_log_then_live_events(cloud: StreamCloud, transport: str) -> None:
    head = await cloud.store.head()
    reader = StreamReader(cloud, transport, **{"from": 0})
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10), reader.open() as messages:
        async for kind, body in messages:
            if kind == "subscribed":
                assert body["position"] == 0
                continue
            assert kind == "event"
            got.append(body)
            if body["position"] == head:
                # caught up with the history: now a live event
                await cloud.gadgets(1, writer="live")
            if body["type"] == "GadgetMade":
                break
    assert [e["position"] for e in got] == list(range(1, head + 2))
    live = got[-1]
    assert live["stream"] == "gadget-live-0"
    assert live["category"] == "gadget"
    assert live["data"]["gadget_id"] == "live-0"
    assert live["metadata"] == {"request_id": "req-live-0", "user_id": "u", "project_id": "p-red"}
    assert live["project_ids"] == ["p-red"]
    assert live["version"] == 1
    assert live["recorded_at"].endswith("Z")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_by_default_only_what_comes_next(cloud: StreamCloud, transport: str) -> None:
    reader = StreamReader(cloud, transport, category="gadget")
    async with asyncio.timeout(10), reader.open() as messages:
        async for kind, body in messages:
            if kind == "subscribed":
                assert body["position"] == body["head"] == await cloud.store.head()
                await cloud.gadgets(2, writer="next")
            elif kind == "event":
                assert body["data"]["gadget_id"] == "next-0"
                break


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_filters_types_with_wildcards_categories_and_resources(
    cloud: StreamCloud, transport: str
) -> None:
    await cloud.gadgets(3, writer="f")
    head = await cloud.store.head()
    by_type = await take(StreamReader(cloud, transport, type="Gadget*,NoSuch", **{"from": 0}), 3)
    assert [e["stream"] for e in by_type] == ["gadget-f-0", "gadget-f-1", "gadget-f-2"]
    by_category = await take(StreamReader(cloud, transport, category="gadget", **{"from": 1}), 3)
    assert by_category == by_type
    by_resource = await take(StreamReader(cloud, transport, resource="f-1", **{"from": 0}), 1)
    assert by_resource == by_type[1:2]
    by_stream = await take(StreamReader(cloud, transport, resource="gadget-f-2", **{"from": 0}), 1)
    assert by_stream == by_type[2:]
    users = await take(StreamReader(cloud, transport, type="User*", **{"from": 0}), 1)
    assert users[0]["type"] == "UserCreated"
    assert users[0]["position"] < head


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_resume_from_last_event_id_and_from(cloud: StreamCloud, transport: str) -> None:
    positions = await cloud.gadgets(4, writer="r")
    reader = StreamReader(cloud, transport, category="gadget", **{"from": 0})
    got = await take(reader, 2, headers={"Last-Event-ID": str(positions[1])})
    assert [e["position"] for e in got] == positions[2:]
    got = await take(StreamReader(cloud, transport, category="gadget", **{"from": positions[0]}), 3)
    assert [e["position"] for e in got] == positions[1:]


async def test_several_writers_random_disconnects_every_event_exactly_once(
    cloud: StreamCloud,
) -> None:
    """Writers append concurrently while a subscriber drops its connection at
    random points and resumes from the last position it saw, alternating
    transports: it gets every event once, in log order."""
    rng = random.Random(7)
    writers, per_writer = 4, 60
    start = await cloud.store.head()
    # On PostgreSQL one writer is another process's store (its own connections):
    # the hub learns of its commits through the database's notifications.
    other = (
        await PostgresEventStore.open(cloud.store.dsn)
        if isinstance(cloud.store, PostgresEventStore)
        else cloud.store
    )

    async def write(name: str, store: EventStore) -> None:
        for i in range(per_writer):
            made = registry.new(GadgetMade(gadget_id=f"{name}x{i}"))
            await store.append(StreamWrite(f"gadget-{name}x{i}", [made]))
            if rng.random() < 0.3:
                await asyncio.sleep(0.002)

    appending = asyncio.gather(
        *(write(f"w{n}", other if n == 0 else cloud.store) for n in range(writers))
    )
    got: list[dict[str, Any]] = []
    last, rounds = start, 0
    async with asyncio.timeout(60):
        while len(got) < writers * per_writer:
            transport = TRANSPORTS[rounds % 2]
            rounds += 1
            cut_after = rng.randint(1, 40)
            reader = StreamReader(cloud, transport, type="GadgetMade", **{"from": last})
            async with reader.open() as messages:
                seen = 0
                async for kind, body in messages:
                    if kind != "event":
                        continue
                    got.append(body)
                    last = body["position"]
                    seen += 1
                    if seen >= cut_after or len(got) == writers * per_writer:
                        break
        await appending
    if other is not cloud.store:
        await other.close()
    assert rounds > 3
    positions = [e["position"] for e in got]
    assert positions == sorted(set(positions)), "an event came twice or out of order"
    stored = [e.position for e in await cloud.store.read_all(after=start, limit=10_000)
              if e.type == "GadgetMade"]  # fmt: skip
    assert positions == stored


@pytest.mark.parametrize(
    ("query", "status"),
    [({"from": "yesterday"}, 400), ({"project": "x" * 300}, 400), ({"type": "a" * 300}, 400),
     ({"from": "²"}, 400), ({"from": "999999999"}, 400)],
)  # fmt: skip
async def test_bad_queries_are_400(cloud: StreamCloud, query: dict[str, str], status: int) -> None:
    response = await cloud.client.get(
        "/events/v1/stream", params=query, headers={"X-Auth-Token": cloud.admin_token}
    )
    assert response.status == status
    assert "badRequest" in await response.json()


async def test_no_token_is_401_and_a_bad_one_too(cloud: StreamCloud) -> None:
    response = await cloud.client.get("/events/v1/stream")
    assert response.status == 401
    response = await cloud.client.get("/events/v1/stream", params={"auth_token": "nonsense"})
    assert response.status == 401


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_token_in_the_query_for_browsers(cloud: StreamCloud, transport: str) -> None:
    await cloud.gadgets(1, writer="q")
    reader = StreamReader(cloud, transport, auth_token=cloud.admin_token, category="gadget",
                          **{"from": 0})  # fmt: skip
    reader.token = ""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        headers = {"X-Auth-Token": ""}
        async with reader.open(headers) as messages:
            async for kind, body in messages:
                if kind == "event":
                    got.append(body)
                    break
    assert got[0]["data"]["gadget_id"] == "q-0"


async def test_head_answers_without_streaming(cloud: StreamCloud) -> None:
    response = await cloud.client.head(
        "/events/v1/stream", headers={"X-Auth-Token": cloud.admin_token}
    )
    assert response.status == 200
    assert response.content_type == "text/event-stream"
    # the connection is still good for another request
    response = await cloud.client.get("/events/v1/", headers={"X-Auth-Token": cloud.admin_token})
    assert response.status == 200


async def test_given_from_and_last_event_id_the_newer_wins(cloud: StreamCloud) -> None:
    first, second, third = await cloud.gadgets(3, writer="both")
    for query_from, header in ((first, second), (second, first)):
        reader = StreamReader(cloud, "sse", category="gadget", **{"from": query_from})
        got = await take(reader, 1, headers={"Last-Event-ID": str(header)})
        assert got[0]["position"] == third
    response = await cloud.client.get(
        "/events/v1/stream",
        headers={"X-Auth-Token": cloud.admin_token, "Last-Event-ID": str(third + 1000)},
    )
    assert response.status == 400
