"""The identity and image services on aiohttp's test server, and helpers to call them.

``cloud`` runs on SQLite; ``any_cloud`` on SQLite and on a fresh PostgreSQL database. Both
have the bootstrap's admin project and two more, ``alpha`` and ``beta``, each
with a member user of the same name, for tenant isolation and sharing.
"""

from __future__ import annotations

import contextlib
import io
import json as jsonlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.api.image import IMAGES
from cairn.api.image import SERVICE as IMAGE_SERVICE
from cairn.config import Listen, Settings
from cairn.image.service import Images
from cairn.runtime import build_app
from tests.conftest import fresh_pg_database

ADMIN_PASSWORD = "admin-s3cret"
USER_PASSWORD = "user-s3cret-1"


@dataclass
class Cloud:
    client: TestClient[Any, Any]
    tokens: dict[str, str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)

    @property
    def images(self) -> Images:
        return self.client.app[IMAGES]  # type: ignore[index]

    async def token(self, user: str, password: str, project: str) -> str:
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {
                "user": {"name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }}  # fmt: skip
        response = await self.client.post("/identity/v3/auth/tokens", json=body)
        assert response.status == 201, await response.text()
        self.projects[project] = (await response.json())["token"]["project"]["id"]
        return response.headers["X-Subject-Token"]

    async def identity(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.client.request(
            method, "/identity/v3" + path, headers={"X-Auth-Token": self.tokens["admin"]}, json=json
        )
        assert response.status < 300, await response.text()
        return await response.json() if response.content_type == "application/json" else None

    async def add_project_user(self, name: str, role: str = "member") -> None:
        """A project ``name`` with a user ``name`` holding ``role`` in it; its token."""
        project = (await self.identity("POST", "/projects", {"project": {"name": name}}))["project"]
        body = {"user": {"name": name, "password": USER_PASSWORD}}
        user = (await self.identity("POST", "/users", body))["user"]
        role_id = (await self.identity("GET", f"/roles?name={role}"))["roles"][0]["id"]
        await self.identity("PUT", f"/projects/{project['id']}/users/{user['id']}/roles/{role_id}")
        self.tokens[name] = await self.token(name, USER_PASSWORD, name)

    async def call(
        self, method: str, path: str, *, as_: str = "admin", json: Any = None,
        data: Any = None, headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        sent = {"X-Auth-Token": self.tokens[as_], **(headers or {})}
        if isinstance(data, bytes) and len(data) > 64 * 1024:
            data = io.BytesIO(data)  # aiohttp warns about large raw bodies
        response = await self.client.request(
            method, "/image" + path, headers=sent, json=json, data=data
        )
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.read()

    async def create(self, as_: str = "admin", **fields: Any) -> dict[str, Any]:
        body = {"disk_format": "raw", "container_format": "bare", **fields}
        status, made = await self.call("POST", "/v2/images", as_=as_, json=body)
        assert status == 201, made
        return made  # type: ignore[no-any-return]

    async def upload(self, image_id: str, data: bytes | Iterable[bytes], as_: str = "admin") -> int:
        status, body = await self.call(
            "PUT", f"/v2/images/{image_id}/file", as_=as_, data=data,
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        assert status in (204, 400, 409, 413), body
        return status

    async def patch(self, image_id: str, ops: Any, as_: str = "admin") -> tuple[int, Any]:
        return await self.call(
            "PATCH", f"/v2/images/{image_id}", as_=as_, data=jsonlib.dumps(ops),
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
        )  # fmt: skip


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", listen=Listen("127.0.0.1", 0), admin_password=ADMIN_PASSWORD,
        bcrypt_cost=4, guest_dir="none",
    ).replace(**changes)  # fmt: skip


@contextlib.asynccontextmanager
async def running_cloud(settings: Settings, *, restart: bool = False) -> AsyncIterator[Cloud]:
    """The cloud on ``settings``; ``restart``: its projects and users exist already."""
    app = build_app(settings, services=[IDENTITY_SERVICE, IMAGE_SERVICE])
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        made = Cloud(client)
        made.tokens["admin"] = await made.token("admin", ADMIN_PASSWORD, "admin")
        for name in ("alpha", "beta"):
            if restart:
                made.tokens[name] = await made.token(name, USER_PASSWORD, name)
            else:
                await made.add_project_user(name)
        yield made
    finally:
        await client.close()


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async with running_cloud(settings_for(tmp_path)) as made:
        yield made


@contextlib.asynccontextmanager
async def cloud_on(store: str, tmp_path: Path, **changes: Any) -> AsyncIterator[Cloud]:
    """A cloud on ``store`` (``sqlite`` or ``postgresql``, a fresh database)."""
    async with contextlib.AsyncExitStack() as stack:
        if store == "postgresql":
            changes["store"] = await stack.enter_async_context(fresh_pg_database())
        yield await stack.enter_async_context(running_cloud(settings_for(tmp_path, **changes)))


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cloud]:
    async with cloud_on(request.param, tmp_path) as made:
        yield made
