"""The image port's HTTP adapter against a server that answers as Glance v2 does
(the image service itself lives on another branch; the coordinator runs the
adapter against it after the merge)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cairn.compute.errors import ImageUnavailable, NotFound
from cairn.compute.images import GlanceImages, MemoryImages, snapshot_of
from cairn.events.compute import ImageSnapshot

IMAGE = {
    "id": "7b4a0e3c-7d1e-4f39-9d52-6c7e0f1b2a33", "name": "cirros", "status": "active",
    "visibility": "public", "disk_format": "qcow2", "container_format": "bare",
    "min_ram": 64, "min_disk": 1, "size": 12345, "tags": [], "owner": "p",
    "kernel_id": "k-1", "ramdisk_id": "r-1", "os_command_line": "console=ttyS0",
    "hw_architecture": "x86_64", "protected": False, "os_hidden": False,
}  # fmt: skip


@pytest.fixture
async def glance() -> AsyncIterator[tuple[str, list[str]]]:
    tokens: list[str] = []

    async def show(request: web.Request) -> web.Response:
        tokens.append(request.headers.get("X-Auth-Token", ""))
        image_id = request.match_info["image_id"]
        if image_id == IMAGE["id"]:
            return web.json_response(IMAGE)
        if image_id == "queued":
            return web.json_response({**IMAGE, "id": "queued", "status": "queued"})
        if image_id == "broken":
            return web.json_response({"message": "boom"}, status=500)
        return web.json_response({"message": "not found"}, status=404)

    app = web.Application()
    app.router.add_get("/image/v2/images/{image_id}", show)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), tokens
    finally:
        await server.close()


async def test_glance_adapter(glance: tuple[str, list[str]]) -> None:
    base, tokens = glance
    port = GlanceImages(base)
    try:
        image = await port.get(str(IMAGE["id"]), "tok-1")
        assert image == ImageSnapshot(
            image_id=str(IMAGE["id"]), name="cirros", disk_format="qcow2", min_disk_gb=1,
            min_ram_mb=64,
            properties={"kernel_id": "k-1", "ramdisk_id": "r-1",
                        "os_command_line": "console=ttyS0", "hw_architecture": "x86_64"},
        )  # fmt: skip
        assert tokens == ["tok-1"]  # the caller's token: Glance's visibility rules apply
        with pytest.raises(NotFound):
            await port.get("missing", "tok-1")
        with pytest.raises(NotFound):
            await port.get("queued", "tok-1")
        with pytest.raises(ImageUnavailable):
            await port.get("broken", "tok-1")
    finally:
        await port.close()
    gone = GlanceImages("http://127.0.0.1:9", timeout=2.0)
    try:
        with pytest.raises(ImageUnavailable):
            await gone.get("x", "tok")
    finally:
        await gone.close()


async def test_memory_adapter_limits_images_to_tokens() -> None:
    port = MemoryImages()
    image = snapshot_of({"id": "i", "name": "n", "status": "active"})
    port.add(image, tokens=["mine"])
    assert await port.get("i", "mine") == image
    with pytest.raises(NotFound):
        await port.get("i", "yours")


def test_snapshot_keeps_only_properties() -> None:
    snapshot = snapshot_of({"id": "i", "status": "active", "size": 3, "a": 1, "b": None})
    assert snapshot.properties == {"a": "1"}
    assert snapshot.image_id == "i"
