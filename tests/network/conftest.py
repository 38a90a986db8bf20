"""Identity and networking on aiohttp's test server, with callers of several projects."""

from __future__ import annotations

import uuid
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

ADMIN_PASSWORD = "admin-s3cret"


@dataclass
class Caller:
    token: str
    project_id: str
    user_id: str


@dataclass
class NetworkCloud:
    client: TestClient[Any, Any]
    admin: Caller = field(init=False)

    @property
    def networking(self) -> Networking:
        return self.client.app[NETWORKING]  # type: ignore[index]

    @property
    def store(self) -> EventStore:
        return self.client.app[STORE]  # type: ignore[index]

    async def token(self, user: str, password: str, project: str) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }
        }
        response = await self.client.post("/identity/v3/auth/tokens", json=body)
        assert response.status == 201, await response.text()
        return response.headers["X-Subject-Token"]

    async def identity(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.client.request(
            method, "/identity/v3" + path, json=json, headers={"X-Auth-Token": self.admin.token}
        )
        assert response.status < 300, await response.text()
        return await response.json() if response.status != 204 else None

    async def member(self, project: str | None = None, role: str = "member") -> Caller:
        """A new user with ``role`` on a new project (or on ``project``)."""
        suffix = uuid.uuid4().hex[:8]
        if project is None:
            made = await self.identity("POST", "/projects", {"project": {"name": f"p-{suffix}"}})
            project_id, project_name = made["project"]["id"], made["project"]["name"]
        else:
            found = await self.identity("GET", f"/projects/{project}")
            project_id, project_name = project, found["project"]["name"]
        user = await self.identity(
            "POST", "/users", {"user": {"name": f"u-{suffix}", "password": "pw-" + suffix}}
        )
        user_id = user["user"]["id"]
        roles = await self.identity("GET", f"/roles?name={role}")
        await self.identity(
            "PUT", f"/projects/{project_id}/users/{user_id}/roles/{roles['roles'][0]['id']}"
        )
        token = await self.token(f"u-{suffix}", "pw-" + suffix, project_name)
        return Caller(token, project_id, user_id)

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
