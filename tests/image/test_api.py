"""The image API on SQLite: metadata, listing, patches, sharing, states, bad input.

Data paths (upload, download, import, quotas, cut-off uploads) are in
test_data.py; the ``openstack`` CLI against ``cairn up`` in test_cli.py.
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Any

import pytest

from tests.image.conftest import USER_PASSWORD, Cloud, running_cloud, settings_for


async def test_discovery_lists_v2_with_300_and_versions_with_200(cloud: Cloud) -> None:
    response = await cloud.client.get("/image")
    assert response.status == 300
    body = await response.json()
    assert body["versions"][0]["status"] == "CURRENT"
    assert body["versions"][0]["links"][0]["href"].endswith("/image/v2/")
    response = await cloud.client.get("/image/versions")
    assert response.status == 200
    assert {v["id"] for v in (await response.json())["versions"]} >= {"v2.0", "v2.16"}


@pytest.mark.parametrize("name", ["image", "images", "member", "members"])
async def test_schemas(cloud: Cloud, name: str) -> None:
    status, body = await cloud.call("GET", f"/v2/schemas/{name}", as_="alpha")
    assert status == 200
    assert body["name"] == name
    if name == "image":
        assert "qcow2" in body["properties"]["disk_format"]["enum"]
        assert body["additionalProperties"] == {"type": "string"}


async def test_create_show_list_delete_and_tenants_never_see_each_other(any_cloud: Cloud) -> None:
    cloud = any_cloud
    made = await cloud.create("alpha", name="mine", tags=["a"], min_ram=64, os_distro="debian")
    assert made["status"] == "queued"
    assert made["visibility"] == "shared"
    assert made["owner"] == cloud.projects["alpha"]
    assert (made["tags"], made["min_ram"], made["os_distro"]) == (["a"], 64, "debian")
    status, shown = await cloud.call("GET", f"/v2/images/{made['id']}", as_="alpha")
    assert (status, shown["id"]) == (200, made["id"])
    # beta neither sees it nor can touch it: 404 everywhere, as for a missing image.
    for method, path in [("GET", ""), ("DELETE", ""), ("GET", "/file"), ("GET", "/members")]:
        status, body = await cloud.call(method, f"/v2/images/{made['id']}{path}", as_="beta")
        assert status == 404, (method, path, body)
        assert body["message"] == f"No image found with ID {made['id']}"
        assert body["code"] == "404 Not Found"
    status, body = await cloud.patch(made["id"], [{"op": "replace", "path": "/name", "value": "x"}],
                                     as_="beta")  # fmt: skip
    assert status == 404
    status, listed = await cloud.call("GET", "/v2/images", as_="beta")
    assert made["id"] not in {i["id"] for i in listed["images"]}
    status, listed = await cloud.call("GET", "/v2/images", as_="alpha")
    assert made["id"] in {i["id"] for i in listed["images"]}
    status, _ = await cloud.call("DELETE", f"/v2/images/{made['id']}", as_="alpha")
    assert status == 204
    status, _ = await cloud.call("GET", f"/v2/images/{made['id']}", as_="alpha")
    assert status == 404
    status, _ = await cloud.call("DELETE", f"/v2/images/{made['id']}", as_="alpha")
    assert status == 404


async def test_another_projects_private_image_is_a_404_even_for_its_data(cloud: Cloud) -> None:
    private = await cloud.create("alpha", visibility="private")
    await cloud.upload(private["id"], b"secret", as_="alpha")
    for path in ("", "/file", "/members", "/members/x"):
        status, fault = await cloud.call("GET", f"/v2/images/{private['id']}{path}", as_="beta")
        assert status == 404, (path, fault)
    status, _ = await cloud.call("PUT", f"/v2/images/{private['id']}/tags/mine", as_="beta")
    assert status == 404
    status, _ = await cloud.call(
        "POST", f"/v2/images/{private['id']}/actions/deactivate", as_="beta"
    )
    assert status == 404
    _, listed = await cloud.call("GET", "/v2/images?visibility=private", as_="beta")
    assert listed["images"] == []
    # an admin sees every image
    status, _ = await cloud.call("GET", f"/v2/images/{private['id']}", as_="admin")
    assert status == 200


async def test_a_chosen_id_is_kept_and_cannot_be_taken_twice(cloud: Cloud) -> None:
    ident = "0b3c3a8e-1f2b-4f5e-9a41-6a1d7c2b9e10"
    made = await cloud.create("alpha", id=ident)
    assert made["id"] == ident
    status, body = await cloud.call("POST", "/v2/images", as_="alpha", json={"id": ident})
    assert status == 409, body


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"disk_format": "floppy"}, 400),
        ({"container_format": "zip"}, 400),
        ({"visibility": "everyone"}, 400),
        ({"min_disk": -1}, 400),
        ({"min_ram": "lots"}, 400),
        ({"protected": "yes"}, 400),
        ({"tags": "not-a-list"}, 400),
        ({"tags": [""]}, 400),
        ({"name": "x" * 256}, 400),
        ({"id": "not-a-uuid"}, 400),
        ({"os_distro": 7}, 400),
        ({"status": "active"}, 403),
        ({"checksum": "abc"}, 403),
        ({"os_glance_import_task": "x"}, 403),
        ({"visibility": "public"}, 403),  # only admins publish
        (["a", "list"], 400),
    ],
)
async def test_bad_creates_are_refused(cloud: Cloud, body: Any, status: int) -> None:
    before = len(cloud.images.state.images)
    got, fault = await cloud.call("POST", "/v2/images", as_="alpha", json=body)
    assert got == status, fault
    assert fault["message"]
    assert len(cloud.images.state.images) == before


async def test_a_body_that_is_not_json_is_a_400(cloud: Cloud) -> None:
    status, fault = await cloud.call(
        "POST",
        "/v2/images",
        as_="alpha",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert status == 400, fault


async def test_only_admins_publish_and_anyone_may_see_public_images(cloud: Cloud) -> None:
    mine = await cloud.create("alpha", name="to-publish")
    status, _ = await cloud.patch(
        mine["id"], [{"op": "replace", "path": "/visibility", "value": "public"}], as_="alpha"
    )
    assert status == 403
    public = await cloud.create("admin", name="public-one", visibility="public")
    status, shown = await cloud.call("GET", f"/v2/images/{public['id']}", as_="beta")
    assert (status, shown["visibility"]) == (200, "public")
    # seen but not owned: a 403, not a 404
    status, _ = await cloud.call("DELETE", f"/v2/images/{public['id']}", as_="beta")
    assert status == 403
    status, _ = await cloud.patch(
        public["id"], [{"op": "replace", "path": "/name", "value": "mine now"}], as_="beta"
    )
    assert status == 403
    community = await cloud.create("alpha", name="community", visibility="community")
    status, _ = await cloud.call("GET", f"/v2/images/{community['id']}", as_="beta")
    assert status == 200
    _, listed = await cloud.call("GET", "/v2/images", as_="beta")
    assert community["id"] not in {i["id"] for i in listed["images"]}
    _, listed = await cloud.call("GET", "/v2/images?visibility=community", as_="beta")
    assert [i["id"] for i in listed["images"]] == [community["id"]]


async def test_patch_properties_and_tags(cloud: Cloud) -> None:
    made = await cloud.create("alpha", name="patched", tags=["one"], os_distro="debian")
    ops = [
        {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
        {"op": "replace", "path": "/os_distro", "value": "ubuntu"},
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/tags/-", "value": "two"},
        {"op": "replace", "path": "/min_disk", "value": 2},
        {"op": "replace", "path": "/protected", "value": True},
    ]
    status, body = await cloud.patch(made["id"], ops, as_="alpha")
    assert status == 200, body
    assert body["name"] == "renamed"
    assert (body["hw_disk_bus"], body["os_distro"]) == ("virtio", "ubuntu")
    assert (body["tags"], body["min_disk"], body["protected"]) == (["one", "two"], 2, True)
    status, body = await cloud.patch(
        made["id"], [{"op": "remove", "path": "/os_distro"}, {"op": "remove", "path": "/tags/0"}],
        as_="alpha",
    )  # fmt: skip
    assert status == 200, body
    assert "os_distro" not in body
    assert body["tags"] == ["two"]
    status, _ = await cloud.call("PUT", f"/v2/images/{made['id']}/tags/three", as_="alpha")
    assert status == 204
    status, _ = await cloud.call("DELETE", f"/v2/images/{made['id']}/tags/two", as_="alpha")
    assert status == 204
    status, _ = await cloud.call("DELETE", f"/v2/images/{made['id']}/tags/nope", as_="alpha")
    assert status == 404
    _, shown = await cloud.call("GET", f"/v2/images/{made['id']}", as_="alpha")
    assert shown["tags"] == ["three"]
    # protected: not deletable until unprotected
    status, fault = await cloud.call("DELETE", f"/v2/images/{made['id']}", as_="alpha")
    assert status == 403, fault
    await cloud.patch(
        made["id"], [{"op": "replace", "path": "/protected", "value": False}], as_="alpha"
    )
    status, _ = await cloud.call("DELETE", f"/v2/images/{made['id']}", as_="alpha")
    assert status == 204


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        ({"op": "add"}, 400),
        ([{"op": "move", "path": "/name", "from": "/x"}], 400),
        ([{"op": "add", "path": "name", "value": "x"}], 400),
        ([{"op": "add", "path": "/", "value": "x"}], 400),
        ([{"op": "add", "path": "/a/b", "value": "x"}], 400),
        ([{"op": "add", "path": "/name"}], 400),
        ([{"op": "replace", "path": "/disk_format", "value": "floppy"}], 400),
        ([{"op": "replace", "path": "/min_ram", "value": -5}], 400),
        ([{"op": "add", "path": "/tags/7", "value": "x"}], 400),
        ([{"op": "add", "path": "/tags/\u00b2", "value": "x"}], 400),
        (
            [
                {"op": "replace", "path": "/tags", "value": "abc"},
                {"op": "add", "path": "/tags/0", "value": "x"},
            ],
            400,
        ),
        (
            [
                {"op": "replace", "path": "/tags", "value": None},
                {"op": "remove", "path": "/tags/0"},
            ],
            400,
        ),
        ([{"op": "add", "path": "/custom", "value": 12}], 400),
        ([{"op": "add", "path": "/name", "value": "x", "extra": 1}], 400),
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "replace", "path": "/size", "value": 1}], 403),
        ([{"op": "remove", "path": "/protected"}], 403),
        ([{"op": "replace", "path": "/missing", "value": "x"}], 409),
        ([{"op": "remove", "path": "/missing"}], 409),
    ],
)
async def test_bad_patches_are_refused_and_change_nothing(
    cloud: Cloud, ops: Any, status: int
) -> None:
    made = await cloud.create("alpha", name="unchanged")
    got, fault = await cloud.patch(made["id"], ops, as_="alpha")
    assert got == status, fault
    _, shown = await cloud.call("GET", f"/v2/images/{made['id']}", as_="alpha")
    assert shown == made


async def test_patch_needs_the_json_patch_media_type(cloud: Cloud) -> None:
    made = await cloud.create("alpha")
    status, _ = await cloud.call(
        "PATCH", f"/v2/images/{made['id']}", as_="alpha", json=[{"op": "remove", "path": "/name"}]
    )
    assert status == 415
    status, _ = await cloud.call(
        "PATCH", f"/v2/images/{made['id']}", as_="alpha", data=b"[{",
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
    )  # fmt: skip
    assert status == 400


async def test_listing_pages_with_limit_marker_and_next(cloud: Cloud) -> None:
    made = [await cloud.create("alpha", name=f"page-{n}") for n in range(5)]
    seen: list[str] = []
    path = "/v2/images?limit=2&sort=name:asc"
    while path:
        status, body = await cloud.call("GET", path.removeprefix("/image"), as_="alpha")
        assert status == 200, body
        assert len(body["images"]) <= 2
        seen += [i["name"] for i in body["images"]]
        path = body.get("next", "")
    assert seen == [f"page-{n}" for n in range(5)]
    status, body = await cloud.call(
        "GET", f"/v2/images?marker={made[0]['id']}&sort_key=name&sort_dir=asc", as_="alpha"
    )
    assert [i["name"] for i in body["images"]] == [f"page-{n}" for n in range(1, 5)]
    # newest first by default
    _, body = await cloud.call("GET", "/v2/images", as_="alpha")
    assert [i["name"] for i in body["images"]] == [f"page-{n}" for n in reversed(range(5))]


@pytest.mark.parametrize(
    "query",
    ["limit=-1", "limit=x", "marker=00000000-0000-0000-0000-000000000000", "sort=nope:asc",
     "sort=name:sideways", "sort_key=name&sort_dir=up", "visibility=everyone",
     "member_status=maybe", "size_min=-3", "created_at=after:2020-01-01",
     "created_at=gt:yesterday", "sort=name&sort_key=name", "os_hidden=perhaps",
     "limit=\u00b2", "size_min=\u00b2", "size_max=\u00b2"],
)  # fmt: skip
async def test_bad_listing_queries_are_400s(cloud: Cloud, query: str) -> None:
    status, fault = await cloud.call("GET", f"/v2/images?{query}", as_="alpha")
    assert status == 400, fault


async def test_listing_filters(cloud: Cloud) -> None:
    small = await cloud.create("alpha", name="small", tags=["x", "y"], os_distro="debian")
    big = await cloud.create("alpha", name="big", tags=["x"], disk_format="qcow2")
    await cloud.create("alpha", name="hidden", os_hidden=True)
    await cloud.upload(small["id"], b"s" * 10, as_="alpha")
    await cloud.upload(big["id"], b"b" * 1000, as_="alpha")

    async def names(query: str) -> list[str]:
        status, body = await cloud.call("GET", f"/v2/images?sort=name:asc&{query}", as_="alpha")
        assert status == 200, body
        return [i["name"] for i in body["images"]]

    assert await names("") == ["big", "small"]
    assert await names("name=small") == ["small"]
    assert await names("name=in:small,big") == ["big", "small"]
    assert await names("tag=x") == ["big", "small"]
    assert await names("tag=x&tag=y") == ["small"]
    assert await names("size_min=100") == ["big"]
    assert await names("size_max=100") == ["small"]
    assert await names("disk_format=qcow2") == ["big"]
    assert await names("os_distro=debian") == ["small"]
    assert await names("status=active") == ["big", "small"]
    assert await names("status=queued") == []
    assert await names("os_hidden=true") == ["hidden"]
    assert await names(f"owner={cloud.projects['alpha']}") == ["big", "small"]
    assert await names("visibility=private") == []
    assert await names("created_at=gt:2000-01-01T00:00:00Z") == ["big", "small"]
    assert await names("updated_at=lt:2000-01-01T00:00:00Z") == []
    assert await names("sort=size:desc") == ["big", "small"]


async def test_member_flow_between_two_projects(any_cloud: Cloud) -> None:
    cloud = any_cloud
    image = await cloud.create("alpha", name="shared-one")
    beta = cloud.projects["beta"]
    members = f"/v2/images/{image['id']}/members"
    status, member = await cloud.call("POST", members, as_="alpha", json={"member": beta})
    assert status == 200, member
    assert (member["member_id"], member["status"]) == (beta, "pending")
    # beta can show it, but its default listing waits for an acceptance
    assert (await cloud.call("GET", f"/v2/images/{image['id']}", as_="beta"))[0] == 200
    _, listed = await cloud.call("GET", "/v2/images", as_="beta")
    assert image["id"] not in {i["id"] for i in listed["images"]}
    _, listed = await cloud.call("GET", "/v2/images?member_status=pending", as_="beta")
    assert image["id"] in {i["id"] for i in listed["images"]}
    # only beta decides for beta
    status, _ = await cloud.call(
        "PUT", f"{members}/{beta}", as_="alpha", json={"status": "accepted"}
    )
    assert status == 403
    status, member = await cloud.call(
        "PUT", f"{members}/{beta}", as_="beta", json={"status": "accepted"}
    )
    assert (status, member["status"]) == (200, "accepted")
    _, listed = await cloud.call("GET", "/v2/images?visibility=shared", as_="beta")
    assert [i["id"] for i in listed["images"]] == [image["id"]]
    _, listed = await cloud.call("GET", "/v2/images", as_="beta")
    assert image["id"] in {i["id"] for i in listed["images"]}
    # beta sees its own membership; it cannot share the image further or change it
    status, body = await cloud.call("GET", members, as_="beta")
    assert [m["member_id"] for m in body["members"]] == [beta]
    status, _ = await cloud.call(
        "POST", members, as_="beta", json={"member": cloud.projects["admin"]}
    )
    assert status == 403
    status, _ = await cloud.call("DELETE", f"/v2/images/{image['id']}", as_="beta")
    assert status == 403
    status, shown = await cloud.call("GET", f"{members}/{beta}", as_="alpha")
    assert (status, shown["status"]) == (200, "accepted")
    # rejected: gone from beta's listing again; removed: beta no longer sees it
    await cloud.call("PUT", f"{members}/{beta}", as_="beta", json={"status": "rejected"})
    _, listed = await cloud.call("GET", "/v2/images", as_="beta")
    assert image["id"] not in {i["id"] for i in listed["images"]}
    status, _ = await cloud.call("DELETE", f"{members}/{beta}", as_="alpha")
    assert status == 204
    assert (await cloud.call("GET", f"/v2/images/{image['id']}", as_="beta"))[0] == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"member": ""}, {"member": 12}, {"member": None}, {"member": "p", "status": "accepted"},
     ["p"], {"member": "x" * 300}],
)  # fmt: skip
async def test_bad_members_are_400s(cloud: Cloud, body: Any) -> None:
    image = await cloud.create("alpha")
    status, fault = await cloud.call(
        "POST", f"/v2/images/{image['id']}/members", as_="alpha", json=body
    )
    assert status == 400, fault
    assert cloud.images.get(image["id"]).members == {}


async def test_member_rules(cloud: Cloud) -> None:
    private = await cloud.create("alpha", visibility="private")
    beta = cloud.projects["beta"]
    status, _ = await cloud.call(
        "POST", f"/v2/images/{private['id']}/members", as_="alpha", json={"member": beta}
    )
    assert status == 403  # only shared images have members
    shared = await cloud.create("alpha")
    path = f"/v2/images/{shared['id']}/members"
    assert (await cloud.call("POST", path, as_="alpha", json={"member": beta}))[0] == 200
    assert (await cloud.call("POST", path, as_="alpha", json={"member": beta}))[0] == 409
    owner = cloud.projects["alpha"]
    assert (await cloud.call("POST", path, as_="alpha", json={"member": owner}))[0] == 400
    status, _ = await cloud.call("PUT", f"{path}/{beta}", as_="beta", json={"status": "maybe"})
    assert status == 400
    status, _ = await cloud.call("GET", f"{path}/nobody", as_="alpha")
    assert status == 404


async def test_deactivate_and_reactivate(cloud: Cloud) -> None:
    image = await cloud.create("alpha", visibility="community")
    status, _ = await cloud.call(
        "POST", f"/v2/images/{image['id']}/actions/deactivate", as_="alpha"
    )
    assert status == 403  # a queued image cannot be deactivated
    await cloud.upload(image["id"], b"data", as_="alpha")
    status, _ = await cloud.call(
        "POST", f"/v2/images/{image['id']}/actions/deactivate", as_="alpha"
    )
    assert status == 204
    _, shown = await cloud.call("GET", f"/v2/images/{image['id']}", as_="alpha")
    assert shown["status"] == "deactivated"
    status, _ = await cloud.call("GET", f"/v2/images/{image['id']}/file", as_="beta")
    assert status == 403
    status, data = await cloud.call("GET", f"/v2/images/{image['id']}/file", as_="admin")
    assert (status, data) == (200, b"data")
    status, _ = await cloud.call("POST", f"/v2/images/{image['id']}/actions/reactivate", as_="beta")
    assert status == 403
    status, _ = await cloud.call(
        "POST", f"/v2/images/{image['id']}/actions/reactivate", as_="alpha"
    )
    assert status == 204
    status, data = await cloud.call("GET", f"/v2/images/{image['id']}/file", as_="beta")
    assert (status, data) == (200, b"data")


async def test_without_a_token_it_is_a_401(cloud: Cloud) -> None:
    response = await cloud.client.get("/image/v2/images")
    assert response.status == 401
    response = await cloud.client.get("/image/v2/schemas/image")
    assert response.status == 401
    response = await cloud.client.get("/image/v2/images", headers={"X-Auth-Token": "bogus"})
    assert response.status == 401


async def test_a_reader_reads_but_does_not_write(cloud: Cloud) -> None:
    await cloud.add_project_user("gamma", role="reader")
    status, _ = await cloud.call("GET", "/v2/images", as_="gamma")
    assert status == 200
    status, fault = await cloud.call("POST", "/v2/images", as_="gamma", json={"name": "no"})
    assert status == 403, fault
    assert "image:add_image" in fault["message"]
    # an image of gamma's project, made by an admin: gamma sees it, cannot change it
    made = await cloud.create("admin", owner=cloud.projects["gamma"], name="theirs")
    assert made["owner"] == cloud.projects["gamma"]
    status, _ = await cloud.call("GET", f"/v2/images/{made['id']}", as_="gamma")
    assert status == 200
    status, _ = await cloud.patch(made["id"], [{"op": "remove", "path": "/name"}], as_="gamma")
    assert status == 403
    status, _ = await cloud.call("DELETE", f"/v2/images/{made['id']}", as_="gamma")
    assert status == 403


async def test_formats_change_only_while_the_image_is_queued(cloud: Cloud) -> None:
    image = await cloud.create("alpha")
    to_qcow2 = [{"op": "replace", "path": "/disk_format", "value": "qcow2"}]
    status, _ = await cloud.patch(image["id"], to_qcow2, as_="alpha")
    assert status == 200
    await cloud.upload(image["id"], b"data", as_="alpha")
    for ops in (
        [{"op": "replace", "path": "/disk_format", "value": "raw"}],
        [{"op": "replace", "path": "/container_format", "value": "ovf"}],
    ):
        status, fault = await cloud.patch(image["id"], ops, as_="alpha")
        assert status == 403, fault
    _, shown = await cloud.call("GET", f"/v2/images/{image['id']}", as_="alpha")
    assert (shown["disk_format"], shown["container_format"]) == ("qcow2", "bare")
    status, _ = await cloud.patch(
        image["id"], [{"op": "replace", "path": "/name", "value": "still-editable"}], as_="alpha"
    )
    assert status == 200


async def test_a_token_of_no_project_cannot_create_images(tmp_path: Path) -> None:
    """Images of no project would count on no quota: a domain-scoped member is refused."""
    async with running_cloud(settings_for(tmp_path, image_quota_images=1)) as cloud:
        user = (await cloud.identity("GET", "/users?name=alpha"))["users"][0]["id"]
        member = (await cloud.identity("GET", "/roles?name=member"))["roles"][0]["id"]
        await cloud.identity("PUT", f"/domains/default/users/{user}/roles/{member}")
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {
                "user": {"id": user, "password": USER_PASSWORD}}},
            "scope": {"domain": {"id": "default"}},
        }}  # fmt: skip
        response = await cloud.client.post("/identity/v3/auth/tokens", json=body)
        assert response.status == 201, await response.text()
        cloud.tokens["alpha-domain"] = response.headers["X-Subject-Token"]
        for _ in range(2):
            status, fault = await cloud.call(
                "POST", "/v2/images", as_="alpha-domain",
                json={"disk_format": "raw", "container_format": "bare"},
            )  # fmt: skip
            assert status == 403, fault
        assert cloud.images.state.images == {}


async def test_draft10_patches_name_the_operation_by_its_key(cloud: Cloud) -> None:
    """Tempest's client sends the v2.0 media type: ``{"replace": "/name", "value": ...}``."""
    made = await cloud.create("alpha", name="before")
    headers = {"Content-Type": "application/openstack-images-v2.0-json-patch"}
    ops = [{"replace": "/name", "value": "after"}, {"add": "/colour", "value": "blue"}]
    status, body = await cloud.call(
        "PATCH", f"/v2/images/{made['id']}", as_="alpha", data=jsonlib.dumps(ops), headers=headers
    )
    assert status == 200, body
    assert (body["name"], body["colour"]) == ("after", "blue")
    ops = [{"remove": "/colour"}]
    status, body = await cloud.call(
        "PATCH", f"/v2/images/{made['id']}", as_="alpha", data=jsonlib.dumps(ops), headers=headers
    )
    assert status == 200, body
    assert "colour" not in body
    for bad in ([{"replace": "/name", "add": "/x", "value": 1}], [{"value": 1}]):
        status, fault = await cloud.call(
            "PATCH", f"/v2/images/{made['id']}", as_="alpha", data=jsonlib.dumps(bad),
            headers=headers,
        )  # fmt: skip
        assert status == 400, fault


