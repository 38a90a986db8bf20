"""Identity, image and block storage on aiohttp's test server, with callers of
several projects, and the volume agent on a real file pool (qemu-img).

The server listens on the port the settings name (a free one, found first), so
the catalog, ``clouds.yaml`` and the volume agent's image client all reach it
as they reach ``cairn up``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.agents.volume.agent import VolumeAgent
from cairn.agents.volume.runtime import VOLUME_AGENT, pool_dir
from cairn.api import RUNNER_OPTIONS, STORE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.api.image import SERVICE as IMAGE_SERVICE
from cairn.api.volume import SERVICE as VOLUME_SERVICE
from cairn.api.volume import VOLUMES
from cairn.config import Listen, Settings
from cairn.runtime import build_app
from cairn.store.port import EventStore
from cairn.volume.service import Volumes
from tests.cloud_api import Caller, IdentityCalls

ADMIN_PASSWORD = "admin-s3cret"
MV = {"OpenStack-API-Version": "volume 3.71"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class VolumeCloud(IdentityCalls):
    client: TestClient[Any, Any]
    data_dir: Path
    admin: Caller = field(init=False)

    @property
    def volumes(self) -> Volumes:
        return self.client.app[VOLUMES]  # type: ignore[index]

    @property
    def agent(self) -> VolumeAgent:
        return self.client.app[VOLUME_AGENT]  # type: ignore[index]

    @property
    def store(self) -> EventStore:
        return self.client.app[STORE]  # type: ignore[index]

    @property
    def pool(self) -> Path:
        return pool_dir(self.data_dir)

    async def call(
        self,
        method: str,
        path: str,
        who: Caller | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        *,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        sent = {"X-Auth-Token": (who or self.admin).token, **(headers or {})}
        response = await self.client.request(
            method, "/volume/v3" + path, json=json, data=raw, headers=sent
        )
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body

    async def ok(
        self, method: str, path: str, who: Caller | None = None, json: Any = None, **kw: Any
    ) -> Any:
        status, body = await self.call(method, path, who, json, **kw)
        assert status < 300, (status, body)
        return body

    async def volume(self, who: Caller | None = None, size: int = 1, **attrs: Any) -> Any:
        body = await self.ok("POST", "/volumes", who, {"volume": {"size": size, **attrs}})
        return body["volume"]

    async def wait(
        self, path: str, who: Caller | None = None, status: str = "available", timeout: float = 30
    ) -> Any:
        """The resource at ``path`` once it has ``status`` (``deleted``: a 404)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            code, body = await self.call("GET", path, who, headers=MV)
            if status == "deleted" and code == 404:
                return None
            if code == 200:
                found = next(iter(body.values()))
                if found["status"] == status:
                    return found
                assert not found["status"].startswith("error"), found
            assert asyncio.get_running_loop().time() < deadline, (path, code, body)
            await asyncio.sleep(0.05)


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        listen=Listen("127.0.0.1", free_port()),
        admin_password=ADMIN_PASSWORD,
        bcrypt_cost=4,
        compute_hosts=0,
        network_agent="off",
        guest_dir="none",
    ).replace(**changes)


async def start_cloud(settings: Settings) -> VolumeCloud:
    app = build_app(settings, services=[IDENTITY_SERVICE, IMAGE_SERVICE, VOLUME_SERVICE])
    server = TestServer(app, host=settings.listen.host, port=settings.listen.port)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    cloud = VolumeCloud(client, settings.data_dir)
    token = await cloud.token("admin", ADMIN_PASSWORD, "admin")
    response = await client.get(
        "/identity/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    body = await response.json()
    cloud.admin = Caller(token, body["token"]["project"]["id"], body["token"]["user"]["id"])
    return cloud


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[VolumeCloud]:
    made = await start_cloud(settings_for(tmp_path))
    try:
        yield made
    finally:
        await made.client.close()
