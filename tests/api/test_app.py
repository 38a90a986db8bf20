"""The root application: the discovery document and /healthz."""

from __future__ import annotations

from aiohttp import web

import cairn
from cairn.api import HEALTH_CHECKS, Service, build_app, get

from .conftest import MakeClient


async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": []})


async def test_discovery_lists_the_mounted_services(make_client: MakeClient) -> None:
    services = [
        Service(name="identity", title="Identity (Keystone v3)", routes=[get("/", versions)]),
        Service(name="network", routes=[get("/", versions)]),
    ]
    client = await make_client(build_app(services))
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "application/json"
    base = str(client.make_url("")).rstrip("/")
    assert await response.json() == {
        "name": "Cairn",
        "version": cairn.__version__,
        "services": [
            {
                "name": "identity",
                "title": "Identity (Keystone v3)",
                "prefix": "/identity",
                "endpoint": f"{base}/identity",
            },
            {
                "name": "network",
                "title": "network",
                "prefix": "/networking",
                "endpoint": f"{base}/networking",
            },
        ],
        "links": [{"rel": "self", "href": f"{base}/"}],
    }
    # Each endpoint it lists answers.
    for service in (await response.json())["services"]:
        assert (await client.get(service["prefix"] + "/")).status == 200


async def test_discovery_uses_the_host_the_client_asked_for(make_client: MakeClient) -> None:
    client = await make_client(build_app([Service(name="compute", routes=())]))
    response = await client.get("/", headers={"Host": "cloud.example.org:8080"})
    body = await response.json()
    assert body["services"][0]["endpoint"] == "http://cloud.example.org:8080/compute"


async def test_healthz_runs_every_check(make_client: MakeClient) -> None:
    app = build_app()
    calls: list[str] = []

    async def store_check() -> None:
        calls.append("store")

    app[HEALTH_CHECKS]["store"] = store_check
    client = await make_client(app)
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "checks": ["store"]}
    assert calls == ["store"]


async def test_healthz_is_503_when_a_check_fails(make_client: MakeClient) -> None:
    app = build_app()

    async def broken() -> None:
        raise ConnectionRefusedError("database is down")

    app[HEALTH_CHECKS]["store"] = broken
    client = await make_client(app)
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["serviceUnavailable"]["code"] == 503
    assert "store: database is down" in body["serviceUnavailable"]["message"]
