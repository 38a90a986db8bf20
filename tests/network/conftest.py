"""Identity and networking on aiohttp's test server, with callers of several projects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS, STORE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.api.network import NETWORKING
from cairn.api.network import SERVICE as NETWORK_SERVICE
from cairn.config import Listen, Settings
from cairn.network.service import Networking
from cairn.runtime import build_app
from cairn.store.port import EventStore
from tests.cloud_api import Caller, IdentityCalls

ADMIN_PASSWORD = "admin-s3cret"


@dataclass
class NetworkCloud(IdentityCalls):
    client: TestClient[Any, Any]
    admin: Caller = field(init=False)

    @property
    def networking(self) -> Networking:
        return self.client.app[NETWORKING]  # type: ignore[index]

    @property
    def store(self) -> EventStore:
        return self.client.app[STORE]  # type: ignore[index]

    async def call(
        self,
        method: str,
        path: str,
        who: Caller | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = {"X-Auth-Token": (who or self.admin).token, **(headers or {})}
        response = await self.client.request(
            method, "/networking/v2.0" + path, json=json, headers=sent
        )
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body

    async def ok(self, method: str, path: str, who: Caller | None = None, json: Any = None) -> Any:
        status, body = await self.call(method, path, who, json)
        assert status < 300, (status, body)
        return body

    async def network(self, who: Caller | None = None, **attrs: Any) -> dict[str, Any]:
        body = await self.ok("POST", "/networks", who, {"network": {"name": "net", **attrs}})
        return body["network"]  # type: ignore[no-any-return]

    async def subnet(
        self,
        network_id: str,
        cidr: str | None = "10.0.0.0/24",
        who: Caller | None = None,
        **attrs: Any,
    ) -> dict[str, Any]:
        wanted = {"network_id": network_id, "ip_version": 4, **attrs}
        if cidr is not None:
            wanted["cidr"] = cidr
        body = await self.ok("POST", "/subnets", who, {"subnet": wanted})
        return body["subnet"]  # type: ignore[no-any-return]

    async def port(
        self, network_id: str, who: Caller | None = None, **attrs: Any
    ) -> dict[str, Any]:
        body = await self.ok("POST", "/ports", who, {"port": {"network_id": network_id, **attrs}})
        return body["port"]  # type: ignore[no-any-return]


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        listen=Listen("127.0.0.1", 0),
        admin_password=ADMIN_PASSWORD,
        bcrypt_cost=4,
        compute_hosts=0,
        network_agent="off",  # the API's tests leave the machine's datapath alone
    ).replace(**changes)


async def start_cloud(settings: Settings) -> NetworkCloud:
    app = build_app(settings, services=[IDENTITY_SERVICE, NETWORK_SERVICE])
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    cloud = NetworkCloud(client)
    token = await cloud.token("admin", ADMIN_PASSWORD, "admin")
    response = await client.get(
        "/identity/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    body = await response.json()
    cloud.admin = Caller(token, body["token"]["project"]["id"], body["token"]["user"]["id"])
    return cloud


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[NetworkCloud]:
    made = await start_cloud(settings_for(tmp_path))
    try:
        yield made
    finally:
        await made.client.close()
