"""Nova's volume proxy (before 2.36) on the block storage service of the same
process, reached over HTTP as in production."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.cloud_api import Caller
from tests.compute.conftest import ADMIN_PASSWORD, ComputeCloud

from cairn.api import RUNNER_OPTIONS
from cairn.api.compute import SERVICE as COMPUTE_SERVICE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.api.image import SERVICE as IMAGE_SERVICE
from cairn.api.volume import SERVICE as VOLUME_SERVICE
from cairn.compute.images import MemoryImages
from cairn.config import Listen, Settings
from cairn.runtime import build_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[ComputeCloud]:
    port = _free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        listen=Listen("127.0.0.1", port),
        admin_password=ADMIN_PASSWORD,
        bcrypt_cost=4,
        compute_hosts=0,
        guest_dir="none",
    )
    services = [IDENTITY_SERVICE, IMAGE_SERVICE, VOLUME_SERVICE, COMPUTE_SERVICE]
    app = build_app(settings, services=services)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    made = ComputeCloud(client, MemoryImages())
    token = await made.token("admin", ADMIN_PASSWORD, "admin")
    made.admin = Caller(token, "", "")
    try:
        yield made
    finally:
        await client.close()


async def _status(cloud: ComputeCloud, who: Caller, path: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        status, body = await cloud.call("GET", path, who)
        assert status == 200, body
        found: dict[str, Any] = next(iter(body.values()))
        if found["status"] == wanted:
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)


async def test_volumes_and_snapshots_through_nova(cloud: ComputeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    body = {"volume": {"size": 1, "display_name": "data", "metadata": {"tier": "gold"}}}
    status, answer = await cloud.call("POST", "/os-volumes", alice, body)
    assert status == 200, answer
    volume = answer["volume"]
    assert (volume["displayName"], volume["size"], volume["metadata"]) == (
        "data",
        1,
        {"tier": "gold"},
    )
    assert volume["attachments"] == [{}]
    shown = await _status(cloud, alice, f"/os-volumes/{volume['id']}", "available")
    assert shown["availabilityZone"]
    status, answer = await cloud.call("GET", "/os-volumes/detail", alice)
    assert [v["id"] for v in answer["volumes"]] == [volume["id"]]
    status, second = await cloud.call("POST", "/os-volumes", alice, {"volume": {"size": 1}})
    status, answer = await cloud.call("GET", "/os-volumes?limit=1", alice)
    assert len(answer["volumes"]) == 1
    status, answer = await cloud.call("GET", "/os-volumes/detail?offset=1&limit=5", alice)
    assert len(answer["volumes"]) == 1
    for bad in ("limit=x", "offset=-1"):
        status, _ = await cloud.call("GET", f"/os-volumes?{bad}", alice)
        assert status == 400, bad
    await _status(cloud, alice, f"/os-volumes/{second['volume']['id']}", "available")
    status, _ = await cloud.call("DELETE", f"/os-volumes/{second['volume']['id']}", alice)
    assert status == 202
    status, answer = await cloud.call("GET", "/os-volumes", bob)
    assert answer["volumes"] == []
    status, answer = await cloud.call("GET", f"/os-volumes/{volume['id']}", bob)
    assert status == 404
    assert answer["itemNotFound"]["code"] == 404

    body = {"snapshot": {"volume_id": volume["id"], "display_name": "snap", "force": False}}
    status, answer = await cloud.call("POST", "/os-snapshots", alice, body)
    assert status == 200, answer
    snapshot = answer["snapshot"]
    assert (snapshot["volumeId"], snapshot["displayName"]) == (volume["id"], "snap")
    await _status(cloud, alice, f"/os-snapshots/{snapshot['id']}", "available")
    status, answer = await cloud.call("GET", "/os-snapshots/detail", alice)
    assert [s["id"] for s in answer["snapshots"]] == [snapshot["id"]]
    status, _ = await cloud.call("DELETE", f"/os-snapshots/{snapshot['id']}", alice)
    assert status == 202
    deadline = time.monotonic() + 20
    while (await cloud.call("GET", f"/os-snapshots/{snapshot['id']}", alice))[0] != 404:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    status, _ = await cloud.call("DELETE", f"/os-volumes/{volume['id']}", bob)
    assert status == 404
    status, _ = await cloud.call("DELETE", f"/os-volumes/{volume['id']}", alice)
    assert status == 202


async def test_volume_refusals(cloud: ComputeCloud) -> None:
    alice = await cloud.member()
    bad: list[dict[str, Any]] = [
        {"size": "lots"},
        {"size": 0},
        {"display_name": "no size"},
        {"size": 1, "colour": "red"},
        {"size": 1, "display_name": 5},
    ]
    for volume in bad:
        status, answer = await cloud.call("POST", "/os-volumes", alice, {"volume": volume})
        assert status == 400, volume
        assert answer["badRequest"]["code"] == 400
    status, answer = await cloud.call(
        "POST", "/os-snapshots", alice, {"snapshot": {"volume_id": "nope"}}
    )
    assert status == 404
    status, _ = await cloud.call("GET", "/os-volumes", alice, version="2.36")
    assert status == 404
    status, answer = await cloud.call("GET", "/os-volumes", alice)
    assert answer == {"volumes": []}
