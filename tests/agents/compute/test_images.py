"""The image port: the Glance v2 HTTP adapter, the local-files adapter, the cache.

The HTTP adapter is tested against a small aiohttp server that answers as
Keystone (POST /identity/v3/auth/tokens, with a catalog) and Glance v2
(GET /image/v2/images/{id} and .../file) do. It is NOT Cairn's image service,
which is built on another branch; this checks the adapter's side of the
protocol: token, catalog, streaming, hashes, retries and errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from cairn.agents.compute.images import (
    ImageCache,
    ImageCorrupt,
    ImageError,
    ImageInfo,
    ImageNotFound,
    ImageUnavailable,
)
from cairn.agents.compute.images_glance import GlanceImageSource
from cairn.agents.compute.images_local import LocalImageSource
from cairn.agents.compute.keystone_auth import AuthFailed, CloudsYamlAuth, PasswordAuth

DATA = bytes(range(256)) * 4096  # 1 MiB
IMAGE = "11111111-2222-4333-8444-555555555555"
PASSWORD = "s3cret-pass"


@dataclass
class FakeCloud:
    """Keystone and Glance as an aiohttp app; counts what it was asked."""

    tokens: int = 0
    downloads: int = 0
    unavailable: int = 0  # answer 503 this many times first
    expire_next_token: bool = False
    valid: set[str] = field(default_factory=set)
    images: dict[str, tuple[dict[str, Any], bytes | None]] = field(default_factory=dict)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/identity/v3/auth/tokens", self.issue)
        app.router.add_get("/image/v2/images/{id}", self.show)
        app.router.add_get("/image/v2/images/{id}/file", self.file)
        return app

    async def issue(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = body["auth"]["identity"]["password"]["user"]
        if user["password"] != PASSWORD:
            return web.json_response({"error": {"code": 401}}, status=401)
        self.tokens += 1
        token = f"tok-{self.tokens}"
        self.valid.add(token)
        catalog = [
            {
                "type": "image",
                "name": "glance",
                "endpoints": [
                    {"interface": "internal", "url": "http://127.0.0.1:1/wrong"},
                    {"interface": "public", "url": f"{self.url}/image"},
                ],
            }
        ]
        document = {"token": {"expires_at": "2999-01-01T00:00:00.000000Z", "catalog": catalog}}
        return web.json_response(document, status=201, headers={"X-Subject-Token": token})

    def _check(self, request: web.Request) -> None:
        if self.unavailable > 0:
            self.unavailable -= 1
            raise web.HTTPServiceUnavailable()
        token = request.headers.get("X-Auth-Token")
        if token not in self.valid:
            raise web.HTTPUnauthorized()
        if self.expire_next_token:
            self.expire_next_token = False
            self.valid.discard(token)
            raise web.HTTPUnauthorized()

    async def show(self, request: web.Request) -> web.Response:
        self._check(request)
        found = self.images.get(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound()
        return web.json_response(found[0])

    async def file(self, request: web.Request) -> web.StreamResponse:
        self._check(request)
        found = self.images.get(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound()
        data = found[1]
        if data is None:
            return web.Response(status=204)
        self.downloads += 1
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        for start in range(0, len(data), 65536):
            await response.write(data[start : start + 65536])
        await response.write_eof()
        return response

    def add(self, image_id: str, data: bytes | None, **fields: Any) -> None:
        document = {
            "id": image_id,
            "name": "cirros",
            "status": "active",
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "public",
            "size": None if data is None else len(data),
            "checksum": None if data is None else hashlib.md5(data).hexdigest(),
            "os_hash_algo": None if data is None else "sha512",
            "os_hash_value": None if data is None else hashlib.sha512(data).hexdigest(),
            "tags": [],
            "min_disk": 0,
            "kernel_id": "kkk",
            "os_command_line": "console=ttyS0",
            **fields,
        }
        self.images[image_id] = (document, data)


@pytest.fixture
async def fake() -> AsyncIterator[FakeCloud]:
    cloud = FakeCloud()
    server = TestServer(cloud.app(), host="127.0.0.1")
    await server.start_server()
    cloud.url = str(server.make_url("")).rstrip("/")
    try:
        yield cloud
    finally:
        await server.close()


def auth(fake: FakeCloud, password: str = PASSWORD) -> PasswordAuth:
    return PasswordAuth(
        auth_url=f"{fake.url}/identity", username="admin", password=password, project_name="admin"
    )


@pytest.fixture
async def glance(fake: FakeCloud) -> AsyncIterator[GlanceImageSource]:
    source = GlanceImageSource(auth(fake), retry_for=5.0)
    try:
        yield source
    finally:
        await source.close()


async def test_describes_an_image_with_its_properties(
    fake: FakeCloud, glance: GlanceImageSource
) -> None:
    fake.add(IMAGE, DATA, ramdisk_id="rrr")

    info = await glance.info(IMAGE)

    assert (info.id, info.name, info.disk_format, info.size) == (
        IMAGE,
        "cirros",
        "qcow2",
        len(DATA),
    )
    assert info.properties == {
        "kernel_id": "kkk",
        "ramdisk_id": "rrr",
        "os_command_line": "console=ttyS0",
    }
    assert fake.tokens == 1


async def test_the_cache_downloads_once_and_checks_the_hash(
    fake: FakeCloud, glance: GlanceImageSource, tmp_path: Path
) -> None:
    fake.add(IMAGE, DATA)
    cache = ImageCache(tmp_path / "images", glance)

    fetched = await asyncio.gather(*(cache.fetch(IMAGE) for _ in range(5)))

    assert {f.path for f in fetched} == {tmp_path / "images" / IMAGE}
    assert fetched[0].path.read_bytes() == DATA
    assert fake.downloads == 1
    assert fake.tokens == 1  # one token, reused
    again = await ImageCache(tmp_path / "images", glance).fetch(IMAGE)  # a restarted agent
    assert again.info == fetched[0].info
    assert fake.downloads == 1


async def test_corrupt_data_is_refused_and_not_cached(
    fake: FakeCloud, glance: GlanceImageSource, tmp_path: Path
) -> None:
    fake.add(IMAGE, DATA, os_hash_value="0" * 128)
    cache = ImageCache(tmp_path / "images", glance)

    with pytest.raises(ImageCorrupt):
        await cache.fetch(IMAGE)

    assert list((tmp_path / "images").iterdir()) == []


async def test_a_missing_image_is_not_found(fake: FakeCloud, glance: GlanceImageSource) -> None:
    with pytest.raises(ImageNotFound):
        await glance.info("no-such-image")


async def test_an_image_without_data_is_an_error(
    fake: FakeCloud, glance: GlanceImageSource, tmp_path: Path
) -> None:
    fake.add(IMAGE, None)

    with pytest.raises(ImageError, match="no data"):
        await glance.download(IMAGE, tmp_path / "x")


async def test_an_expired_token_is_renewed_once(fake: FakeCloud, glance: GlanceImageSource) -> None:
    fake.add(IMAGE, DATA)
    await glance.info(IMAGE)
    fake.expire_next_token = True

    assert (await glance.info(IMAGE)).id == IMAGE
    assert fake.tokens == 2


async def test_an_unavailable_service_is_retried_then_given_up(
    fake: FakeCloud, glance: GlanceImageSource, tmp_path: Path
) -> None:
    fake.add(IMAGE, DATA)
    fake.unavailable = 2
    assert (await glance.info(IMAGE)).id == IMAGE

    impatient = GlanceImageSource(auth(fake), retry_for=0.5)
    fake.unavailable = 1000
    try:
        with pytest.raises(ImageUnavailable, match="503"):
            await impatient.info(IMAGE)
    finally:
        await impatient.close()


async def test_refused_credentials_fail_clearly_without_the_password(fake: FakeCloud) -> None:
    source = GlanceImageSource(auth(fake, password="wrong-password"), retry_for=0.5)
    try:
        with pytest.raises(AuthFailed) as raised:
            await source.info(IMAGE)
    finally:
        await source.close()
    assert "wrong-password" not in str(raised.value)


async def test_credentials_come_from_clouds_yaml(fake: FakeCloud, tmp_path: Path) -> None:
    clouds = tmp_path / "clouds.yaml"
    document = {
        "clouds": {
            "cairn-admin": {
                "auth": {
                    "auth_url": f"{fake.url}/identity",
                    "username": "admin",
                    "password": PASSWORD,
                    "project_name": "admin",
                    "user_domain_name": "Default",
                    "project_domain_name": "Default",
                }
            }
        }
    }
    clouds.write_text(yaml.safe_dump(document))
    fake.add(IMAGE, DATA)
    source = GlanceImageSource(CloudsYamlAuth(clouds))
    try:
        assert (await source.info(IMAGE)).id == IMAGE
    finally:
        await source.close()


async def test_local_images_from_a_directory(tmp_path: Path) -> None:
    (tmp_path / IMAGE).write_bytes(DATA)
    document = {"id": IMAGE, "name": "guest", "disk_format": "raw", "kernel_id": "k"}
    (tmp_path / f"{IMAGE}.json").write_text(json.dumps(document))
    source = LocalImageSource.from_directory(tmp_path)

    info = await source.info(IMAGE)
    cached = await ImageCache(tmp_path / "cache", source).fetch(IMAGE)

    assert (info.disk_format, info.size, info.properties) == ("raw", len(DATA), {"kernel_id": "k"})
    assert cached.path.read_bytes() == DATA
    with pytest.raises(ImageNotFound):
        await source.info("other")


async def test_an_image_of_properties_only_needs_no_download(tmp_path: Path) -> None:
    source = LocalImageSource({})
    source.add(tmp_path / "missing", ImageInfo(id=IMAGE, size=0, properties={"kernel_id": "k"}))

    cached = await ImageCache(tmp_path / "cache", source).fetch(IMAGE)

    assert cached.path.read_bytes() == b""


async def test_the_cache_writes_its_description_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = LocalImageSource({})
    (tmp_path / "data").write_bytes(DATA)
    source.add(tmp_path / "data", ImageInfo(id=IMAGE, size=len(DATA)))
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    # what a crash while writing the description in place left: data, half a JSON
    (cache_dir / IMAGE).write_bytes(DATA)
    (cache_dir / f"{IMAGE}.json").write_text('{"id": "' + IMAGE[:8])
    renamed: list[str] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        renamed.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)

    cached = await ImageCache(cache_dir, source).fetch(IMAGE)

    assert cached.info.size == len(DATA)
    # the description, then the data, each renamed into place from a temporary file
    assert renamed == [f"{IMAGE}.json", IMAGE]
    assert sorted(p.name for p in cache_dir.iterdir()) == [IMAGE, f"{IMAGE}.json"]
