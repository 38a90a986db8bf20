"""web-download: an image's data fetched from a URL the import names."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.image.conftest import Cloud

DATA = b"cairn web-download " * 5000


@pytest.fixture
async def origin() -> AsyncIterator[TestServer]:
    async def serve(request: web.Request) -> web.StreamResponse:
        if request.path == "/missing":
            raise web.HTTPNotFound()
        return web.Response(body=DATA, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def wait_status(cloud: Cloud, image_id: str, wanted: str) -> dict[str, Any]:
    for _ in range(200):
        _, body = await cloud.call("GET", f"/v2/images/{image_id}", as_="alpha")
        if body["status"] == wanted:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"image {image_id} is {body['status']}, not {wanted}")


async def web_import(cloud: Cloud, image_id: str, uri: str) -> tuple[int, Any]:
    body = {"method": {"name": "web-download", "uri": uri}}
    return await cloud.call("POST", f"/v2/images/{image_id}/import", as_="alpha", json=body)


async def test_web_download_fetches_the_data(cloud: Cloud, origin: TestServer) -> None:
    cloud.images.import_ports = (origin.port,)  # type: ignore[assignment]
    _, info = await cloud.call("GET", "/v2/info/import", as_="alpha")
    assert "web-download" in info["import-methods"]["value"]
    made = await cloud.create("alpha")
    status, body = await web_import(cloud, made["id"], f"http://127.0.0.1:{origin.port}/disk")
    assert status == 202, body
    active = await wait_status(cloud, made["id"], "active")
    assert active["size"] == len(DATA)
    assert active["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    _, data = await cloud.call("GET", f"/v2/images/{made['id']}/file", as_="alpha")
    assert data == DATA


async def test_a_failed_download_goes_back_to_queued(cloud: Cloud, origin: TestServer) -> None:
    cloud.images.import_ports = (origin.port,)  # type: ignore[assignment]
    made = await cloud.create("alpha")
    status, _ = await web_import(cloud, made["id"], f"http://127.0.0.1:{origin.port}/missing")
    assert status == 202
    await asyncio.sleep(0.2)
    await wait_status(cloud, made["id"], "queued")
    events = await cloud.images.store.read_stream(f"image-{made['id']}")
    assert [e.type for e in events][-2:] == ["ImageUploadStarted", "ImageUploadFailed"]


@pytest.mark.parametrize(
    "uri",
    ["ftp://127.0.0.1/x", "http:///nohost", "http://127.0.0.1:22/x", "file:///etc/passwd",
     "http://does-not.exist/no/possible/way", "", 5, "http://[::1/x"],
)  # fmt: skip
async def test_uris_that_do_not_pass_filtering_are_400s(cloud: Cloud, uri: Any) -> None:
    made = await cloud.create("alpha")
    status, fault = await web_import(cloud, made["id"], uri)
    assert status == 400, fault
    _, shown = await cloud.call("GET", f"/v2/images/{made['id']}", as_="alpha")
    assert shown["status"] == "queued"


async def wait_task(cloud: Cloud, task_id: str) -> dict[str, Any]:
    for _ in range(200):
        _, task = await cloud.call("GET", f"/v2/tasks/{task_id}")
        if task["status"] in ("success", "failure"):
            return task  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"task {task_id} did not finish")


def import_task(uri: str) -> dict[str, Any]:
    return {"type": "import", "input": {
        "import_from": uri, "import_from_format": "qcow2",
        "image_properties": {"name": "from-task", "disk_format": "qcow2",
                             "container_format": "bare"}}}  # fmt: skip


async def test_an_import_task_makes_the_image(cloud: Cloud, origin: TestServer) -> None:
    cloud.images.import_ports = (origin.port,)  # type: ignore[assignment]
    body = import_task(f"http://127.0.0.1:{origin.port}/d")
    status, task = await cloud.call("POST", "/v2/tasks", json=body)
    assert status == 201, task
    assert task["status"] == "pending"
    done = await wait_task(cloud, task["id"])
    assert done["status"] == "success", done
    assert done["expires_at"]
    image_id = done["result"]["image_id"]
    _, image = await cloud.call("GET", f"/v2/images/{image_id}")
    assert (image["name"], image["status"], image["size"]) == ("from-task", "active", len(DATA))
    _, listed = await cloud.call("GET", "/v2/tasks")
    assert [t["id"] for t in listed["tasks"]] == [task["id"]]
    assert "input" not in listed["tasks"][0]
    status, of_image = await cloud.call("GET", f"/v2/images/{image_id}/tasks")
    assert status == 200, of_image
    assert [(t["id"], t["status"], t["image_id"]) for t in of_image["tasks"]] == [
        (task["id"], "success", image_id)
    ]
    status, _ = await cloud.call("GET", "/v2/images/00000000-0000-4000-8000-00000000dead/tasks")
    assert status == 404
    status, failing = await cloud.call(
        "POST", "/v2/tasks", json=import_task(f"http://127.0.0.1:{origin.port}/missing")
    )
    assert status == 201
    failed = await wait_task(cloud, failing["id"])
    assert failed["status"] == "failure"
    assert "404" in failed["message"]


async def test_tasks_are_admins_and_bad_ones_are_400s(cloud: Cloud) -> None:
    status, _ = await cloud.call("POST", "/v2/tasks", as_="alpha", json=import_task("http://x/"))
    assert status == 403
    assert (await cloud.call("GET", "/v2/tasks", as_="alpha"))[0] == 403
    bad_input = import_task("http://127.0.0.1/x")
    bad_input["input"]["image_properties"] = {"disk_format": "floppy"}
    for body in (import_task("http://tempest-dummy-img-file-1.qcow2"), {"type": "export"},
                 {"type": "import", "input": {}}, bad_input):  # fmt: skip
        status, fault = await cloud.call("POST", "/v2/tasks", json=body)
        assert status == 400, (body, fault)
    assert (await cloud.call("GET", "/v2/tasks/nope"))[0] == 404
    for path in ("/v2/schemas/task", "/v2/schemas/tasks"):
        assert (await cloud.call("GET", path, as_="alpha"))[0] == 200
