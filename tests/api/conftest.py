"""Fixtures for the HTTP edge: an aiohttp test server around any application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS

MakeClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """Serve an application on a free port, as the runtime does (same runner options)."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def make(app: web.Application) -> TestClient[web.Request, web.Application]:
        server = TestServer(app)
        await server.start_server(**RUNNER_OPTIONS)  # (TestServer() would drop them)
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def eventually(probe: Callable[[], Any], timeout: float = 2.0) -> Any:
    """Poll ``probe`` until it returns something truthy (bounded)."""
    async with asyncio.timeout(timeout):
        while not (result := probe()):  # noqa: ASYNC110 - polling what we cannot await
            await asyncio.sleep(0.01)
    return result
