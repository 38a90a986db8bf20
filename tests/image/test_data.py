"""Image data through the API: uploads and downloads, cut-off uploads, import, quotas.

The core cases run on SQLite and on PostgreSQL (``any_cloud``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cairn.events import Metadata
from cairn.image import decide, qcow2
from cairn.projections.image import ImageData
from cairn.store.port import StoreUnavailable, WrongExpectedVersion
from tests.image.conftest import Cloud, cloud_on, running_cloud, settings_for

OCTET = {"Content-Type": "application/octet-stream"}


def files_of(cloud: Cloud) -> list[str]:
    root = cloud.images.files.root
    found = (p for p in root.rglob("*") if p.is_file() and p.name != ".node")
    return sorted(str(p.relative_to(root)) for p in found)


async def test_upload_then_download_with_checksums_and_range(any_cloud: Cloud) -> None:
    cloud = any_cloud
    data = os.urandom(3 * 1024 * 1024 + 17)
    image = await cloud.create("alpha", name="data")
    status, _ = await cloud.call("GET", f"/v2/images/{image['id']}/file", as_="alpha")
    assert status == 204  # no data yet
    assert await cloud.upload(image["id"], data, as_="alpha") == 204
    _, shown = await cloud.call("GET", f"/v2/images/{image['id']}", as_="alpha")
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert shown["virtual_size"] is None
    response = await cloud.client.get(
        f"/image/v2/images/{image['id']}/file", headers={"X-Auth-Token": cloud.tokens["alpha"]}
    )
    assert response.status == 200
    assert response.headers["Content-MD5"] == shown["checksum"]
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert await response.read() == data
    response = await cloud.client.get(
        f"/image/v2/images/{image['id']}/file",
        headers={"X-Auth-Token": cloud.tokens["alpha"], "Range": "bytes=1000-1999"},
    )
    assert response.status == 206
    assert await response.read() == data[1000:2000]
    # the bytes live in one file, named by the image; deleting frees them
    assert files_of(cloud) == [image["id"]]
    await cloud.call("DELETE", f"/v2/images/{image['id']}", as_="alpha")
    assert files_of(cloud) == []


async def test_qcow2_virtual_size_comes_from_the_header(cloud: Cloud) -> None:
    image = await cloud.create("alpha", disk_format="qcow2")
    await cloud.upload(image["id"], qcow2.empty_qcow2(5 * 1024**3), as_="alpha")
    _, shown = await cloud.call("GET", f"/v2/images/{image['id']}", as_="alpha")
    assert (shown["status"], shown["virtual_size"]) == ("active", 5 * 1024**3)


async def test_upload_rules(cloud: Cloud) -> None:
    bare = await cloud.create("alpha", disk_format=None, container_format=None)
    status, fault = await cloud.call(
        "PUT", f"/v2/images/{bare['id']}/file", as_="alpha", data=b"x", headers=OCTET
    )
    assert status == 400, fault  # formats must be set before data
    image = await cloud.create("alpha")
    status, fault = await cloud.call(
        "PUT", f"/v2/images/{image['id']}/file", as_="alpha", data=b"x",
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip
    assert status == 415, fault
    assert await cloud.upload(image["id"], b"first", as_="alpha") == 204
    assert await cloud.upload(image["id"], b"second", as_="alpha") == 409
    status, _ = await cloud.call(
        "PUT", f"/v2/images/{image['id']}/file", as_="beta", data=b"x", headers=OCTET
    )
    assert status == 404
    _, data = await cloud.call("GET", f"/v2/images/{image['id']}/file", as_="alpha")
    assert data == b"first"


async def _cut_off(cloud: Cloud, image_id: str, chunked: bool) -> None:
    """Send half an upload on a raw connection, then hang up."""
    server = cloud.client.server
    _, writer = await asyncio.open_connection(server.host, server.port)
    half = b"z" * (4 * 1024 * 1024)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {2 * len(half)}"
    writer.write(
        f"PUT /image/v2/images/{image_id}/file HTTP/1.1\r\nHost: test\r\n"
        f"X-Auth-Token: {cloud.tokens['alpha']}\r\nContent-Type: application/octet-stream\r\n"
        f"{framing}\r\n\r\n".encode()
    )
    writer.write(f"{len(half):x}\r\n".encode() + half + b"\r\n" if chunked else half)
    await writer.drain()
    for _ in range(250):  # until the server has started saving
        if cloud.images.get(image_id).status == "saving":
            break
        await asyncio.sleep(0.02)
    assert cloud.images.get(image_id).status == "saving"
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_upload_cut_off_half_way_leaves_the_image_queued_and_no_file(
    any_cloud: Cloud, chunked: bool
) -> None:
    cloud = any_cloud
    image = await cloud.create("alpha", name="cut")
    await _cut_off(cloud, image["id"], chunked)
    for _ in range(250):
        if cloud.images.get(image["id"]).status == "queued":
            break
        await asyncio.sleep(0.02)
    _, shown = await cloud.call("GET", f"/v2/images/{image['id']}", as_="alpha")
    assert (shown["status"], shown["size"], shown["checksum"]) == ("queued", None, None)
    assert files_of(cloud) == []
    # and the image takes a complete upload afterwards
    assert await cloud.upload(image["id"], b"whole", as_="alpha") == 204


async def test_import_by_staging_and_glance_direct(any_cloud: Cloud) -> None:
    cloud = any_cloud
    _, info = await cloud.call("GET", "/v2/info/import", as_="alpha")
    assert info["import-methods"]["value"] == ["glance-direct", "web-download"]
    _, stores = await cloud.call("GET", "/v2/info/stores", as_="alpha")
    assert [s["id"] for s in stores["stores"]] == ["file"]
    image = await cloud.create("alpha", name="imported")
    status, _ = await cloud.call(
        "POST",
        f"/v2/images/{image['id']}/import",
        as_="alpha",
        json={"method": {"name": "glance-direct"}},
    )
    assert status == 409  # nothing staged
    data = os.urandom(100_000)
    status, _ = await cloud.call(
        "PUT", f"/v2/images/{image['id']}/stage", as_="alpha", data=data, headers=OCTET
    )
    assert status == 204
    _, shown = await cloud.call("GET", f"/v2/images/{image['id']}", as_="alpha")
    assert shown["status"] == "uploading"
    for bad in [{"method": {"name": "web-download"}}, {"method": "glance-direct"}, {}]:
        status, _ = await cloud.call(
            "POST", f"/v2/images/{image['id']}/import", as_="alpha", json=bad
        )
        assert status == 400, bad
    status, _ = await cloud.call(
        "POST",
        f"/v2/images/{image['id']}/import",
        as_="alpha",
        json={"method": {"name": "glance-direct"}},
    )
    assert status == 202
    _, shown = await cloud.call("GET", f"/v2/images/{image['id']}", as_="alpha")
    assert (shown["status"], shown["size"]) == ("active", len(data))
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    _, got = await cloud.call("GET", f"/v2/images/{image['id']}/file", as_="alpha")
    assert got == data
    assert files_of(cloud) == [image["id"]]


async def test_image_count_quota(tmp_path: Path) -> None:
    async with running_cloud(settings_for(tmp_path, image_quota_images=2)) as cloud:
        await cloud.create("alpha")
        second = await cloud.create("alpha")
        status, fault = await cloud.call("POST", "/v2/images", as_="alpha", json={})
        assert status == 413, fault
        await cloud.create("beta")  # another project has its own quota
        await cloud.call("DELETE", f"/v2/images/{second['id']}", as_="alpha")
        await cloud.create("alpha")


async def test_byte_quota_stops_an_upload_and_frees_on_delete(tmp_path: Path) -> None:
    async with running_cloud(settings_for(tmp_path, image_quota_bytes=1000)) as cloud:
        big = await cloud.create("alpha")
        assert await cloud.upload(big["id"], b"x" * 1001, as_="alpha") == 413
        assert cloud.images.get(big["id"]).status == "queued"
        assert files_of(cloud) == []
        first = await cloud.create("alpha")
        assert await cloud.upload(first["id"], b"x" * 600, as_="alpha") == 204
        assert await cloud.upload(big["id"], b"x" * 600, as_="alpha") == 413
        _, info = await cloud.call("GET", "/v2/info/usage", as_="alpha")
        assert info["usage"]["image_count_total"] == {"limit": 100, "usage": 2}
        assert info["usage"]["image_size_total"] == {"limit": 1, "usage": 1}  # MiB, rounded up
        # no limits of their own: not the count and size limits again
        assert info["usage"]["image_count_uploading"] == {"limit": -1, "usage": 0}
        assert info["usage"]["image_stage_total"] == {"limit": -1, "usage": 0}
        await cloud.call("DELETE", f"/v2/images/{first['id']}", as_="alpha")
        assert await cloud.upload(big["id"], b"x" * 600, as_="alpha") == 204


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_concurrent_uploads_cannot_both_pass_the_byte_quota(
    tmp_path: Path, store: str
) -> None:
    async with cloud_on(store, tmp_path, image_quota_bytes=1_000_000) as cloud:
        a, b = await cloud.create("alpha"), await cloud.create("alpha")

        async def body(own: str) -> AsyncIterator[bytes]:
            yield b"a" * 300_000
            # both uploads are streaming before either finishes
            for _ in range(250):
                if all(cloud.images.get(i).status == "saving" for i in (a["id"], b["id"])):
                    break
                await asyncio.sleep(0.02)
            yield b"b" * 300_000

        statuses = await asyncio.gather(
            cloud.upload(a["id"], body(a["id"]), as_="alpha"),  # type: ignore[arg-type]
            cloud.upload(b["id"], body(b["id"]), as_="alpha"),  # type: ignore[arg-type]
        )
        assert sorted(statuses) == [204, 413]
        usage = cloud.images.state.usage[cloud.projects["alpha"]]
        assert (usage.images, usage.bytes) == (2, 600_000)
        assert sorted(cloud.images.get(i).status for i in (a["id"], b["id"])) == [
            "active",
            "queued",
        ]
        assert len(files_of(cloud)) == 1


async def test_two_decisions_on_the_same_usage_conflict_in_the_store(cloud: Cloud) -> None:
    """The quota's atomicity is the store's expected-version check: two uploads decided
    on the same state cannot both append, whatever the timing."""
    a, b = await cloud.create("alpha"), await cloud.create("alpha")
    meta = Metadata()
    for ident in (a["id"], b["id"]):
        await cloud.images.run(decide.start_upload(ident, meta))
    state = cloud.images.state
    data = ImageData(size=10, checksum="c", os_hash_algo="sha512", os_hash_value="v")
    limits = decide.Limits(bytes=1_000)
    first = decide.finish_upload(a["id"], data, limits, meta)(state)
    second = decide.finish_upload(b["id"], data, limits, meta)(state)
    await cloud.images.store.append(*first)
    with pytest.raises(WrongExpectedVersion, match="imagequota-"):
        await cloud.images.store.append(*second)


async def test_a_restart_puts_interrupted_uploads_back_to_queued(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with running_cloud(settings) as cloud:
        image = await cloud.create("alpha")
        await cloud.images.run(decide.start_upload(image["id"], Metadata()))
        leftover = cloud.images.files.tmp / f"{image['id']}.dead"
        leftover.write_bytes(b"partial")
        assert cloud.images.get(image["id"]).status == "saving"
    async with running_cloud(settings, restart=True) as cloud:
        assert cloud.images.get(image["id"]).status == "queued"
        assert files_of(cloud) == []
        # an upload another image store is receiving is that store's business
        other = await cloud.create("alpha")
        await cloud.images.run(decide.start_upload(other["id"], Metadata(), node="elsewhere"))
    async with running_cloud(settings, restart=True) as cloud:
        assert cloud.images.get(other["id"]).status == "saving"
        assert cloud.images.get(other["id"]).node == "elsewhere"


@pytest.mark.parametrize(
    ("header", "status", "part"),
    [
        ("bytes=0-0", 206, slice(0, 1)),
        ("bytes=100-", 206, slice(100, None)),
        ("bytes=-10", 206, slice(-10, None)),
        ("bytes=990-5000", 206, slice(990, None)),
        ("bytes=1000-", 416, None),
        ("bytes=5-2", 416, None),
        ("bytes=-", 416, None),
        ("pages=1-2", 416, None),
        ("bytes=0-1,5-6", 416, None),
    ],
)
async def test_download_ranges(cloud: Cloud, header: str, status: int, part: slice | None) -> None:
    data = os.urandom(1000)
    image = await cloud.create("alpha")
    await cloud.upload(image["id"], data, as_="alpha")
    response = await cloud.client.get(
        f"/image/v2/images/{image['id']}/file",
        headers={"X-Auth-Token": cloud.tokens["alpha"], "Range": header},
    )
    assert response.status == status, await response.text()
    if part is None:
        assert response.headers["Content-Range"] == "bytes */1000"
        assert (await response.json())["code"] == "416 Requested Range Not Satisfiable"
    else:
        body = await response.read()
        assert body == data[part]
        first = range(1000)[part][0]
        assert response.headers["Content-Range"] == f"bytes {first}-{first + len(body) - 1}/1000"


async def test_two_uploads_to_one_image_one_wins(cloud: Cloud) -> None:
    image = await cloud.create("alpha")

    async def body(fill: bytes) -> AsyncIterator[bytes]:
        yield fill * 100_000
        await asyncio.sleep(0.2)  # still streaming when the other one starts
        yield fill * 100_000

    statuses = await asyncio.gather(
        cloud.upload(image["id"], body(b"a"), as_="alpha"),  # type: ignore[arg-type]
        cloud.upload(image["id"], body(b"b"), as_="alpha"),  # type: ignore[arg-type]
    )
    assert sorted(statuses) == [204, 409]
    _, data = await cloud.call("GET", f"/v2/images/{image['id']}/file", as_="alpha")
    assert data in (b"a" * 200_000, b"b" * 200_000)
    assert files_of(cloud) == [image["id"]]


async def test_a_restart_keeps_staged_data_waiting_for_its_import(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    data = os.urandom(10_000)
    async with running_cloud(settings) as cloud:
        image = await cloud.create("alpha")
        status, _ = await cloud.call(
            "PUT", f"/v2/images/{image['id']}/stage", as_="alpha", data=data, headers=OCTET
        )
        assert status == 204
    async with running_cloud(settings, restart=True) as cloud:
        assert cloud.images.get(image["id"]).status == "uploading"
        assert files_of(cloud) == [f"staging/{image['id']}"]
        status, _ = await cloud.call(
            "POST", f"/v2/images/{image['id']}/import", as_="alpha",
            json={"method": {"name": "glance-direct"}},
        )  # fmt: skip
        assert status == 202
        _, got = await cloud.call("GET", f"/v2/images/{image['id']}/file", as_="alpha")
        assert got == data


async def test_a_failed_answer_keeps_the_file_of_an_image_patched_since(cloud: Cloud) -> None:
    """The upload's data event landed, then a PATCH: the failure's cleanup must see
    the image is active and keep its file."""
    image = await cloud.create("alpha")
    assert await cloud.upload(image["id"], b"kept", as_="alpha") == 204
    status, _ = await cloud.patch(
        image["id"], [{"op": "replace", "path": "/name", "value": "renamed"}], as_="alpha"
    )
    assert status == 200
    await cloud.images._abandon(image["id"], RuntimeError("lost"), Metadata(), "ImageDataUploaded")
    assert cloud.images.get(image["id"]).status == "active"
    assert files_of(cloud) == [image["id"]]


async def test_a_failed_answer_keeps_the_file_while_the_log_is_unreadable(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the data event landed is unknown when the log cannot be read: the
    cleanup must not remove a file the log may already call active."""
    image = await cloud.create("alpha")
    assert await cloud.upload(image["id"], b"kept", as_="alpha") == 204

    async def unreadable(*_: object, **__: object) -> None:
        raise StoreUnavailable("the database went away")

    monkeypatch.setattr(cloud.images.store, "read_stream", unreadable)
    await cloud.images._abandon(image["id"], RuntimeError("lost"), Metadata(), "ImageDataUploaded")
    monkeypatch.undo()
    assert cloud.images.get(image["id"]).status == "active"
    assert files_of(cloud) == [image["id"]]


