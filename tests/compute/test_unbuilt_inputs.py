"""Inputs Nova accepts that Cairn does not build yet are refused, never ignored
(src/cairn/api/compute/unbuilt.py): a 400 with Nova's fault body, and nothing
decided, so no server and no quota is used."""

from __future__ import annotations

from typing import Any

import pytest
from tests.compute.conftest import IMAGE_ID, ComputeCloud

# Volumes in block device mappings are built (tests/compute/test_api_volume_attachments.py);
# local disks beyond the image's own (ephemeral, swap) are not.
REFUSED: list[tuple[str, Any]] = [
    (
        "block_device_mapping_v2",
        [{"source_type": "blank", "destination_type": "local", "boot_index": -1, "volume_size": 1}],
    ),
    ("personality", [{"path": "/etc/motd", "contents": "aGk="}]),
    ("hostname", "web-1"),
    ("trusted_image_certificates", ["0b5d2c72-12cc-4ba6-a8d7-3ff5cc1d8cb8"]),
]


async def _servers_and_quota(cloud: ComputeCloud, project_id: str) -> tuple[int, int]:
    _, body = await cloud.call("GET", "/servers", cloud.admin, version="2.100")
    _, quota = await cloud.call("GET", f"/os-quota-sets/{project_id}/detail")
    return len(body["servers"]), quota["quota_set"]["instances"]["in_use"]


@pytest.mark.parametrize(("key", "value"), REFUSED, ids=[k for k, _ in REFUSED])
async def test_an_unbuilt_boot_input_is_refused_and_nothing_is_made(
    cloud: ComputeCloud, key: str, value: Any
) -> None:
    await cloud.register_host("h1")
    user = await cloud.member()
    before = await _servers_and_quota(cloud, user.project_id)
    status, body = await cloud.boot(user, **{key: value})
    assert status == 400, body
    message = body["badRequest"]["message"]
    assert body["badRequest"]["code"] == 400
    assert "not supported" in message
    assert await _servers_and_quota(cloud, user.project_id) == before


async def test_a_device_tag_is_refused(cloud: ComputeCloud) -> None:
    user = await cloud.member()
    net = {"uuid": "5a1c7e0a-5b7d-4a7e-9d1e-00000000000b", "tag": "nic1"}
    status, body = await cloud.boot(user, networks=[net])
    assert status == 400, body
    assert body["badRequest"]["message"] == "Device tagging is not supported."


async def test_what_an_image_boot_does_anyway_is_accepted(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    user = await cloud.member()
    image_disk = {
        "source_type": "image",
        "destination_type": "local",
        "uuid": IMAGE_ID,
        "boot_index": 0,
        "delete_on_termination": True,
    }
    for extra in (
        {"block_device_mapping_v2": [image_disk]},
        {"block_device_mapping_v2": []},
        {"personality": []},
    ):
        status, body = await cloud.boot(user, **extra)
        assert status == 202, (extra, body)


async def test_hypervisor_hostname_places_the_server_on_that_host(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    await cloud.register_host("h2")
    status, body = await cloud.boot(cloud.admin, hypervisor_hostname="h2")
    assert status == 202, body
    server_id = body["server"]["id"]
    await cloud.wait_for(lambda: server_id in cloud.compute.state.hosts["h2"].claims)
    status, body = await cloud.boot(cloud.admin, hypervisor_hostname="nope")
    assert status == 400
    assert body["badRequest"]["message"] == "Hypervisor hostname nope could not be found."
    status, body = await cloud.boot(cloud.admin, host="h1", hypervisor_hostname="h2")
    assert status == 400, body
    user = await cloud.member()
    status, body = await cloud.boot(user, hypervisor_hostname="h2")
    assert status in (400, 403), body  # not a member's to choose
    status, body = await cloud.call(
        "POST",
        "/servers",
        cloud.admin,
        {
            "server": {
                "name": "vm",
                "imageRef": IMAGE_ID,
                "flavorRef": "42",
                "networks": "none",
                "hypervisor_hostname": "h2",
            }
        },
        version="2.73",
    )
    assert status == 400, body


@pytest.mark.parametrize(
    ("key", "value"),
    [("hostname", "web-1")],
)
async def test_an_unbuilt_update_is_refused_and_the_server_unchanged(
    cloud: ComputeCloud, key: str, value: Any
) -> None:
    user = await cloud.member()
    status, body = await cloud.boot(user, name="before")
    assert status == 202, body
    path = f"/servers/{body['server']['id']}"
    change = {"server": {"name": "after", key: value}}
    status, body = await cloud.call("PUT", path, user, change, version="2.100")
    assert status == 400, body
    assert "not supported" in body["badRequest"]["message"]
    _, body = await cloud.call("GET", path, user, version="2.100")
    assert body["server"]["name"] == "before"


async def test_a_flavor_with_what_no_guest_gets_may_exist_but_not_boot(
    cloud: ComputeCloud,
) -> None:
    await cloud.register_host("h1")
    user = await cloud.member()
    for flavor_id, extra, specs in (
        ("swap-1", {"swap": 512}, None),
        ("eph-1", {"OS-FLV-EXT-DATA:ephemeral": 1}, None),
        ("spec-1", {}, {"hw:cpu_policy": "dedicated"}),
    ):
        flavor = {"name": flavor_id, "id": flavor_id, "ram": 128, "vcpus": 1, "disk": 1, **extra}
        status, body = await cloud.call("POST", "/flavors", json={"flavor": flavor})
        assert status == 200, body
        if specs:
            path = f"/flavors/{flavor_id}/os-extra_specs"
            status, body = await cloud.call("POST", path, json={"extra_specs": specs})
            assert status == 200, body
        before = await _servers_and_quota(cloud, user.project_id)
        status, body = await cloud.boot(user, flavorRef=flavor_id)
        assert status == 400, body
        assert "not support" in body["badRequest"]["message"]
        assert await _servers_and_quota(cloud, user.project_id) == before
