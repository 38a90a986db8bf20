"""A whole identity service on aiohttp's test server, and helpers to call it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS
from cairn.api.identity import IDENTITY
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.config import Listen, Settings
from cairn.identity.service import Identity
from cairn.runtime import build_app

ADMIN_PASSWORD = "admin-s3cret"


@dataclass
class Cloud:
    client: TestClient[Any, Any]
    admin_token: str

    @property
    def identity(self) -> Identity:
        return self.client.app[IDENTITY]  # type: ignore[index]

    async def token(
        self, user: str, password: str, project: str | None = None, scope: Any = None
    ) -> str:
        body: dict[str, Any] = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": password}
                    },
                }
            }
        }
        if project is not None:
            body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        elif scope is not None:
            body["auth"]["scope"] = scope
        response = await self.client.post("/identity/v3/auth/tokens", json=body)
        assert response.status == 201, await response.text()
        return response.headers["X-Subject-Token"]

    async def call(
        self, method: str, path: str, token: str | None = None, json: Any = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = {"X-Auth-Token": token or self.admin_token}
        response = await self.client.request(
            method, "/identity/v3" + path, headers=headers, json=json, **kw
        )
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        listen=Listen("127.0.0.1", 0),
        admin_password=ADMIN_PASSWORD,
        bcrypt_cost=4,
        lockout_attempts=3,
        lockout_seconds=60.0,
    ).replace(**changes)


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    app = build_app(settings_for(tmp_path), services=[IDENTITY_SERVICE])
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    made = Cloud(client, "")
    made.admin_token = await made.token("admin", ADMIN_PASSWORD, "admin")
    yield made
    await client.close()
