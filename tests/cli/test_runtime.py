"""The composition root, in-process: start, serve, drain, and stop in order."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web

from cairn import runtime
from cairn.api import STORE, Service, post
from cairn.config import Listen, Settings
from cairn.events import NewEvent
from cairn.runtime import StartupError, Stopper, serve
from cairn.store import StreamWrite, open_store


def settings_for(tmp_path: Path, **changes: object) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", listen=Listen("127.0.0.1", 0))
    return settings.replace(network_agent="off").replace(**changes)


class Running:
    """``serve`` in a task, with its URL once it answers."""

    def __init__(self, settings: Settings, services: list[Service]) -> None:
        self.stopper = Stopper()
        self.ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(
            serve(settings, services=services, stopper=self.stopper, on_ready=self.ready.set_result)
        )

    async def url(self) -> str:
        async with asyncio.timeout(20):
            either: list[asyncio.Future[Any]] = [self.ready, self.task]
            done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            self.task.result()  # raises what serve raised
        return self.ready.result()

    async def stop(self) -> int:
        self.stopper.request("test")
        async with asyncio.timeout(20):
            return int(await self.task)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def slow_append_service(entered: asyncio.Event, release: asyncio.Event) -> Service:
    async def slow_append(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        store = request.config_dict[STORE]
        event = NewEvent(type="ThingHappened", data=b"{}")
        result = await store.append(StreamWrite("thing-1", [event]))
        structlog.get_logger("test").info("append done")
        return web.json_response({"position": result.position})

    return Service(name="test", prefix="/test", routes=[post("/append", slow_append)])


async def test_in_flight_requests_finish_before_the_store_closes(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    settings = settings_for(tmp_path)
    with structlog.testing.capture_logs() as logs:
        running = Running(settings, [slow_append_service(entered, release)])
        url = await running.url()
        request = asyncio.create_task(session.post(url + "/test/append"))
        await asyncio.wait_for(entered.wait(), 5)

        running.stopper.request("SIGTERM (simulated)")
        await asyncio.sleep(0.2)  # shutdown is under way, the request still runs
        assert not running.task.done()
        with pytest.raises(aiohttp.ClientConnectionError):  # no longer accepting
            await session.get(url + "/healthz")
        release.set()

        response = await asyncio.wait_for(request, 10)
        assert response.status == 200
        position = (await response.json())["position"]
        assert await asyncio.wait_for(running.task, 10) == 0

    events = [e["event"] for e in logs]
    order = [
        events.index(name)
        for name in (
            "append done",
            "outbox relay stopped",
            "bus closed",
            "event store closed",
            "Cairn stopped",
        )
    ]
    assert order == sorted(order), events
    # The append made during shutdown is in the log.
    store = await open_store(settings.store_url)
    try:
        [recorded] = await store.read_all()
        assert recorded.position == position
        assert recorded.type == "ThingHappened"
    finally:
        await store.close()


async def test_a_request_outliving_the_shutdown_timeout_is_cut_off(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    entered, never = asyncio.Event(), asyncio.Event()
    running = Running(
        settings_for(tmp_path, shutdown_timeout=0.3), [slow_append_service(entered, never)]
    )
    url = await running.url()
    request = asyncio.create_task(session.post(url + "/test/append"))
    await asyncio.wait_for(entered.wait(), 5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await running.stop() == 0
    assert loop.time() - started < 5
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(request, 5)


async def test_what_was_opened_is_closed_when_startup_fails(tmp_path: Path) -> None:
    # Nothing listens on port 1: the bus cannot connect after the store opened.
    settings = settings_for(tmp_path, bus="amqp://guest:s3cret@127.0.0.1:1/")
    with structlog.testing.capture_logs() as logs:
        running = Running(settings, [])
        with pytest.raises(
            StartupError, match=r"cannot connect to the bus at amqp://guest:\*\*\*@"
        ) as info:
            await running.url()
    assert "s3cret" not in str(info.value)
    events = [e["event"] for e in logs]
    assert "event store open" in events
    assert "event store closed" in events


async def test_a_port_in_use_is_a_startup_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        running = Running(settings_for(tmp_path, listen=Listen("127.0.0.1", port)), [])
        with pytest.raises(StartupError, match=f"cannot listen on 127.0.0.1:{port}: "):
            await running.url()


async def test_an_unusable_store_is_a_startup_error(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, store="postgresql://cairn:s3cret@127.0.0.1:1/cairn")
    running = Running(settings, [])
    with pytest.raises(StartupError, match=r"event store at postgresql://cairn:\*\*\*@") as info:
        await running.url()
    assert "s3cret" not in str(info.value)


async def test_a_failing_relay_stops_the_process_with_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BrokenRelay:
        def __init__(self, store: object, bus: object) -> None:
            self.release = asyncio.Event()

        async def run(self) -> None:
            await asyncio.sleep(0.2)
            raise RuntimeError("relay bug")

        async def stop(self) -> None:
            pass

    monkeypatch.setattr(runtime, "OutboxRelay", BrokenRelay)
    with structlog.testing.capture_logs() as logs:
        running = Running(settings_for(tmp_path), [])
        await running.url()
        async with asyncio.timeout(10):
            assert await running.task == 1
    assert running.stopper.reason == "the outbox relay failed"
    assert any(e["event"] == "outbox relay failed" for e in logs)
    assert [e["event"] for e in logs][-1] == "Cairn stopped"
