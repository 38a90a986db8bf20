"""Identity on PostgreSQL, with two API processes' worth of applications sharing
one log: a write in one is read in the other, and a revocation in one ends the
token in the other as soon as it has followed the log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.runtime import build_app
from tests.identity.conftest import ADMIN_PASSWORD, Cloud, settings_for

pytestmark = pytest.mark.postgres


@asynccontextmanager
async def cloud_on(data: Path, store: str) -> AsyncIterator[Cloud]:
    app = build_app(settings_for(data, store=store), services=[IDENTITY_SERVICE])
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        made = Cloud(client, "")
        made.admin_token = await made.token("admin", ADMIN_PASSWORD, "admin")
        yield made
    finally:
        await client.close()


async def eventually(probe: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not await probe():  # noqa: ASYNC110 - polling another process's answer
            await asyncio.sleep(0.01)


async def test_two_processes_share_writes_and_revocations(tmp_path: Path, pg_database: str) -> None:
    # One data directory: both share the token keys, as processes on one host do.
    async with cloud_on(tmp_path, pg_database) as one, cloud_on(tmp_path, pg_database) as two:
        status, body = await one.call("POST", "/projects", json={"project": {"name": "shared"}})
        assert status == 201
        project_id = body["project"]["id"]

        async def seen_in_two() -> bool:
            return (await two.call("GET", f"/projects/{project_id}"))[0] == 200

        await eventually(seen_in_two)
        # Names are unique across processes: the second create conflicts.
        status, _ = await two.call("POST", "/projects", json={"project": {"name": "shared"}})
        assert status == 409

        token = await one.token("admin", ADMIN_PASSWORD, "admin")
        assert (await two.call("GET", "/auth/projects", token=token))[0] == 200
        headers = {"X-Auth-Token": one.admin_token, "X-Subject-Token": token}
        response = await one.client.delete("/identity/v3/auth/tokens", headers=headers)
        assert response.status == 204
        assert (await one.call("GET", "/auth/projects", token=token))[0] == 401

        async def refused_in_two() -> bool:
            return (await two.call("GET", "/auth/projects", token=token))[0] == 401

        await eventually(refused_in_two, timeout=2.0)
