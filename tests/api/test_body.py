"""read_json: every bad body is a 4xx fault (400, 413, 415), never a 500."""

from __future__ import annotations

import msgspec
import pytest
from aiohttp import web

from cairn.api import Service, build_app, post, read_json

from .conftest import MakeClient


class CreateServer(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    flavor_ref: str


async def create(request: web.Request) -> web.Response:
    body = await read_json(request, CreateServer)
    return web.json_response({"name": body.name}, status=202)


async def anything(request: web.Request) -> web.Response:
    return web.json_response({"got": await read_json(request)})


@pytest.fixture
async def client(make_client: MakeClient):  # type: ignore[no-untyped-def]
    service = Service(name="compute", routes=[post("/servers", create), post("/any", anything)])
    return await make_client(build_app([service], max_body=1024))


async def fault(response) -> tuple[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    [(name, detail)] = (await response.json()).items()
    return name, detail


async def test_a_valid_body_decodes_into_its_type(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/compute/servers", json={"name": "vm", "flavor_ref": "1"})
    assert response.status == 202
    assert await response.json() == {"name": "vm"}


async def test_no_content_type_means_json(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/compute/any", data=b"[1, 2]", skip_auto_headers=["Content-Type"])
    assert response.status == 200
    assert await response.json() == {"got": [1, 2]}
    response = await client.post("/compute/any", data=b"[3]", headers={"Content-Type": ""})
    assert await response.json() == {"got": [3]}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"   ", "empty"),
        (b'{"name": "vm"}', "flavor_ref"),
        (b'{"name": 5, "flavor_ref": "1"}', "$.name"),
        (b'{"name": "vm", "flavor_ref": "1", "extra": 1}', "extra"),
        (b"[]", "Invalid input"),
    ],
)
async def test_bad_bodies_are_bad_requests(client, body: bytes, words: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/compute/servers", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    name, detail = await fault(response)
    assert name == "badRequest"
    assert words in str(detail["message"])


async def test_another_media_type_is_bad_media_type(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/compute/servers", data=b"name=vm", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    name, detail = await fault(response)
    assert name == "badMediaType"
    assert "text/plain" in str(detail["message"])


async def test_a_json_suffix_media_type_is_json(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/compute/any",
        data=b'[{"op": "add"}]',
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch+json"},
    )
    assert response.status == 200


async def test_a_body_over_the_limit_is_over_limit(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/compute/any",
        data=b"[" + b"1," * 1000 + b"1]",
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    name, detail = await fault(response)
    assert name == "overLimit"
    assert detail["code"] == 413
    assert "1024" in str(detail["message"])
