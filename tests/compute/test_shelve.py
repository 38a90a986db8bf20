"""Shelve, offload, unshelve and rescue through the API, with real agents on
libvirt's test driver (real libvirt calls, real qcow2 files, fake guests):
claims, quota, task states, images, instance actions, and Nova's refusals.
The same on real QEMU guests through the CLI: test_shelve_qemu.py."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.compute.conftest import (
    ADMIN_PASSWORD,
    IMAGE_ID,
    Caller,
    ComputeCloud,
    _whoami,
    settings_for,
)

from cairn.agents.compute.images import ImageInfo, ImageNotFound
from cairn.agents.compute.images_local import LocalImageSource
from cairn.api import RUNNER_OPTIONS
from cairn.api import build_app as build_api
from cairn.api.compute import IMAGE_PORT
from cairn.api.compute import SERVICE as COMPUTE_SERVICE
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.compute.images import MemoryImages
from cairn.compute_hosts import compute_hosts_context
from cairn.events import compute as ev
from cairn.runtime import resource_contexts

OTHER_IMAGE = "2f1c7e0a-5b7d-4a7e-9d1e-000000000003"


class UploadingImages(LocalImageSource):
    """Local images that also take uploads (a shelve's snapshot) and deletes."""

    def __init__(self, directory: Path) -> None:
        super().__init__({})
        self.directory = directory
        self.deleted: list[str] = []

    async def upload(self, image_id: str, path: Path) -> None:
        stored = self.directory / f"{image_id}.qcow2"
        await asyncio.to_thread(shutil.copyfile, path, stored)
        self.add(stored, ImageInfo(id=image_id, name="shelved", disk_format="qcow2"))

    async def delete(self, image_id: str) -> None:
        self._images.pop(image_id, None)
        self.deleted.append(image_id)

    async def info(self, image_id: str) -> ImageInfo:
        if image_id in self.deleted:
            raise ImageNotFound(image_id)
        return await super().info(image_id)


def _agent_images(directory: Path) -> UploadingImages:
    directory.mkdir(parents=True, exist_ok=True)
    source = UploadingImages(directory)
    for image_id in (IMAGE_ID, OTHER_IMAGE):
        root = directory / f"{image_id}.root"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(root), "16M"], check=True)
        source.add(root, ImageInfo(id=image_id, name="cirros", disk_format="qcow2"))
    return source


class Cloud(ComputeCloud):
    source: UploadingImages
    data_dir: Path


async def _cloud(tmp_path: Path, **changes: Any) -> tuple[Cloud, TestClient[Any, Any]]:
    settings = settings_for(tmp_path, hypervisor="test:///default", compute_hosts=1, **changes)
    app = build_api([IDENTITY_SERVICE, COMPUTE_SERVICE], contexts=resource_contexts(settings))
    source = _agent_images(tmp_path / "images")
    app.cleanup_ctx.append(compute_hosts_context(settings, images=source, heartbeat_interval=5.0))
    images = MemoryImages(
        [ev.ImageSnapshot(image_id=i, name="cirros", disk_format="qcow2")
         for i in (IMAGE_ID, OTHER_IMAGE)]
    )  # fmt: skip
    app[IMAGE_PORT] = images
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    made = Cloud(client, images)
    made.source = source
    made.data_dir = settings.data_dir
    token = await made.token("admin", ADMIN_PASSWORD, "admin")
    project_id, user_id = await _whoami(made, token)
    made.admin = Caller(token, project_id, user_id)
    await made.wait_for(lambda: len(made.compute.state.hosts) == 1)
    return made, client


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    made, client = await _cloud(tmp_path)
    try:
        yield made
    finally:
        await client.close()


@pytest.fixture
async def kept(tmp_path: Path) -> AsyncIterator[Cloud]:
    """A cloud that never offloads by itself (shelved_offload_time -1)."""
    made, client = await _cloud(tmp_path, shelved_offload_time=-1.0)
    try:
        yield made
    finally:
        await client.close()


