"""Nova's image proxy (before 2.36) and image metadata (before 2.39) on the real
image service of the same process, reached over HTTP as in production."""

from __future__ import annotations

import socket
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
    app = build_app(settings, services=[IDENTITY_SERVICE, IMAGE_SERVICE, COMPUTE_SERVICE])
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


async def _image(cloud: ComputeCloud, who: Caller, **fields: Any) -> str:
    body = {"name": "img", "disk_format": "raw", "container_format": "bare", **fields}
    response = await cloud.client.post(
        "/image/v2/images", json=body, headers={"X-Auth-Token": who.token}
    )
    assert response.status == 201, await response.text()
    image_id: str = (await response.json())["id"]
    return image_id


async def _upload(cloud: ComputeCloud, who: Caller, image_id: str) -> None:
    response = await cloud.client.put(
        f"/image/v2/images/{image_id}/file",
        data=b"*" * 1024,
        headers={"X-Auth-Token": who.token, "Content-Type": "application/octet-stream"},
    )
    assert response.status == 204, await response.text()


async def test_images_list_show_filter_and_delete(cloud: ComputeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    ready = await _image(cloud, alice, name="ready", min_ram=64, image_type="snapshot")
    await _upload(cloud, alice, ready)
    waiting = await _image(cloud, alice, name="waiting")
    status, body = await cloud.call("GET", "/images", alice)
    assert status == 200, body
    assert {i["id"] for i in body["images"]} >= {ready, waiting}
    status, body = await cloud.call("GET", f"/images/{ready}", alice)
    image = body["image"]
    assert (image["status"], image["progress"], image["minRam"]) == ("ACTIVE", 100, 64)
    assert image["metadata"] == {"image_type": "snapshot"}
    assert image["OS-EXT-IMG-SIZE:size"] == 1024
    assert [link["rel"] for link in image["links"]] == ["self", "bookmark", "alternate"]
    status, body = await cloud.call("GET", f"/images/{waiting}", alice)
    assert (body["image"]["status"], body["image"]["progress"]) == ("SAVING", 25)
    for query, wanted in (
        ("?status=ACTIVE&name=ready", {ready}),
        ("?name=waiting", {waiting}),
        ("?minRam=65", set()),
        ("?type=snapshot", {ready}),
    ):
        status, body = await cloud.call("GET", f"/images/detail{query}", alice)
        assert {i["id"] for i in body["images"]} & {ready, waiting} == wanted, query
    status, body = await cloud.call("GET", "/images?limit=1", alice)
    assert len(body["images"]) == 1
    assert "images_links" in body
    # Glance's visibility: bob sees neither private image.
    status, body = await cloud.call("GET", "/images", bob)
    assert not {i["id"] for i in body["images"]} & {ready, waiting}
    status, body = await cloud.call("GET", f"/images/{ready}", bob)
    assert status == 404
    assert body["itemNotFound"]["message"] == "Image not found."
    status, _ = await cloud.call("DELETE", f"/images/{ready}", bob)
    assert status == 404
    for bad in ("?minRam=lots", "?changes-since=yesterday"):
        status, _ = await cloud.call("GET", f"/images{bad}", alice)
        assert status == 400, bad
    status, _ = await cloud.call("GET", "/images", alice, version="2.36")
    assert status == 404
    status, _ = await cloud.call("DELETE", f"/images/{waiting}", alice)
    assert status == 204
    status, _ = await cloud.call("GET", f"/images/{waiting}", alice)
    assert status == 404


async def test_image_metadata(cloud: ComputeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    image_id = await _image(cloud, alice)
    base = f"/images/{image_id}/metadata"
    status, body = await cloud.call("POST", base, alice, {"metadata": {"os_distro": "debian"}})
    assert (status, body) == (200, {"metadata": {"os_distro": "debian"}})
    status, body = await cloud.call(
        "PUT", f"{base}/os_version", alice, {"meta": {"os_version": "12"}}
    )
    assert body == {"meta": {"os_version": "12"}}
    status, body = await cloud.call("GET", f"{base}/os_version", alice)
    assert body == {"meta": {"os_version": "12"}}
    status, body = await cloud.call("PUT", base, alice, {"metadata": {"arch": "x86_64"}})
    assert body == {"metadata": {"arch": "x86_64"}}
    status, body = await cloud.call("GET", base, alice)
    assert body == {"metadata": {"arch": "x86_64"}}
    status, _ = await cloud.call("DELETE", f"{base}/arch", alice)
    assert status == 204
    status, _ = await cloud.call("DELETE", f"{base}/arch", alice)
    assert status == 404
    status, _ = await cloud.call("PUT", f"{base}/a", alice, {"meta": {"b": "x"}})
    assert status == 400
    status, _ = await cloud.call("POST", base, alice, {"metadata": {"k": 5}})
    assert status == 400
    await cloud.call(
        "PUT", "/os-quota-sets/" + alice.project_id, json={"quota_set": {"metadata_items": 1}}
    )
    status, body = await cloud.call("POST", base, alice, {"metadata": {"a": "1", "b": "2"}})
    assert status == 403
    assert "metadata_items" in body["forbidden"]["message"]
    status, _ = await cloud.call("POST", base, bob, {"metadata": {"x": "y"}})
    assert status == 404
    status, _ = await cloud.call("GET", base, alice, version="2.39")
    assert status == 404
    status, body = await cloud.call("GET", base, alice, version="2.38")
    assert body == {"metadata": {}}
