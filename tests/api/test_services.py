"""Services as data: validation, mounting under prefixes, and their contexts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from cairn.api import PREFIXES, Route, Service, ServiceRegistry, build_app, delete, get, put
from cairn.api.keys import SERVICE

from .conftest import MakeClient


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path, "service": request.app[SERVICE].name})


async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": []})


def test_a_known_service_gets_its_devstack_prefix() -> None:
    assert Service(name="compute", routes=()).prefix == "/compute"
    assert Service(name="network", routes=()).prefix == "/networking"
    assert Service(name="block-storage", routes=()).prefix == "/volume"
    assert set(PREFIXES.values()) >= {"/identity", "/image", "/object-store", "/events"}


@pytest.mark.parametrize("prefix", ["compute", "/compute/", "/", "/healthz"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="bad prefix"):
        Service(name="compute", prefix=prefix, routes=())


def test_an_unknown_service_needs_a_prefix() -> None:
    with pytest.raises(ValueError, match="no standard prefix"):
        Service(name="metering", routes=())


def test_routes_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown HTTP method"):
        Route("FETCH", "/x", hello)
    with pytest.raises(ValueError, match="start with '/'"):
        get("servers", hello)
    with pytest.raises(ValueError, match="twice"):
        Service(name="compute", routes=[get("/x", hello), get("/x", versions)])


def test_the_registry_refuses_duplicates_and_overlaps() -> None:
    registry = ServiceRegistry([Service(name="compute", routes=())])
    with pytest.raises(ValueError, match="twice"):
        registry.add(Service(name="compute", prefix="/other", routes=()))
    with pytest.raises(ValueError, match="overlaps"):
        registry.add(Service(name="nested", prefix="/compute/v2", routes=()))
    registry.add(Service(name="computer", prefix="/computer", routes=()))  # not an overlap
    assert [s.name for s in registry] == ["compute", "computer"]
    assert "compute" in registry
    assert registry["computer"].prefix == "/computer"
    assert len(registry) == 2


async def test_routes_are_relative_to_the_prefix(make_client: MakeClient) -> None:
    compute = Service(
        name="compute",
        routes=[
            get("", versions),
            get("/", versions),
            get("/v2.1/servers", hello),
            put("/v2.1/servers/{id}", hello),
            delete("/v2.1/servers/{id}", hello),
        ],
    )
    image = Service(name="image", routes=[get("/v2/images", hello)])
    client = await make_client(build_app([compute, image]))

    for path in ("/compute", "/compute/"):
        assert (await client.get(path)).status == 200
    response = await client.get("/compute/v2.1/servers")
    assert await response.json() == {"path": "/compute/v2.1/servers", "service": "compute"}
    response = await client.get("/image/v2/images")
    assert (await response.json())["service"] == "image"
    # GET routes answer HEAD; other methods only where declared.
    assert (await client.head("/image/v2/images")).status == 200
    response = await client.post("/compute/v2.1/servers/abc")
    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) == {"PUT", "DELETE"}
    # Routes do not leak outside their prefix.
    assert (await client.get("/v2.1/servers")).status == 404
    assert (await client.get("/image/v2.1/servers")).status == 404


async def test_contexts_start_after_and_stop_before_the_runtime_resources() -> None:
    order: list[str] = []

    def tracked(name: str):  # type: ignore[no-untyped-def]
        async def ctx(app: web.Application) -> AsyncIterator[None]:
            order.append(f"start {name}")
            yield
            order.append(f"stop {name}")

        return ctx

    compute = Service(name="compute", routes=(), contexts=[tracked("compute read model")])
    image = Service(name="image", routes=(), contexts=[tracked("image read model")])
    app = build_app([compute, image], contexts=[tracked("store"), tracked("bus")])
    runner = web.AppRunner(app)
    await runner.setup()
    await runner.cleanup()
    assert order == [
        "start store",
        "start bus",
        "start compute read model",
        "start image read model",
        "stop image read model",
        "stop compute read model",
        "stop bus",
        "stop store",
    ]


async def test_service_middlewares_see_only_their_service(make_client: MakeClient) -> None:
    seen: list[str] = []

    @web.middleware
    async def spy(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen.append(request.path)
        return await handler(request)

    compute = Service(name="compute", routes=[get("/x", hello)], middlewares=[spy])
    image = Service(name="image", routes=[get("/x", hello)])
    client = await make_client(build_app([compute, image]))
    await client.get("/compute/x")
    await client.get("/image/x")
    await client.get("/")
    assert seen == ["/compute/x"]