async def _status_is(cloud: ComputeCloud, server_id: str, wanted: str) -> dict[str, Any]:
    async def reached() -> bool:
        status = await cloud.server_status(server_id)
        assert status != "ERROR", await cloud.call("GET", f"/servers/{server_id}")
        _, body = await cloud.call("GET", f"/servers/{server_id}")
        return status == wanted and body["server"]["OS-EXT-STS:task_state"] is None

    await cloud.wait_for(reached, timeout=20)
    _, body = await cloud.call("GET", f"/servers/{server_id}", version="2.100")
    server: dict[str, Any] = body["server"]
    return server


async def _act(
    cloud: ComputeCloud, server_id: str, body: Any, who: Caller | None = None, version: str = "2.1"
) -> tuple[int, Any]:
    return await cloud.call("POST", f"/servers/{server_id}/action", who, body, version=version)


async def _booted(cloud: ComputeCloud, who: Caller | None = None, name: str = "vm") -> str:
    status, body = await cloud.boot(who, name=name)
    assert status == 202, body
    server_id: str = body["server"]["id"]
    await _status_is(cloud, server_id, "ACTIVE")
    return server_id


async def _used(cloud: ComputeCloud) -> tuple[int, int]:
    _, body = await cloud.call("GET", "/os-hypervisors/statistics")
    stats = body["hypervisor_statistics"]
    return stats["vcpus_used"], stats["memory_mb_used"]


async def _events(cloud: ComputeCloud, server_id: str) -> list[str]:
    return [e.type for e in await cloud.store.read_stream(f"server-{server_id}")]


