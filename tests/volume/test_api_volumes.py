"""The volume API against a real file pool: every volume endpoint, Cinder's shapes
per microversion, what the agent really made on disk, and malformed input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.volume.conftest import MV, VolumeCloud

GIB = 1024**3


def qemu_info(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", str(path)], check=True, capture_output=True
    ).stdout
    found: dict[str, Any] = json.loads(out)
    return found


async def test_version_discovery_and_microversions(cloud: VolumeCloud) -> None:
    response = await cloud.client.get("/volume")
    assert response.status == 300
    versions = (await response.json())["versions"]
    assert versions[0]["id"] == "v3.0"
    assert (versions[0]["min_version"], versions[0]["version"]) == ("3.0", "3.71")
    response = await cloud.client.get("/volume/v3/")
    assert response.status == 200
    status, _ = await cloud.call(
        "GET", "/volumes", headers={"OpenStack-API-Version": "volume 3.72"}
    )
    assert status == 406
    status, body = await cloud.call(
        "GET", "/volumes", headers={"OpenStack-API-Version": "volume three"}
    )
    assert status == 400
    assert body["badRequest"]["code"] == 400
    response = await cloud.client.get(
        "/volume/v3/volumes",
        headers={"X-Auth-Token": cloud.admin.token, "OpenStack-API-Version": "volume latest"},
    )
    assert response.headers["OpenStack-API-Version"] == "volume 3.71"
    response = await cloud.client.get(
        "/volume/v3/volumes", headers={"X-Auth-Token": cloud.admin.token}
    )
    assert response.headers["OpenStack-API-Version"] == "volume 3.0"
    status, body = await cloud.call("GET", "/volumes", headers={"X-Auth-Token": "nonsense"})
    assert status == 401


async def test_a_volume_is_available_once_its_file_exists(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    made = await cloud.volume(demo, size=2, name="data", metadata={"tier": "gold"})
    assert made["status"] == "creating"
    assert made["size"] == 2
    assert made["bootable"] == "false"
    assert "os-vol-host-attr:host" not in made  # admins only
    shown = await cloud.wait(f"/volumes/{made['id']}", demo)
    assert shown["volume_type"] == "__DEFAULT__"
    assert shown["volume_type_id"]
    assert shown["availability_zone"] == "nova"
    assert shown["metadata"] == {"tier": "gold"}
    assert shown["os-vol-tenant-attr:tenant_id"] == demo.project_id
    path = cloud.pool / f"volume-{made['id']}"
    info = qemu_info(path)
    assert (info["format"], info["virtual-size"]) == ("qcow2", 2 * GIB)
    # 3.0 has none of the later fields; admins see the host
    status, body = await cloud.call("GET", f"/volumes/{made['id']}")
    volume = body["volume"]
    assert "volume_type_id" not in volume
    assert "consumes_quota" not in volume
    assert volume["os-vol-host-attr:host"].count("@") == 1
    # the path may carry the project id, but only the token's
    status, _ = await cloud.call("GET", f"/{demo.project_id}/volumes/{made['id']}", demo)
    assert status == 200
    status, body = await cloud.call("GET", f"/{cloud.admin.project_id}/volumes", demo)
    assert status == 400
    assert body["badRequest"]["message"] == "Malformed request url"


async def test_update_metadata_and_summary(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    made = await cloud.volume(demo, name="a")
    vid = made["id"]
    body = await cloud.ok(
        "PUT", f"/volumes/{vid}", demo, {"volume": {"name": "b", "description": "d"}}
    )
    assert (body["volume"]["name"], body["volume"]["description"]) == ("b", "d")
    path = f"/volumes/{vid}/metadata"
    assert (await cloud.ok("POST", path, demo, {"metadata": {"k1": "v1"}}))["metadata"] == {
        "k1": "v1"
    }
    merged = await cloud.ok("POST", path, demo, {"metadata": {"k2": "v2"}})
    assert merged["metadata"] == {"k1": "v1", "k2": "v2"}
    replaced = await cloud.ok("PUT", path, demo, {"metadata": {"k3": "v3"}})
    assert replaced["metadata"] == {"k3": "v3"}
    assert (await cloud.ok("GET", path + "/k3", demo))["meta"] == {"k3": "v3"}
    assert (await cloud.ok("PUT", path + "/k3", demo, {"meta": {"k3": "new"}}))["meta"] == {
        "k3": "new"
    }
    status, body = await cloud.call("PUT", path + "/k3", demo, {"meta": {"other": "x"}})
    assert status == 400
    assert "mismatch" in body["badRequest"]["message"]
    await cloud.ok("DELETE", path + "/k3", demo)
    status, _ = await cloud.call("GET", path + "/k3", demo)
    assert status == 404
    status, _ = await cloud.call("DELETE", path + "/k3", demo)
    assert status == 404
    await cloud.wait(f"/volumes/{vid}", demo)
    summary = await cloud.ok("GET", "/volumes/summary", demo, headers=MV)
    assert summary["volume-summary"]["total_count"] == 1
    assert summary["volume-summary"]["total_size"] == 1


async def test_listing_filters_paging_and_count(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    ids = []
    for index in range(5):
        made = await cloud.volume(demo, name=f"v{index}", metadata={"even": str(index % 2 == 0)})
        ids.append(made["id"])
    for vid in ids:
        await cloud.wait(f"/volumes/{vid}", demo)
    listed = (await cloud.ok("GET", "/volumes", demo))["volumes"]
    assert sorted(v["id"] for v in listed) == sorted(ids)
    assert set(listed[0]) == {"id", "name", "links"}
    named = (await cloud.ok("GET", "/volumes/detail?name=v3", demo))["volumes"]
    assert [v["id"] for v in named] == [ids[3]]
    evens = (await cloud.ok("GET", "/volumes/detail?metadata={'even': 'True'}", demo))["volumes"]
    assert sorted(v["id"] for v in evens) == sorted(ids[0::2])
    ascending = (await cloud.ok("GET", "/volumes?sort=name:asc", demo))["volumes"]
    assert [v["name"] for v in ascending] == [f"v{i}" for i in range(5)]
    first = await cloud.ok("GET", "/volumes?sort=name:asc&limit=2", demo)
    assert [v["name"] for v in first["volumes"]] == ["v0", "v1"]
    assert first["volumes_links"][0]["rel"] == "next"
    marker = first["volumes"][-1]["id"]
    rest = await cloud.ok("GET", f"/volumes?sort=name:asc&marker={marker}", demo)
    assert [v["name"] for v in rest["volumes"]] == ["v2", "v3", "v4"]
    counted = await cloud.ok(
        "GET",
        "/volumes?limit=1&with_count=true",
        demo,
        headers={"OpenStack-API-Version": "volume 3.45"},
    )
    assert counted["count"] == 5
    assert len(counted["volumes"]) == 1
    uncounted = await cloud.ok("GET", "/volumes?with_count=true", demo)
    assert "count" not in uncounted  # before 3.45
    bad_queries = (
        "limit=x",
        "limit=-1",
        "sort=nokey:asc",
        "sort=name:sideways",
        "metadata=notadict",
    )
    status, body = await cloud.call("GET", "/volumes?marker=nope", demo)
    assert status == 404  # Cinder's MarkerNotFound
    assert body["itemNotFound"]["message"] == "Marker nope could not be found."
    for query in bad_queries:
        status, body = await cloud.call("GET", f"/volumes?{query}", demo)
        assert status == 400, (query, body)
        assert body["badRequest"]["code"] == 400


async def test_malformed_creates_are_refused_and_change_nothing(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    bad_bodies: list[Any] = [
        {"volume": {"size": "abc"}},
        {"volume": {"size": 0}},
        {"volume": {"size": -1}},
        {"volume": {"size": True}},
        {"volume": {"size": 1.5}},
        {"volume": {}},
        {"volume": {"size": 1, "name": 5}},
        {"volume": {"size": 1, "name": "x" * 256}},
        {"volume": {"size": 1, "metadata": {"k": 1}}},
        {"volume": {"size": 1, "metadata": ["k"]}},
        {"volume": {"size": 1, "bogus": 1}},
        {"volume": {"size": 1, "availability_zone": "elsewhere"}},
        {"volume": {"size": 1, "multiattach": "perhaps"}},
        {"volume": "1"},
        {"volumes": {"size": 1}},
        [1, 2],
    ]
    for body in bad_bodies:
        status, answer = await cloud.call("POST", "/volumes", demo, body)
        assert status == 400, (body, status, answer)
        assert answer["badRequest"]["code"] == 400
    status, answer = await cloud.call(
        "POST", "/volumes", demo, raw=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    status, answer = await cloud.call(
        "POST", "/volumes", demo, {"volume": {"size": 1, "volume_type": "gold"}}
    )
    assert status == 404
    assert answer["itemNotFound"]["code"] == 404
    status, answer = await cloud.call("POST", "/volumes", demo, {"volume": {"snapshot_id": "nope"}})
    assert status == 404
    status, answer = await cloud.call(
        "POST", "/volumes", demo, {"volume": {"source_volid": "nope"}}
    )
    assert status == 404
    status, answer = await cloud.call(
        "POST", "/volumes", demo, {"volume": {"size": 1, "imageRef": "nope"}}
    )
    assert status == 404
    assert (await cloud.ok("GET", "/volumes", demo))["volumes"] == []
    assert list(cloud.pool.glob("volume-*")) == []


async def test_readers_only_read(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    reader = await cloud.member(project=demo.project_id, role="reader")
    made = await cloud.volume(demo)
    assert (await cloud.ok("GET", f"/volumes/{made['id']}", reader))["volume"]["id"] == made["id"]
    status, body = await cloud.call("POST", "/volumes", reader, {"volume": {"size": 1}})
    assert status == 403
    assert body["forbidden"]["code"] == 403
    status, _ = await cloud.call("DELETE", f"/volumes/{made['id']}", reader)
    assert status == 403


async def test_extend_grows_the_file(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    made = await cloud.volume(demo)
    vid = made["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    status, body = await cloud.call(
        "POST", f"/volumes/{vid}/action", demo, {"os-extend": {"new_size": 1}}
    )
    assert status == 400
    assert "greater than current size" in body["badRequest"]["message"]
    for args in ({"new_size": "x"}, {}, {"new_size": 0}, "3"):
        status, _ = await cloud.call("POST", f"/volumes/{vid}/action", demo, {"os-extend": args})
        assert status == 400, args
    status, _ = await cloud.call(
        "POST", f"/volumes/{vid}/action", demo, {"os-extend": {"new_size": 3}}
    )
    assert status == 202
    shown = await cloud.wait(f"/volumes/{vid}", demo)
    assert shown["size"] == 3
    assert qemu_info(cloud.pool / f"volume-{vid}")["virtual-size"] == 3 * GIB


async def test_flags_and_admin_actions(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    made = await cloud.volume(demo)
    vid = made["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    action = f"/volumes/{vid}/action"
    status, _ = await cloud.call("POST", action, demo, {"os-set_bootable": {"bootable": True}})
    assert status == 200
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["bootable"] == "true"
    status, _ = await cloud.call("POST", action, demo, {"os-set_bootable": {"bootable": "maybe"}})
    assert status == 400
    status, _ = await cloud.call(
        "POST", action, demo, {"os-update_readonly_flag": {"readonly": True}}
    )
    assert status == 202
    assert (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]["metadata"] == {
        "readonly": "True"
    }
    status, body = await cloud.call("POST", action, demo, {"os-reset_status": {"status": "error"}})
    assert status == 403
    status, body = await cloud.call(
        "POST", action, None, {"os-reset_status": {"status": "nonsense"}}
    )
    assert status == 400
    status, _ = await cloud.call(
        "POST", action, None, {"os-reset_status": {"status": "in-use", "attach_status": "attached"}}
    )
    assert status == 202
    status, body = await cloud.call("DELETE", f"/volumes/{vid}", demo)
    assert status == 400
    assert "attached" in body["badRequest"]["message"]
    status, body = await cloud.call("POST", action, demo, {"os-frobnicate": {}})
    assert status == 400
    assert "os-frobnicate" in body["badRequest"]["message"]
    status, body = await cloud.call("POST", action, demo, {"a": {}, "b": {}})
    assert status == 400
    status, _ = await cloud.call("POST", action, demo, {"os-force_delete": {}})
    assert status == 403
    status, body = await cloud.call("POST", action, None, {"os-force_delete": {}})
    assert status == 400  # not even forced while attached, as in Cinder
    reset = {"os-reset_status": {"status": "error_extending", "attach_status": "detached"}}
    assert (await cloud.call("POST", action, None, reset))[0] == 202
    status, _ = await cloud.call("POST", action, None, {"os-force_delete": {}})
    assert status == 202
    await cloud.wait(f"/volumes/{vid}", demo, status="deleted")
    assert not (cloud.pool / f"volume-{vid}").exists()


async def test_tenants_never_see_each_other(cloud: VolumeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    made = await cloud.volume(alice, name="alice's")
    vid = made["id"]
    await cloud.wait(f"/volumes/{vid}", alice)
    for method, path, body in (
        ("GET", f"/volumes/{vid}", None),
        ("PUT", f"/volumes/{vid}", {"volume": {"name": "mine"}}),
        ("DELETE", f"/volumes/{vid}", None),
        ("POST", f"/volumes/{vid}/action", {"os-extend": {"new_size": 5}}),
        ("GET", f"/volumes/{vid}/metadata", None),
        ("POST", f"/volumes/{vid}/metadata", {"metadata": {"a": "b"}}),
        ("POST", "/snapshots", {"snapshot": {"volume_id": vid}}),
        ("POST", "/volumes", {"volume": {"source_volid": vid}}),
    ):
        status, answer = await cloud.call(method, path, bob, body)
        assert status == 404, (method, path, status, answer)
    assert (await cloud.ok("GET", "/volumes/detail", bob))["volumes"] == []
    assert (await cloud.ok("GET", "/volumes/detail?all_tenants=1", bob))["volumes"] == []
    everyone = (await cloud.ok("GET", "/volumes/detail?all_tenants=1"))["volumes"]
    assert vid in {v["id"] for v in everyone}
    assert (await cloud.ok("GET", "/volumes/detail"))["volumes"] == []  # the admin's own project
    shown = (await cloud.ok("GET", f"/volumes/{vid}", alice))["volume"]
    assert shown["name"] == "alice's"
    assert shown["size"] == 1
