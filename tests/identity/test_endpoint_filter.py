"""OS-EP-FILTER: endpoint groups, project associations, and the catalog they shape."""

from __future__ import annotations

from typing import Any

from tests.identity.conftest import ADMIN_PASSWORD, Cloud

EP = "/OS-EP-FILTER"


async def made(cloud: Cloud, path: str, key: str, body: dict[str, Any]) -> Any:
    status, answer = await cloud.call("POST", path, json={key: body})
    assert status == 201, answer
    return answer[key]


async def catalog_ids(cloud: Cloud, project: str) -> set[str]:
    token = await cloud.token("admin", ADMIN_PASSWORD, project)
    _, body = await cloud.call("GET", "/auth/catalog", token=token)
    return {e["id"] for s in body["catalog"] for e in s["endpoints"]}


async def test_endpoint_groups_crud(cloud: Cloud) -> None:
    service = await made(cloud, "/services", "service", {"type": "thing"})
    group = await made(cloud, f"{EP}/endpoint_groups", "endpoint_group",
                       {"name": "g", "filters": {"service_id": service["id"]}})  # fmt: skip
    path = f"{EP}/endpoint_groups/{group['id']}"
    _, body = await cloud.call("GET", path)
    assert body["endpoint_group"]["filters"] == {"service_id": service["id"]}
    head = await cloud.client.head(
        "/identity/v3" + path, headers={"X-Auth-Token": cloud.admin_token}
    )
    assert head.status == 200
    status, body = await cloud.call("PATCH", path, json={"endpoint_group": {"name": "h"}})
    assert (status, body["endpoint_group"]["name"]) == (200, "h")
    _, body = await cloud.call("GET", f"{EP}/endpoint_groups")
    assert [g["id"] for g in body["endpoint_groups"]] == [group["id"]]
    bad = {"endpoint_group": {"name": "x", "filters": {"colour": "red"}}}
    assert (await cloud.call("POST", f"{EP}/endpoint_groups", json=bad))[0] == 400
    assert (await cloud.call("DELETE", path))[0] == 204
    assert (await cloud.call("GET", path))[0] == 404


async def test_associations_shape_the_projects_catalog(cloud: Cloud) -> None:
    # A second service beside identity (the only one this cloud serves).
    dns = await made(cloud, "/services", "service", {"type": "dns", "name": "designate"})
    endpoint = {"service_id": dns["id"], "interface": "public", "url": "http://dns.example/"}
    await made(cloud, "/endpoints", "endpoint", endpoint)
    every = await catalog_ids(cloud, "admin")
    _, projects = await cloud.call("GET", "/projects?name=admin")
    project_id = projects["projects"][0]["id"]
    _, endpoints = await cloud.call("GET", "/endpoints?interface=public")
    one, other = endpoints["endpoints"][0], endpoints["endpoints"][1]
    put = f"{EP}/projects/{project_id}/endpoints/{one['id']}"
    assert (await cloud.call("PUT", put))[0] == 204
    assert (await cloud.call("GET", put))[0] == 204
    assert await catalog_ids(cloud, "admin") == {one["id"]}
    group = await made(cloud, f"{EP}/endpoint_groups", "endpoint_group",
                       {"name": "g", "filters": {"service_id": other["service_id"]}})  # fmt: skip
    gput = f"{EP}/endpoint_groups/{group['id']}/projects/{project_id}"
    assert (await cloud.call("PUT", gput))[0] == 204
    _, shown = await cloud.call("GET", gput)
    assert shown["project"]["id"] == project_id
    of_service = {e["id"] for e in endpoints["endpoints"] if e["service_id"] == other["service_id"]}
    _, all_of_service = await cloud.call("GET", f"/endpoints?service_id={other['service_id']}")
    expected = {one["id"]} | {e["id"] for e in all_of_service["endpoints"]}
    assert of_service <= expected
    assert await catalog_ids(cloud, "admin") == expected & every
    _, body = await cloud.call("GET", f"{EP}/projects/{project_id}/endpoint_groups")
    assert [g["id"] for g in body["endpoint_groups"]] == [group["id"]]
    _, body = await cloud.call("GET", f"{EP}/endpoints/{one['id']}/projects")
    assert [p["id"] for p in body["projects"]] == [project_id]
    assert (await cloud.call("DELETE", gput))[0] == 204
    assert (await cloud.call("DELETE", put))[0] == 204
    assert (await cloud.call("DELETE", put))[0] == 404
    assert await catalog_ids(cloud, "admin") == every  # no association left: all of it
    status, _ = await cloud.call("PUT", f"{EP}/projects/nope/endpoints/{one['id']}")
    assert status == 404
