"""The service catalog lists the services mounted in the process, and only those."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from cairn.api import RUNNER_OPTIONS
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.api.services import CatalogEntry, Service, get
from cairn.runtime import build_app
from tests.identity.conftest import ADMIN_PASSWORD, Cloud, settings_for


async def _swift_info(request: web.Request) -> web.Response:
    return web.json_response({"swift": {"version": "test"}})


#: A service that registers itself with a per-project catalog path, as an
#: object store does; it answers the path its catalog entry names.
OBJECTS = Service(
    name="object-store",
    routes=[get("/v1/{account}", _swift_info)],
    catalog=[CatalogEntry("object-store", "swift", "/v1/AUTH_$(project_id)s")],
)


async def _start(tmp_path: Path, services: list[Service]) -> Cloud:
    server = TestServer(build_app(settings_for(tmp_path), services=services))
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    cloud = Cloud(client, "")
    cloud.admin_token = await cloud.token("admin", ADMIN_PASSWORD, "admin")
    return cloud


async def _catalog(cloud: Cloud) -> dict[str, str]:
    """type -> public URL, from the catalog of a project-scoped token."""
    response = await cloud.client.get(
        "/identity/v3/auth/tokens",
        headers={"X-Auth-Token": cloud.admin_token, "X-Subject-Token": cloud.admin_token},
    )
    token = (await response.json())["token"]
    return {
        s["type"]: next(e["url"] for e in s["endpoints"] if e["interface"] == "public")
        for s in token["catalog"]
    }


async def test_the_catalog_lists_only_mounted_services(tmp_path: Path) -> None:
    cloud = await _start(tmp_path, [IDENTITY_SERVICE])
    try:
        assert set(await _catalog(cloud)) == {"identity"}
    finally:
        await cloud.client.close()


async def test_a_service_appears_by_registering_itself_and_its_url_answers(
    tmp_path: Path,
) -> None:
    cloud = await _start(tmp_path, [IDENTITY_SERVICE, OBJECTS])
    try:
        catalog = await _catalog(cloud)
        assert set(catalog) == {"identity", "object-store"}
        _, body = await cloud.call("GET", "/auth/projects")
        admin = next(p["id"] for p in body["projects"] if p["name"] == "admin")
        url = URL(catalog["object-store"])
        assert url.path == f"/object-store/v1/AUTH_{admin}"
        response = await cloud.client.get(url.path)
        assert response.status == 200
    finally:
        await cloud.client.close()


async def test_a_service_no_longer_served_leaves_the_catalog_an_operators_entry_stays(
    tmp_path: Path,
) -> None:
    cloud = await _start(tmp_path, [IDENTITY_SERVICE, OBJECTS])
    try:
        # An operator's own entries: a DNS service and an object store elsewhere.
        for kind, url in (
            ("dns", "http://dns.example/v2"),
            ("object-store", "http://s.example/v1"),
        ):
            status, body = await cloud.call(
                "POST", "/services", json={"service": {"type": kind, "name": kind}}
            )
            assert status == 201
            status, _ = await cloud.call(
                "POST",
                "/endpoints",
                json={
                    "endpoint": {
                        "service_id": body["service"]["id"],
                        "interface": "public",
                        "url": url,
                        "region_id": "RegionOne",
                    }
                },
            )
            assert status == 201
    finally:
        await cloud.client.close()
    again = await _start(tmp_path, [IDENTITY_SERVICE])
    try:
        catalog = await _catalog(again)
        assert catalog == {
            "identity": catalog["identity"],
            "dns": "http://dns.example/v2",
            "object-store": "http://s.example/v1",
        }
        _, services = await again.call("GET", "/services")
        assert sorted(s["type"] for s in services["services"]) == [
            "dns",
            "identity",
            "object-store",
        ]
    finally:
        await again.client.close()
