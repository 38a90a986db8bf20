"""Domains, projects, users, groups, roles and assignments through the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.identity.conftest import Cloud


async def create(cloud: Cloud, kind: str, body: dict[str, Any], token: str | None = None) -> Any:
    status, answer = await cloud.call("POST", f"/{kind}s", token=token, json={kind: body})
    assert status == 201, answer
    return answer[kind]


async def test_project_create_list_show_update_delete(cloud: Cloud) -> None:
    project = await create(cloud, "project", {"name": "web", "description": "the web team"})
    assert project["domain_id"] == "default"
    assert project["enabled"] is True
    status, body = await cloud.call("GET", "/projects?name=web")
    assert [p["id"] for p in body["projects"]] == [project["id"]]
    status, body = await cloud.call("GET", f"/projects/{project['id']}")
    assert body["project"]["description"] == "the web team"
    status, body = await cloud.call(
        "PATCH", f"/projects/{project['id']}", json={"project": {"name": "www", "enabled": False}}
    )
    assert status == 200
    assert body["project"]["name"] == "www"
    assert not body["project"]["enabled"]
    # The old name is free again, the new one taken.
    await create(cloud, "project", {"name": "web"})
    status, body = await cloud.call("POST", "/projects", json={"project": {"name": "WWW"}})
    assert status == 409
    assert body["error"]["title"] == "Conflict"
    status, _ = await cloud.call("DELETE", f"/projects/{project['id']}")
    assert status == 204
    status, body = await cloud.call("GET", f"/projects/{project['id']}")
    assert status == 404
    assert body["error"]["message"].startswith("Could not find project")


async def test_concurrent_creates_of_one_name_make_one_project(cloud: Cloud) -> None:
    import asyncio

    results = await asyncio.gather(
        *(cloud.call("POST", "/projects", json={"project": {"name": "race"}}) for _ in range(5))
    )
    assert sorted(status for status, _ in results) == [201, 409, 409, 409, 409]
    _, body = await cloud.call("GET", "/projects?name=race")
    assert len(body["projects"]) == 1


async def test_domains(cloud: Cloud) -> None:
    domain = await create(cloud, "domain", {"name": "acme"})
    status, body = await cloud.call("GET", "/domains")
    assert {d["name"] for d in body["domains"]} == {"Default", "acme"}
    status, _ = await cloud.call("DELETE", f"/domains/{domain['id']}")
    assert status == 403  # enabled domains cannot be deleted
    status, _ = await cloud.call(
        "PATCH", f"/domains/{domain['id']}", json={"domain": {"enabled": False}}
    )
    assert status == 200
    status, _ = await cloud.call("DELETE", f"/domains/{domain['id']}")
    assert status == 204


async def test_a_new_user_with_a_role_logs_in(cloud: Cloud) -> None:
    project = await create(cloud, "project", {"name": "blue"})
    user = await create(
        cloud,
        "user",
        {"name": "bob", "password": "bob-pw-123", "default_project_id": project["id"]},
    )
    assert "password" not in user
    _, body = await cloud.call("GET", "/roles?name=member")
    [member] = body["roles"]
    path = f"/projects/{project['id']}/users/{user['id']}/roles/{member['id']}"
    assert (await cloud.call("PUT", path))[0] == 204
    assert (await cloud.call("PUT", path))[0] == 204  # idempotent
    assert (await cloud.call("HEAD", path))[0] == 204
    token = await cloud.token("bob", "bob-pw-123", "blue")
    _, body = await cloud.call("GET", "/auth/projects", token=token)
    assert [p["name"] for p in body["projects"]] == ["blue"]
    _, body = await cloud.call(
        "GET", f"/role_assignments?user.id={user['id']}&effective&include_names"
    )
    names = sorted(a["role"]["name"] for a in body["role_assignments"])
    assert names == ["member", "reader"]
    assert body["role_assignments"][0]["scope"]["project"]["name"] == "blue"
    assert (await cloud.call("DELETE", path))[0] == 204
    # Without a role on the project, its token no longer validates.
    assert (await cloud.call("GET", "/auth/projects", token=token))[0] == 401


async def test_group_roles_reach_members(cloud: Cloud) -> None:
    project = await create(cloud, "project", {"name": "green"})
    user = await create(cloud, "user", {"name": "carol", "password": "carol-pw-1"})
    group = await create(cloud, "group", {"name": "devs"})
    assert (await cloud.call("PUT", f"/groups/{group['id']}/users/{user['id']}"))[0] == 204
    _, body = await cloud.call("GET", "/roles?name=reader")
    reader = body["roles"][0]["id"]
    path = f"/projects/{project['id']}/groups/{group['id']}/roles/{reader}"
    assert (await cloud.call("PUT", path))[0] == 204
    token = await cloud.token("carol", "carol-pw-1", "green")
    assert (await cloud.call("GET", f"/projects/{project['id']}", token=token))[0] == 200
    _, body = await cloud.call("GET", f"/role_assignments?scope.project.id={project['id']}")
    assert [a["group"]["id"] for a in body["role_assignments"]] == [group["id"]]


async def test_implied_roles_are_listed(cloud: Cloud) -> None:
    status, body = await cloud.call("GET", "/role_inferences")
    assert status == 200
    pairs = {
        (r["prior_role"]["name"], i["name"]) for r in body["role_inferences"] for i in r["implies"]
    }
    assert pairs == {("admin", "manager"), ("manager", "member"), ("member", "reader")}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/projects", b"{"),
        ("POST", "/projects", b'{"project": {}}'),
        ("POST", "/projects", b'{"project": {"name": ""}}'),
        ("POST", "/projects", b'{"project": {"name": 7}}'),
        ("POST", "/projects", b'{"project": {"name": "x", "enabled": "yes"}}'),
        ("POST", "/users", b'{"user": {"name": "x", "password": 5}}'),
        ("POST", "/users", b'{"user": {"name": "' + b"x" * 300 + b'"}}'),
        ("POST", "/roles", b'{"role": null}'),
        ("POST", "/domains", b"[]"),
        ("POST", "/groups", b'{"group": {"name": ["a"]}}'),
        ("PATCH", "/projects/{admin}", b'{"project": {"enabled": 1}}'),
        ("PATCH", "/users/{admin_user}", b'{"user": {"name": null}}'),
        (
            "POST",
            "/endpoints",
            b'{"endpoint": {"interface": "nope", "url": "x", "service_id": "s"}}',
        ),
        ("POST", "/users/{admin_user}/password", b'{"user": {"password": "x"}}'),
    ],
)
async def test_malformed_input_is_400_and_changes_nothing(
    cloud: Cloud, method: str, path: str, body: bytes
) -> None:
    who = cloud.identity.validate(cloud.admin_token)
    path = path.format(admin=who.project_id, admin_user=who.user_id)
    head = await cloud.identity.store.head()
    response = await cloud.client.request(
        method, "/identity/v3" + path, data=body,
        headers={"X-Auth-Token": cloud.admin_token, "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["code"] == 400
    assert await cloud.identity.store.head() == head


async def test_catalog_services_endpoints_and_regions(cloud: Cloud) -> None:
    service = await create(cloud, "service", {"type": "dns", "name": "designate"})
    region = await create(cloud, "region", {"id": "RegionTwo"})
    endpoint = await create(cloud, "endpoint", {
        "service_id": service["id"], "interface": "public", "url": "http://dns.example/v2",
        "region_id": region["id"]})  # fmt: skip
    assert endpoint["region"] == "RegionTwo"
    token = await cloud.token("admin", "admin-s3cret", "admin")
    status, body = await cloud.call("GET", "/auth/catalog", token=token)
    assert any(s["type"] == "dns" for s in body["catalog"])
    status, body = await cloud.call(
        "PATCH", f"/endpoints/{endpoint['id']}", json={"endpoint": {"url": "http://dns2/v2"}}
    )
    assert status == 200
    assert body["endpoint"]["url"] == "http://dns2/v2"
    assert (await cloud.call("DELETE", f"/regions/{region['id']}"))[0] == 409  # in use
    assert (await cloud.call("DELETE", f"/endpoints/{endpoint['id']}"))[0] == 204
    assert (await cloud.call("DELETE", f"/regions/{region['id']}"))[0] == 204
    status, body = await cloud.call(
        "PATCH", f"/services/{service['id']}", json={"service": {"enabled": False}}
    )
    assert status == 200
    assert body["service"]["enabled"] is False
    assert (await cloud.call("DELETE", f"/services/{service['id']}"))[0] == 204
    _, body = await cloud.call("GET", "/services?type=dns")
    assert body["services"] == []


async def test_implied_roles_can_be_added_checked_and_removed(cloud: Cloud) -> None:
    prior = await create(cloud, "role", {"name": "operator"})
    _, body = await cloud.call("GET", "/roles?name=reader")
    reader = body["roles"][0]["id"]
    path = f"/roles/{prior['id']}/implies/{reader}"
    assert (await cloud.call("GET", path))[0] == 404
    assert (await cloud.call("PUT", path))[0] == 201
    status, body = await cloud.call("GET", path)
    assert status == 200
    assert body["role_inference"]["implies"]["name"] == "reader"
    assert (await cloud.call("DELETE", path))[0] == 204
    assert (await cloud.call("GET", path))[0] == 404


async def test_groups_are_renamed_and_their_names_stay_unique(cloud: Cloud) -> None:
    first = await create(cloud, "group", {"name": "ops"})
    await create(cloud, "group", {"name": "dev"})
    status, _ = await cloud.call("PATCH", f"/groups/{first['id']}", json={"group": {"name": "dev"}})
    assert status == 409
    status, body = await cloud.call(
        "PATCH", f"/groups/{first['id']}", json={"group": {"name": "sre"}}
    )
    assert status == 200
    assert body["group"]["name"] == "sre"