async def test_an_admin_gives_an_image_to_another_project(cloud: Cloud) -> None:
    made = await cloud.create("alpha", name="gift")
    await cloud.upload(made["id"], b"x" * 1000, as_="alpha")
    alpha, beta = cloud.projects["alpha"], cloud.projects["beta"]
    before = cloud.images.state.usage[alpha]
    status, fault = await cloud.patch(made["id"], [{"op": "replace", "path": "/owner",
                                                    "value": beta}], as_="alpha")  # fmt: skip
    assert status == 403, fault
    status, body = await cloud.patch(
        made["id"], [{"op": "replace", "path": "/owner", "value": beta},
                     {"op": "replace", "path": "/name", "value": "given"}],
    )  # fmt: skip
    assert status == 200, body
    assert (body["owner"], body["name"]) == (beta, "given")
    after = cloud.images.state.usage
    assert (after[alpha].images, after[alpha].bytes) == (before.images - 1, before.bytes - 1000)
    assert (after[beta].images, after[beta].bytes) == (1, 1000)
    status, _ = await cloud.call("GET", f"/v2/images/{made['id']}", as_="beta")
    assert status == 200
    for bad in ([{"op": "replace", "path": "/owner", "value": 5}],
                [{"op": "replace", "path": "/owner", "value": ""}]):  # fmt: skip
        status, _ = await cloud.patch(made["id"], bad)
        assert status == 400
