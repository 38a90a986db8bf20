"""Compute's ``os-volume_attachments`` on libvirt's test driver, with the block
storage service of the same process reached over HTTP as in production: the
state transitions (volume reserved, attached by the agent with the volume's
connection info, in-use with an attachment naming the server and the host,
available after detach, detached and deleted with the server) and Nova's
refusals, as Nova's API answers them."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import libvirt
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


class VolumeCloud(ComputeCloud):
    image_id: str = ""

    async def volume(self, method: str, path: str, who: Caller, body: Any = None) -> Any:
        response = await self.client.request(
            method,
            "/volume/v3" + path,
            json=body,
            headers={"X-Auth-Token": who.token, "OpenStack-API-Version": "volume 3.60"},
        )
        answer = await response.json() if response.content_type == "application/json" else None
        return response.status, answer

    async def new_volume(self, who: Caller, size: int = 1, **extra: Any) -> str:
        status, answer = await self.volume(
            "POST", "/volumes", who, {"volume": {"size": size, **extra}}
        )
        assert status == 202, answer
        volume_id = str(answer["volume"]["id"])
        await self.volume_status(who, volume_id, "available")
        return volume_id

    async def volume_status(self, who: Caller, volume_id: str, wanted: str) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while True:
            status, answer = await self.volume("GET", f"/volumes/{volume_id}", who)
            assert status == 200, answer
            if answer["volume"]["status"] == wanted:
                found: dict[str, Any] = answer["volume"]
                return found
            assert time.monotonic() < deadline, answer["volume"]
            await asyncio.sleep(0.05)

    async def active_server(self, who: Caller, name: str = "vm") -> str:
        body = {"name": name, "imageRef": self.image_id, "flavorRef": "42", "networks": "none"}
        status, answer = await self.call("POST", "/servers", who, {"server": body}, version="2.79")
        assert status == 202, answer
        server_id = str(answer["server"]["id"])

        async def active() -> bool:
            shown = await self.server_status(server_id, who)
            assert shown != "ERROR"
            return shown == "ACTIVE"

        await self.wait_for(active, timeout=30)
        return server_id

    async def settled(self, server_id: str, who: Caller) -> dict[str, Any]:
        """The server once no task is under way."""
        deadline = time.monotonic() + 20
        while True:
            status, answer = await self.call("GET", f"/servers/{server_id}", who, version="2.79")
            assert status == 200, answer
            if answer["server"]["OS-EXT-STS:task_state"] is None:
                found: dict[str, Any] = answer["server"]
                return found
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


async def _upload_image(cloud: VolumeCloud, directory: Path) -> str:
    disk = directory / "root.qcow2"
    await asyncio.to_thread(
        subprocess.run, ["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True
    )
    headers = {"X-Auth-Token": cloud.admin.token}
    made = await cloud.client.post(
        "/image/v2/images",
        json={"name": "tiny", "disk_format": "qcow2", "container_format": "bare",
              "visibility": "public"},
        headers=headers,
    )  # fmt: skip
    image_id = str((await made.json())["id"])
    uploaded = await cloud.client.put(
        f"/image/v2/images/{image_id}/file",
        data=disk.read_bytes(),
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    assert uploaded.status == 204, await uploaded.text()
    return image_id


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[VolumeCloud]:
    port = _free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        listen=Listen("127.0.0.1", port),
        admin_password=ADMIN_PASSWORD,
        bcrypt_cost=4,
        compute_hosts=1,
        hypervisor="test:///default",
        guest_dir="none",
        network_agent="off",
    )
    app = build_app(settings, services=[IDENTITY_SERVICE, IMAGE_SERVICE, VOLUME_SERVICE,
                                        COMPUTE_SERVICE])  # fmt: skip
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    made = VolumeCloud(client, MemoryImages())
    token = await made.token("admin", ADMIN_PASSWORD, "admin")
    made.admin = Caller(token, "", "")
    made.image_id = await _upload_image(made, tmp_path)
    await made.wait_for(lambda: len(made.compute.state.hosts) == 1, timeout=20)
    try:
        yield made
    finally:
        await client.close()


def _defined_serials(instance_name: str) -> list[str]:
    """The disk serials of a test-driver guest's definition (read as libvirt has it)."""
    import xml.etree.ElementTree as ET

    connection = libvirt.open("test:///default")
    try:
        xml = connection.lookupByName(instance_name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    finally:
        connection.close()
    return [s.text or "" for s in ET.fromstring(xml).iterfind("devices/disk/serial")]


async def test_attach_list_show_detach_and_the_volume_follows(cloud: VolumeCloud) -> None:
    alice = await cloud.member()
    server_id = await cloud.active_server(alice)
    volume_id = await cloud.new_volume(alice)

    body = {"volumeAttachment": {"volumeId": volume_id, "tag": "data",
                                 "delete_on_termination": False}}  # fmt: skip
    path = f"/servers/{server_id}/os-volume_attachments"
    status, answer = await cloud.call("POST", path, alice, body, version="2.79")
    assert status == 200, answer
    attachment = answer["volumeAttachment"]
    assert attachment == {
        "id": volume_id,
        "volumeId": volume_id,
        "serverId": server_id,
        "device": "/dev/vdb",
        "tag": "data",
        "delete_on_termination": False,
    }
    volume = await cloud.volume_status(alice, volume_id, "in-use")
    (attached,) = volume["attachments"]
    assert attached["server_id"] == server_id
    assert attached["device"] == "/dev/vdb"
    assert attached["host_name"] in cloud.compute.state.hosts
    shown = await cloud.settled(server_id, alice)
    assert shown["os-extended-volumes:volumes_attached"] == [
        {"id": volume_id, "delete_on_termination": False}
    ]
    _, old = await cloud.call("GET", f"/servers/{server_id}", alice, version="2.1")
    assert old["server"]["os-extended-volumes:volumes_attached"] == [{"id": volume_id}]
    # The guest's definition has the volume's disk, named by its serial.
    instance = cloud.compute.state.servers[server_id].instance_name
    assert volume_id in _defined_serials(instance)

    status, listed = await cloud.call("GET", path, alice, version="2.89")
    assert status == 200
    (entry,) = listed["volumeAttachments"]
    assert "id" not in entry
    assert entry["attachment_id"] == attached["attachment_id"]
    assert entry["bdm_uuid"]
    status, one = await cloud.call("GET", f"{path}/{volume_id}", alice, version="2.70")
    assert status == 200
    assert one["volumeAttachment"]["tag"] == "data"
    assert "delete_on_termination" not in one["volumeAttachment"]
    status, listed = await cloud.call("GET", f"{path}?offset=1", alice)
    assert listed["volumeAttachments"] == []

    # The instance action is recorded as Nova's.
    _, actions = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions", alice)
    assert "attach_volume" in [a["action"] for a in actions["instanceActions"]]

    status, _ = await cloud.call("DELETE", f"{path}/{volume_id}", alice)
    assert status == 202
    volume = await cloud.volume_status(alice, volume_id, "available")
    assert volume["attachments"] == []
    shown = await cloud.settled(server_id, alice)
    assert shown["os-extended-volumes:volumes_attached"] == []
    assert volume_id not in _defined_serials(instance)
    status, _ = await cloud.call("GET", f"{path}/{volume_id}", alice)
    assert status == 404


async def test_refusals_with_novas_faults(cloud: VolumeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    server_id = await cloud.active_server(alice)
    volume_id = await cloud.new_volume(alice)
    bobs_volume = await cloud.new_volume(bob)
    path = f"/servers/{server_id}/os-volume_attachments"

    def attach(volume: Any, **extra: Any) -> dict[str, Any]:
        return {"volumeAttachment": {"volumeId": volume, **extra}}

    malformed: list[tuple[Any, str]] = [
        ({"volumeAttachment": {}}, "2.1"),
        ({"nothing": 1}, "2.1"),
        (attach("not-a-uuid"), "2.1"),
        (attach(volume_id, device="sdb!"), "2.1"),
        (attach(volume_id, tag="t"), "2.48"),
        (attach(volume_id, tag="a/b"), "2.49"),
        (attach(volume_id, delete_on_termination=True), "2.78"),
        (attach(volume_id, delete_on_termination="yes"), "2.79"),
        (attach(volume_id, extra=1), "2.79"),
    ]
    for body, version in malformed:
        status, answer = await cloud.call("POST", path, alice, body, version=version)
        assert status == 400, (body, answer)
        assert answer["badRequest"]["code"] == 400
    # Another project's volume does not exist for alice; an unknown one neither.
    for unknown in (bobs_volume, "8d5e1c0e-0f43-4a43-9a5b-2c6e3f0d9a11"):
        status, answer = await cloud.call("POST", path, alice, attach(unknown))
        assert status == 404, answer
        assert answer["itemNotFound"]["code"] == 404
    # Bob cannot attach to alice's server, nor see its attachments.
    status, _ = await cloud.call("POST", path, bob, attach(bobs_volume))
    assert status == 404
    status, _ = await cloud.call("GET", path, bob)
    assert status == 404
    status, _ = await cloud.call("POST", "/servers/nope/os-volume_attachments", alice,
                                 attach(volume_id))  # fmt: skip
    assert status == 404

    status, _ = await cloud.call("POST", path, alice, attach(volume_id))
    assert status == 200
    await cloud.volume_status(alice, volume_id, "in-use")
    await cloud.settled(server_id, alice)
    # Attached already: to this server (400), and in use for another one (400).
    status, answer = await cloud.call("POST", path, alice, attach(volume_id))
    assert status == 400, answer
    other = await cloud.active_server(alice, "other")
    status, answer = await cloud.call(
        "POST", f"/servers/{other}/os-volume_attachments", alice, attach(volume_id)
    )
    assert status == 400, answer
    assert "in-use" in answer["badRequest"]["message"]
    # A volume attached can not be deleted through Cinder.
    status, _ = await cloud.volume("DELETE", f"/volumes/{volume_id}", alice)
    assert status == 400
    # Detaching what is not attached: 404.
    spare = await cloud.new_volume(alice)
    status, answer = await cloud.call("DELETE", f"{path}/{spare}", alice)
    assert status == 404, answer

    # A server in the wrong state: 409 (suspended), and nothing reserved.
    status, _ = await cloud.call("POST", f"/servers/{other}/action", alice, {"suspend": None})
    assert status == 202
    await cloud.wait_for(lambda: cloud.compute.state.servers[other].vm_state == "suspended", 20)
    await cloud.settled(other, alice)
    status, answer = await cloud.call(
        "POST", f"/servers/{other}/os-volume_attachments", alice, attach(spare)
    )
    assert status == 409, answer
    assert answer["conflictingRequest"]["code"] == 409
    shown = await cloud.volume_status(alice, spare, "available")
    assert shown["attachments"] == []


async def test_server_delete_detaches_and_deletes_on_termination(cloud: VolumeCloud) -> None:
    alice = await cloud.member()
    server_id = await cloud.active_server(alice)
    kept, doomed = await cloud.new_volume(alice), await cloud.new_volume(alice)
    path = f"/servers/{server_id}/os-volume_attachments"
    for volume_id, delete in ((kept, False), (doomed, True)):
        body = {"volumeAttachment": {"volumeId": volume_id, "delete_on_termination": delete}}
        status, answer = await cloud.call("POST", path, alice, body, version="2.79")
        assert status == 200, answer
        await cloud.volume_status(alice, volume_id, "in-use")
        await cloud.settled(server_id, alice)
    _, listed = await cloud.call("GET", path, alice)
    assert [a["device"] for a in listed["volumeAttachments"]] == ["/dev/vdb", "/dev/vdc"]

    # Reboot and stop/start keep the volumes.
    for action in ({"reboot": {"type": "HARD"}}, {"os-stop": None}, {"os-start": None}):
        status, _ = await cloud.call("POST", f"/servers/{server_id}/action", alice, action)
        assert status == 202
        shown = await cloud.settled(server_id, alice)
    assert {v["id"] for v in shown["os-extended-volumes:volumes_attached"]} == {kept, doomed}

    status, _ = await cloud.call("DELETE", f"/servers/{server_id}", alice)
    assert status == 204
    await cloud.volume_status(alice, kept, "available")
    deadline = time.monotonic() + 30
    while (await cloud.volume("GET", f"/volumes/{doomed}", alice))[0] != 404:
        assert time.monotonic() < deadline, "the delete_on_termination volume was not deleted"
        await asyncio.sleep(0.1)


async def test_boot_from_volume_made_from_an_image_with_a_blank_one(cloud: VolumeCloud) -> None:
    alice = await cloud.member()
    mappings = [
        {"source_type": "image", "destination_type": "volume", "uuid": cloud.image_id,
         "boot_index": 0, "volume_size": 1, "delete_on_termination": True},
        {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
         "boot_index": -1, "delete_on_termination": False},
    ]  # fmt: skip
    body = {"name": "bfv", "imageRef": "", "flavorRef": "42", "networks": "none",
            "block_device_mapping_v2": mappings}  # fmt: skip
    status, answer = await cloud.call("POST", "/servers", alice, {"server": body}, version="2.79")
    assert status == 202, answer
    server_id = answer["server"]["id"]

    async def active() -> bool:
        shown = await cloud.server_status(server_id, alice)
        assert shown != "ERROR", await cloud.call("GET", f"/servers/{server_id}", alice)
        return shown == "ACTIVE"

    await cloud.wait_for(active, timeout=60)
    shown = await cloud.settled(server_id, alice)
    assert shown["image"] == ""
    attached = shown["os-extended-volumes:volumes_attached"]
    assert [a["delete_on_termination"] for a in attached] == [True, False]
    root, blank = (a["id"] for a in attached)
    volume = await cloud.volume_status(alice, root, "in-use")
    assert volume["bootable"] == "true"
    assert volume["attachments"][0]["device"] == "/dev/vda"
    assert volume["attachments"][0]["server_id"] == server_id
    await cloud.volume_status(alice, blank, "in-use")
    _, listed = await cloud.call("GET", f"/servers/{server_id}/os-volume_attachments", alice)
    assert [a["device"] for a in listed["volumeAttachments"]] == ["/dev/vda", "/dev/vdb"]
    # The root volume is not detached while the server lives.
    status, answer = await cloud.call(
        "DELETE", f"/servers/{server_id}/os-volume_attachments/{root}", alice
    )
    assert status == 400, answer

    status, _ = await cloud.call("DELETE", f"/servers/{server_id}", alice)
    assert status == 204
    await cloud.volume_status(alice, blank, "available")
    deadline = time.monotonic() + 30
    while (await cloud.volume("GET", f"/volumes/{root}", alice))[0] != 404:
        assert time.monotonic() < deadline, "the root volume was not deleted with the server"
        await asyncio.sleep(0.1)


async def test_boot_from_an_existing_volume_and_its_refusals(cloud: VolumeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    status, made = await cloud.volume(
        "POST", "/volumes", alice, {"volume": {"size": 1, "imageRef": cloud.image_id}}
    )
    assert status == 202, made
    volume_id = made["volume"]["id"]
    await cloud.volume_status(alice, volume_id, "available")

    def body(mappings: Any, **extra: Any) -> dict[str, Any]:
        server = {"name": "v", "flavorRef": "42", "networks": "none", **extra}
        server["block_device_mapping_v2"] = mappings
        return {"server": server}

    volume_root = {"source_type": "volume", "destination_type": "volume", "uuid": volume_id,
                   "boot_index": 0}  # fmt: skip
    refused: list[tuple[Caller, Any]] = [
        (bob, body([volume_root])),  # another project's volume
        (alice, body([{**volume_root, "uuid": "8d5e1c0e-0f43-4a43-9a5b-2c6e3f0d9a11"}])),
        (alice, body([{**volume_root, "source_type": "tape"}])),
        (alice, body([{"source_type": "blank", "destination_type": "volume", "boot_index": 0}])),
        (alice, body([{**volume_root, "color": "red"}])),
        (alice, body([volume_root, {**volume_root, "uuid": volume_id}])),
        (alice, body([{"source_type": "blank", "destination_type": "local", "volume_size": 1}])),
        (alice, body([volume_root], max_count=2)),
        (alice, body("not a list")),
    ]
    for who, sent in refused:
        status, answer = await cloud.call("POST", "/servers", who, sent)
        assert status == 400, (sent, answer)
        assert answer["badRequest"]["code"] == 400
    await cloud.volume_status(alice, volume_id, "available")  # nothing reserved

    # The legacy mapping, as Nova maps it: the root device's volume boots.
    legacy = {"server": {"name": "legacy", "flavorRef": "42", "networks": "none",
                         "block_device_mapping": [{"device_name": "vda",
                                                   "volume_id": volume_id}]}}  # fmt: skip
    status, answer = await cloud.call("POST", "/servers", alice, legacy)
    assert status == 202, answer
    server_id = answer["server"]["id"]
    await cloud.wait_for(
        lambda: cloud.compute.state.servers[server_id].vm_state == "active", timeout=30
    )
    await cloud.volume_status(alice, volume_id, "in-use")
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}", alice)
    assert status == 204
    # Not deleted on termination: available again.
    await cloud.volume_status(alice, volume_id, "available")


async def test_rebuilding_a_volume_backed_server_is_refused(
    cloud: VolumeCloud, tmp_path: Path
) -> None:
    alice = await cloud.member()
    root = {
        "source_type": "image",
        "destination_type": "volume",
        "uuid": cloud.image_id,
        "boot_index": 0,
        "volume_size": 1,
        "delete_on_termination": True,
    }
    body = {
        "name": "bfv",
        "imageRef": "",
        "flavorRef": "42",
        "networks": "none",
        "block_device_mapping_v2": [root],
    }
    status, answer = await cloud.call("POST", "/servers", alice, {"server": body}, version="2.79")
    assert status == 202, answer
    server_id = answer["server"]["id"]
    await cloud.wait_for(
        lambda: cloud.compute.state.servers[server_id].vm_state == "active", timeout=60
    )
    await cloud.settled(server_id, alice)
    other_image = await _upload_image(cloud, tmp_path)
    path = f"/servers/{server_id}/action"
    # Before 2.93 another image than the root volume's is Nova's 400.
    status, answer = await cloud.call("POST", path, alice, {"rebuild": {"imageRef": other_image}})
    assert status == 400, answer
    assert "different image for a volume-backed server" in answer["badRequest"]["message"]
    # Its own image, or any at 2.93 (reimaging the root volume), cannot be done here: 409.
    for image, version in ((cloud.image_id, "2.1"), (other_image, "2.93")):
        status, answer = await cloud.call(
            "POST", path, alice, {"rebuild": {"imageRef": image}}, version=version
        )
        assert status == 409, (version, answer)
        assert answer["conflictingRequest"]["code"] == 409
    shown = await cloud.settled(server_id, alice)
    assert shown["status"] == "ACTIVE"
    assert shown["image"] == ""
    assert len(shown["os-extended-volumes:volumes_attached"]) == 1


async def test_a_failed_boot_from_volume_keeps_its_volumes_until_its_delete(
    cloud: VolumeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cairn.agents.compute.libvirt_driver import LibvirtDriver

    async def cannot_spawn(self: LibvirtDriver, definition: Any) -> Any:
        raise RuntimeError("the hypervisor refused the guest")

    monkeypatch.setattr(LibvirtDriver, "spawn", cannot_spawn)
    alice = await cloud.member()
    mappings = [
        {
            "source_type": "image",
            "destination_type": "volume",
            "uuid": cloud.image_id,
            "boot_index": 0,
            "volume_size": 1,
            "delete_on_termination": True,
        },
        {
            "source_type": "blank",
            "destination_type": "volume",
            "volume_size": 1,
            "boot_index": -1,
            "delete_on_termination": False,
        },
    ]
    body = {
        "name": "bfv",
        "imageRef": "",
        "flavorRef": "42",
        "networks": "none",
        "block_device_mapping_v2": mappings,
    }
    status, answer = await cloud.call("POST", "/servers", alice, {"server": body}, version="2.79")
    assert status == 202, answer
    server_id = answer["server"]["id"]

    async def errored() -> bool:
        return await cloud.server_status(server_id, alice) == "ERROR"

    await cloud.wait_for(errored, timeout=60)
    # The volumes the boot made are the caller's, given back (available), not lost.
    status, listed = await cloud.volume("GET", "/volumes/detail", alice)
    assert status == 200
    made = {v["id"]: v for v in listed["volumes"]}
    assert len(made) == 2, made
    for volume_id in made:
        shown = await cloud.volume_status(alice, volume_id, "available")
        assert shown["attachments"] == []
    root = next(i for i, v in made.items() if v["bootable"] == "true")
    (blank,) = set(made) - {root}

    # The server's delete deletes the one that was to go with it, and only that one.
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}", alice)
    assert status == 204
    deadline = time.monotonic() + 30
    while (await cloud.volume("GET", f"/volumes/{root}", alice))[0] != 404:
        assert time.monotonic() < deadline, "the delete_on_termination volume was not deleted"
        await asyncio.sleep(0.1)
    await cloud.volume_status(alice, blank, "available")


def test_a_boots_volumes_are_the_servers_until_it_spawns() -> None:
    from cairn.events.compute_volumes import unattached_boot_volumes, volume_entry

    root = volume_entry("root", "a1", "/dev/vda", delete_on_termination=True, boot_index=0)
    blank = volume_entry("blank", "a2", "/dev/vdb", boot_index=-1)
    # Never spawned: every boot volume not attached is still the server's.
    assert unattached_boot_volumes([root, blank], [], spawned=False) == [root, blank]
    assert unattached_boot_volumes([root, blank], [root], spawned=False) == [blank]
    # Spawned: they were attached then; one detached since is no longer the server's.
    assert unattached_boot_volumes([root, blank], [root], spawned=True) == []