async def test_staged_bytes_count_on_the_byte_quota(tmp_path: Path) -> None:
    async with running_cloud(settings_for(tmp_path, image_quota_bytes=1000)) as cloud:
        project = cloud.projects["alpha"]
        staged, other = await cloud.create("alpha"), await cloud.create("alpha")

        async def stage(image_id: str, size: int) -> int:
            status, _ = await cloud.call(
                "PUT", f"/v2/images/{image_id}/stage", as_="alpha", data=b"s" * size,
                headers=OCTET,
            )  # fmt: skip
            return status

        assert await stage(staged["id"], 600) == 204
        assert cloud.images.state.usage[project].bytes == 600
        _, info = await cloud.call("GET", "/v2/info/usage", as_="alpha")
        assert info["usage"]["image_stage_total"] == {"limit": -1, "usage": 1}  # MiB
        assert info["usage"]["image_size_total"] == {"limit": 1, "usage": 1}
        assert await cloud.upload(other["id"], b"x" * 600, as_="alpha") == 413
        assert await stage(other["id"], 600) == 413
        status, _ = await cloud.call(
            "POST", f"/v2/images/{staged['id']}/import", as_="alpha",
            json={"method": {"name": "glance-direct"}},
        )  # fmt: skip
        assert status == 202
        assert cloud.images.state.usage[project].bytes == 600  # charged once
        await cloud.call("DELETE", f"/v2/images/{staged['id']}", as_="alpha")
        assert cloud.images.state.usage[project].bytes == 0
        # staged data deleted before its import frees its bytes too
        assert await stage(other["id"], 600) == 204
        await cloud.call("DELETE", f"/v2/images/{other['id']}", as_="alpha")
        assert cloud.images.state.usage[project].bytes == 0


async def test_a_failed_import_frees_its_staged_bytes(cloud: Cloud) -> None:
    image = await cloud.create("alpha")
    status, _ = await cloud.call(
        "PUT", f"/v2/images/{image['id']}/stage", as_="alpha", data=b"s" * 500, headers=OCTET
    )
    assert status == 204
    project = cloud.projects["alpha"]
    assert cloud.images.state.usage[project].bytes == 500
    await cloud.images.run(decide.start_import(image["id"], "glance-direct", Metadata()))
    await cloud.images.run(decide.fail_upload(image["id"], "broken", Metadata()))
    assert cloud.images.get(image["id"]).status == "queued"
    assert cloud.images.state.usage[project].bytes == 0
