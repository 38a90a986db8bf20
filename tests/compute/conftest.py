"""A whole cloud (identity + compute) on aiohttp's test server, and helpers.

Hosts are registered by appending the agent's own events (what an agent does
when it starts), so the API, quota and scheduler are tested without libvirt;
``tests/compute/test_end_to_end.py`` runs real agents on libvirt's test driver.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS, STORE
from cairn.api.compute import COMPUTE, IMAGE_PORT
from cairn.api.compute import SERVICE as COMPUTE_SERVICE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.compute.images import MemoryImages
from cairn.compute.service import Compute
from cairn.config import Listen, Settings
from cairn.events import ANY_VERSION, Metadata, registry
from cairn.events import compute as ev
from cairn.runtime import build_app
from cairn.store.port import EventStore, StreamWrite

ADMIN_PASSWORD = "admin-s3cret"
IMAGE_ID = "2f1c7e0a-5b7d-4a7e-9d1e-000000000001"
PRIVATE_IMAGE_ID = "2f1c7e0a-5b7d-4a7e-9d1e-000000000002"
IMAGE = ev.ImageSnapshot(
    image_id=IMAGE_ID, name="cirros", disk_format="qcow2",
    properties={"architecture": "x86_64", "kernel_id": "k-1"},
)  # fmt: skip


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        listen=Listen("127.0.0.1", 0),
        admin_password=ADMIN_PASSWORD,
        bcrypt_cost=4,
        compute_hosts=0,
    ).replace(**changes)


@dataclass
class Caller:
    token: str
    project_id: str
    user_id: str


@dataclass
class ComputeCloud:
    client: TestClient[Any, Any]
    images: MemoryImages
    admin: Caller = field(init=False)

    @property
    def compute(self) -> Compute:
        return self.client.app[COMPUTE]  # type: ignore[index]

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
        role_id = roles["roles"][0]["id"]
        await self.identity("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")
        token = await self.token(f"u-{suffix}", "pw-" + suffix, project_name)
        return Caller(token, project_id, user_id)

    async def call(
        self,
        method: str,
        path: str,
        who: Caller | None = None,
        json: Any = None,
        version: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = {"X-Auth-Token": (who or self.admin).token, **(headers or {})}
        if version is not None:
            sent["OpenStack-API-Version"] = f"compute {version}"
        response = await self.client.request(
            method, "/compute/v2.1" + path, json=json, headers=sent
        )
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body

    async def register_host(
        self,
        host: str,
        *,
        vcpus: int = 8,
        memory_mb: int = 8192,
        disk_gb: int = 100,
        zone: str = "nova",
        cpu_ratio: float = 1.0,
        architecture: str = "x86_64",
        hypervisor_type: str = "QEMU",
    ) -> None:
        """What an agent appends when it starts on ``host``."""
        event = ev.ComputeHostRegistered(
            host=host, hypervisor_type=hypervisor_type, hypervisor_version=7002000,
            hypervisor_uri="test:///default", availability_zone=zone,
            capacity=ev.ResourceAmounts(vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb),
            cpu_allocation_ratio=cpu_ratio, architecture=architecture,
        )  # fmt: skip
        await self.append(f"computehost-{host}", event)

    async def append(self, stream: str, *events: ev.DomainEvent) -> None:
        meta = Metadata(user_id="test-agent")
        result = await self.store.append(
            StreamWrite(stream, [registry.new(e, meta) for e in events], ANY_VERSION)
        )
        await self.compute.runner.wait_for(result.position)

    async def boot(self, who: Caller | None = None, **server: Any) -> tuple[int, Any]:
        body = {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none", **server}
        return await self.call("POST", "/servers", who, {"server": body}, version="2.100")

    async def wait_for(
        self, check: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            outcome = check()
            if not isinstance(outcome, bool):
                outcome = await outcome
            if outcome:
                return
            assert time.monotonic() < deadline, "condition not reached in time"
            await asyncio.sleep(0.02)

    async def server_status(self, server_id: str, who: Caller | None = None) -> str:
        status, body = await self.call("GET", f"/servers/{server_id}", who)
        assert status == 200, body
        return str(body["server"]["status"])


async def start_cloud(settings: Settings, images: MemoryImages) -> ComputeCloud:
    app = build_app(settings, services=[IDENTITY_SERVICE, COMPUTE_SERVICE])
    app[IMAGE_PORT] = images
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    cloud = ComputeCloud(client, images)
    token = await cloud.token("admin", ADMIN_PASSWORD, "admin")
    who = await _whoami(cloud, token)
    cloud.admin = Caller(token, who[0], who[1])
    return cloud


async def _whoami(cloud: ComputeCloud, token: str) -> tuple[str, str]:
    response = await cloud.client.get(
        "/identity/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    body = await response.json()
    return body["token"]["project"]["id"], body["token"]["user"]["id"]


def default_images() -> MemoryImages:
    return MemoryImages([IMAGE])


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[ComputeCloud]:
    made = await start_cloud(settings_for(tmp_path), default_images())
    try:
        yield made
    finally:
        await made.client.close()
