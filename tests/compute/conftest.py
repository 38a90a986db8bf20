"""A whole cloud (identity + compute) on aiohttp's test server, and helpers.

Hosts are registered by appending the agent's own events (what an agent does
when it starts), so the API, quota and scheduler are tested without libvirt;
``tests/compute/test_end_to_end.py`` runs real agents on libvirt's test driver.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.cloud_api import Caller, IdentityCalls

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
class ComputeCloud(IdentityCalls):
    client: TestClient[Any, Any]
    images: MemoryImages
    admin: Caller = field(init=False)

    @property
    def compute(self) -> Compute:
        return self.client.app[COMPUTE]  # type: ignore[index]

    @property
    def store(self) -> EventStore:
        return self.client.app[STORE]  # type: ignore[index]

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