async def test_shelve_offloads_at_once_and_unshelve_boots_from_the_image(cloud: Cloud) -> None:
    server_id = await _booted(cloud, name="keeper")
    assert await _used(cloud) == (1, 128)
    status, _ = await _act(cloud, server_id, {"shelve": None})
    assert status == 202
    server = await _status_is(cloud, server_id, "SHELVED_OFFLOADED")
    assert server["OS-EXT-SRV-ATTR:host"] is None
    assert server["OS-EXT-STS:vm_state"] == "shelved_offloaded"
    assert server["OS-EXT-STS:power_state"] == 4
    assert await _used(cloud) == (0, 0)  # the host's claim is released
    # Nova's counting: a shelved server still holds its quota.
    _, limits = await cloud.call("GET", "/limits")
    assert limits["limits"]["absolute"]["totalInstancesUsed"] == 1
    (image_id, document), *_ = cloud.images.created.items()
    assert document["name"] == "keeper-shelved"
    assert document["image_type"] == "snapshot"
    assert document["instance_uuid"] == server_id
    assert document["base_image_ref"] == IMAGE_ID
    stream = await _events(cloud, server_id)
    assert stream[-2:] == ["ServerShelveOffloaded", "ServerActionCompleted"]
    progressed = [
        e.data for e in await cloud.store.read_stream(f"server-{server_id}")
        if e.type == "ServerShelveProgressed"
    ]  # fmt: skip
    assert [b"shelving_image_pending_upload" in d for d in progressed] == [True, False, False]
    assert b"shelving_image_uploading" in progressed[1]
    assert b"shelving_offloading" in progressed[2]
    assert not list(cloud.data_dir.glob(f"compute/*/instances/{server_id}"))  # off the host

    status, _ = await _act(cloud, server_id, {"unshelve": None})
    assert status == 202
    server = await _status_is(cloud, server_id, "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] in cloud.compute.state.hosts
    assert server["image"]["id"] == IMAGE_ID  # the server's own image, as before
    assert await _used(cloud) == (1, 128)
    assert cloud.source.deleted == [image_id]  # the shelved image is gone
    _, body = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions")
    actions = [a["action"] for a in body["instanceActions"]]
    assert actions[:2] == ["unshelve", "shelve"]
    request_id = body["instanceActions"][0]["request_id"]
    _, body = await cloud.call(
        "GET", f"/servers/{server_id}/os-instance-actions/{request_id}", version="2.84"
    )
    assert body["instanceAction"]["events"][0]["event"] == "compute_unshelve_instance"
    assert body["instanceAction"]["events"][0]["result"] == "Success"


async def test_shelved_then_offloaded_by_an_admin(kept: Cloud) -> None:
    cloud = kept
    owner = await cloud.member()
    server_id = await _booted(cloud, owner)
    status, _ = await _act(cloud, server_id, {"shelve": None}, owner)
    assert status == 202
    server = await _status_is(cloud, server_id, "SHELVED")
    assert server["OS-EXT-SRV-ATTR:host"] is not None  # still on its host
    assert await _used(cloud) == (1, 128)
    status, body = await _act(cloud, server_id, {"shelveOffload": None}, owner)
    assert status == 403, body  # Nova's default policy: admins only
    status, _ = await _act(cloud, server_id, {"shelveOffload": None})
    assert status == 202
    await _status_is(cloud, server_id, "SHELVED_OFFLOADED")
    assert await _used(cloud) == (0, 0)
    status, body = await _act(cloud, server_id, {"shelveOffload": None})
    assert status == 409, body


async def test_unshelve_of_a_shelved_server_powers_it_on(kept: Cloud) -> None:
    cloud = kept
    server_id = await _booted(cloud)
    await _act(cloud, server_id, {"shelve": None})
    await _status_is(cloud, server_id, "SHELVED")
    (image_id, _), *_ = cloud.images.created.items()
    # A zone or a host is for an offloaded server only.
    status, body = await _act(
        cloud, server_id, {"unshelve": {"availability_zone": "nova"}}, version="2.77"
    )
    assert status == 409, body
    assert "SHELVED_OFFLOADED" in body["conflictingRequest"]["message"]
    status, _ = await _act(cloud, server_id, {"unshelve": None})
    assert status == 202
    server = await _status_is(cloud, server_id, "ACTIVE")
    assert server["OS-EXT-STS:power_state"] == 1
    assert cloud.source.deleted == [image_id]
    assert cloud.compute.state.servers[server_id].shelved_image_id is None


async def test_offload_after_shelved_offload_time(tmp_path: Path) -> None:
    cloud, client = await _cloud(tmp_path, shelved_offload_time=1.0)
    try:
        server_id = await _booted(cloud)
        await _act(cloud, server_id, {"shelve": None})
        await _status_is(cloud, server_id, "SHELVED")
        assert await cloud.compute.offload_due() == 0  # not yet
        await asyncio.sleep(1.1)
        assert await cloud.compute.offload_due() == 1
        await _status_is(cloud, server_id, "SHELVED_OFFLOADED")
        assert await cloud.compute.offload_due() == 0
    finally:
        await client.close()


async def test_unshelve_placement_arguments(cloud: Cloud) -> None:
    owner = await cloud.member()
    server_id = await _booted(cloud, owner)
    await _act(cloud, server_id, {"shelve": None}, owner)
    await _status_is(cloud, server_id, "SHELVED_OFFLOADED")
    for body, version in (
        ({"unshelve": {"availability_zone": None}}, "2.77"),  # null only from 2.91
        ({"unshelve": {"host": "h"}}, "2.77"),  # host only from 2.91
        ({"unshelve": {"availability_zone": ""}}, "2.77"),
        ({"unshelve": {"zone": "nova"}}, "2.91"),
        ({"unshelve": "nova"}, "2.91"),
    ):
        status, answer = await _act(cloud, server_id, body, owner, version=version)
        assert status == 400, (body, answer)
        assert answer["badRequest"]["code"] == 400
    status, answer = await _act(
        cloud, server_id, {"unshelve": {"availability_zone": "nowhere"}}, owner, version="2.77"
    )
    assert status == 400, answer
    assert "availability zone" in answer["badRequest"]["message"]
    status, answer = await _act(cloud, server_id, {"unshelve": {"host": "h1"}}, owner, "2.91")
    assert status == 403, answer  # a host is an admin's choice
    status, answer = await _act(cloud, server_id, {"unshelve": {"host": "nohost"}}, None, "2.91")
    assert status == 400, answer
    (host,) = cloud.compute.state.hosts
    status, answer = await _act(
        cloud, server_id, {"unshelve": {"host": host, "availability_zone": None}}, None, "2.91"
    )
    assert status == 202, answer
    server = await _status_is(cloud, server_id, "ACTIVE")
    assert server["OS-EXT-SRV-ATTR:host"] == host


async def test_shelve_and_rescue_refusals(cloud: Cloud) -> None:
    owner, stranger = await cloud.member(), await cloud.member()
    server_id = await _booted(cloud, owner)
    for action in ("unshelve", "shelveOffload", "unrescue"):
        status, body = await _act(cloud, server_id, {action: None}, owner)
        assert status in (403, 409), (action, body)
    status, body = await _act(cloud, server_id, {"unshelve": None}, owner)
    assert status == 409
    assert "vm_state active" in body["conflictingRequest"]["message"]
    for action in ("shelve", "unshelve", "rescue", "unrescue"):
        status, body = await _act(cloud, server_id, {action: None}, stranger)
        assert status == 404, (action, body)
        assert body["itemNotFound"]["code"] == 404
    for bad in (
        {"rescue": {"rescue_image_ref": "not-a-uuid"}},
        {"rescue": {"adminPass": 5}},
        {"rescue": {"other": 1}},
        {"rescue": "x"},
        {"rescue": {"rescue_image_ref": "2f1c7e0a-5b7d-4a7e-9d1e-0000000000ff"}},
    ):
        status, body = await _act(cloud, server_id, bad, owner)
        assert status == 400, (bad, body)
        assert body["badRequest"]["code"] == 400
    await _act(cloud, server_id, {"lock": None}, owner)
    for action in ("shelve", "rescue"):
        status, body = await _act(cloud, server_id, {action: None}, owner)
        assert status == 409, (action, body)
        assert "locked" in body["conflictingRequest"]["message"]
    await _act(cloud, server_id, {"unlock": None}, owner)
    await _act(cloud, server_id, {"pause": None}, owner)
    await _status_is(cloud, server_id, "PAUSED")
    status, body = await _act(cloud, server_id, {"rescue": None}, owner)
    assert status == 409, body
    assert await cloud.server_status(server_id, owner) == "PAUSED"
    assert cloud.images.created == {}  # nothing made by the refusals


async def test_rescue_boots_the_rescue_image_with_the_disk_beside_it(cloud: Cloud) -> None:
    server_id = await _booted(cloud)
    instance = next(cloud.data_dir.glob(f"compute/*/instances/{server_id}"))
    status, body = await _act(
        cloud, server_id, {"rescue": {"rescue_image_ref": OTHER_IMAGE, "adminPass": "pw"}}
    )
    assert status == 200, body
    assert body == {}  # no adminPass echoed: Cairn sets no instance passwords
    server = await _status_is(cloud, server_id, "RESCUE")
    assert server["OS-EXT-STS:vm_state"] == "rescued"
    assert (instance / "disk.rescue").exists()
    assert (instance / "disk").exists()
    status, body = await _act(cloud, server_id, {"rescue": None})
    assert status == 409, body
    status, _ = await _act(cloud, server_id, {"unrescue": None})
    assert status == 202
    await _status_is(cloud, server_id, "ACTIVE")
    assert not (instance / "disk.rescue").exists()
    assert (instance / "disk").exists()
    _, body = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions")
    assert [a["action"] for a in body["instanceActions"]][:2] == ["unrescue", "rescue"]


async def test_deleting_a_shelved_server_deletes_its_image(kept: Cloud) -> None:
    cloud = kept
    shelved = await _booted(cloud, name="a")
    await _act(cloud, shelved, {"shelve": None})
    await _status_is(cloud, shelved, "SHELVED")
    offloaded = await _booted(cloud, name="b")
    await _act(cloud, offloaded, {"shelve": None})
    await _status_is(cloud, offloaded, "SHELVED")
    await _act(cloud, offloaded, {"shelveOffload": None})
    await _status_is(cloud, offloaded, "SHELVED_OFFLOADED")
    assert len(cloud.images.created) == 2
    for server_id in (shelved, offloaded):
        status, _ = await cloud.call("DELETE", f"/servers/{server_id}")
        assert status == 204
    status, _ = await cloud.call("GET", f"/servers/{offloaded}")
    assert status == 404  # on no host: deleted at once, with its quota
    await cloud.wait_for(lambda: cloud.compute.state.servers[shelved].deleted, timeout=20)
    assert cloud.images.created == {}  # both shelved images went with their servers
    _, limits = await cloud.call("GET", "/limits")
    assert limits["limits"]["absolute"]["totalInstancesUsed"] == 0
    assert await _used(cloud) == (0, 0)
