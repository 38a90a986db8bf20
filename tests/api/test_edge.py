"""The edge: a request id on every response, a fault body for every error."""

from __future__ import annotations

import re
import uuid

import pytest
import structlog
from aiohttp import web

from cairn.api import (
    REQUEST_ID,
    REQUEST_ID_HEADER,
    HTTPFault,
    Service,
    build_app,
    get,
    post,
    read_json,
)
from cairn.store import StoreUnavailable

from .conftest import MakeClient

REQUEST_ID_RE = re.compile(
    r"^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"request_id": request[REQUEST_ID]})


async def crash(request: web.Request) -> web.Response:
    raise RuntimeError("secret-detail: password=hunter2")


async def echo(request: web.Request) -> web.Response:
    return web.json_response({"got": await read_json(request)})


async def missing(request: web.Request) -> web.Response:
    raise HTTPFault.not_found("Server abc could not be found.")


async def busy(request: web.Request) -> web.Response:
    raise HTTPFault(429, "Slow down.", headers={"Retry-After": "3"})


async def store_down(request: web.Request) -> web.Response:
    raise StoreUnavailable("connection refused")


async def aiohttp_conflict(request: web.Request) -> web.Response:
    raise web.HTTPConflict(text="Server abc is locked.")


async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"chunk")
    await response.write_eof()
    return response


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/elsewhere")


TEST = Service(
    name="test",
    prefix="/test",
    routes=[
        get("/ok", ok),
        get("/crash", crash),
        post("/echo", echo),
        get("/missing", missing),
        get("/busy", busy),
        get("/store-down", store_down),
        get("/conflict", aiohttp_conflict),
        get("/stream", stream),
        get("/redirect", redirect),
    ],
)


@pytest.fixture
async def client(make_client: MakeClient):  # type: ignore[no-untyped-def]
    return await make_client(build_app([TEST]))


def assert_fault(body: object, name: str, code: int) -> str:
    assert isinstance(body, dict)
    assert list(body) == [name], body
    assert body[name]["code"] == code
    message = body[name]["message"]
    assert isinstance(message, str)
    assert message
    return message


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/healthz", 200),
        ("GET", "/test/ok", 200),
        ("HEAD", "/test/ok", 200),
        ("GET", "/test/stream", 200),
        ("GET", "/nowhere", 404),
        ("GET", "/test/nowhere", 404),
        ("DELETE", "/test/ok", 405),
        ("POST", "/test/echo", 400),
        ("GET", "/test/crash", 500),
        ("GET", "/test/store-down", 503),
    ],
)
async def test_every_response_has_a_fresh_request_id(client, method, path, status) -> None:  # type: ignore[no-untyped-def]
    body, headers = (b"{", {"Content-Type": "application/json"}) if method == "POST" else (None, {})
    response = await client.request(method, path, data=body, headers=headers)
    assert response.status == status
    assert REQUEST_ID_RE.match(response.headers[REQUEST_ID_HEADER])


async def test_redirects_have_a_request_id_too(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/test/redirect", allow_redirects=False)
    assert response.status == 302
    assert REQUEST_ID_RE.match(response.headers[REQUEST_ID_HEADER])


async def test_the_handler_sees_the_id_it_sends_and_ids_are_unique(client) -> None:  # type: ignore[no-untyped-def]
    seen = set()
    for _ in range(3):
        response = await client.get("/test/ok")
        body = await response.json()
        assert body["request_id"] == response.headers[REQUEST_ID_HEADER]
        seen.add(body["request_id"])
    assert len(seen) == 3


async def test_a_request_id_sent_by_the_client_is_ignored(client) -> None:  # type: ignore[no-untyped-def]
    theirs = f"req-{uuid.uuid4()}"
    response = await client.get("/test/ok", headers={REQUEST_ID_HEADER: theirs})
    assert response.headers[REQUEST_ID_HEADER] != theirs
    assert (await response.json())["request_id"] != theirs


async def test_unknown_path_is_item_not_found(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/nowhere", "/test/nowhere", "/compute/v2.1/servers"):
        response = await client.get(path)
        assert response.status == 404
        assert response.content_type == "application/json"
        assert_fault(await response.json(), "itemNotFound", 404)


async def test_wrong_method_is_bad_method_with_allow(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/healthz")
    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD"}
    message = assert_fault(await response.json(), "badMethod", 405)
    assert "POST" in message


async def test_malformed_json_is_bad_request(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/test/echo", data=b'{"server": ', headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    message = assert_fault(await response.json(), "badRequest", 400)
    assert "not valid JSON" in message


async def test_an_unexpected_error_is_a_500_that_reveals_nothing(client) -> None:  # type: ignore[no-untyped-def]
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/test/crash")
        text = await response.text()
    assert response.status == 500
    message = assert_fault(await response.json(), "computeFault", 500)
    assert message == (
        "The server has either erred or is incapable of performing the requested operation."
    )
    for leak in ("secret-detail", "hunter2", "Traceback", "RuntimeError", "crash"):
        assert leak not in text
    # ... and the traceback went to the log, with the request id.
    [entry] = [e for e in logs if e["event"] == "unhandled error"]
    assert entry["log_level"] == "error"
    assert entry["exc_info"] is True
    assert entry["path"] == "/test/crash"
    assert structlog.contextvars.get_contextvars() == {}


async def test_faults_raised_by_handlers(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/test/missing")
    assert response.status == 404
    assert assert_fault(await response.json(), "itemNotFound", 404) == (
        "Server abc could not be found."
    )

    response = await client.get("/test/busy")
    assert response.status == 429
    assert response.headers["Retry-After"] == "3"
    assert_fault(await response.json(), "overLimit", 429)

    response = await client.get("/test/conflict")
    assert response.status == 409
    message = assert_fault(await response.json(), "conflictingRequest", 409)
    assert message == "Server abc is locked."


async def test_an_unavailable_store_is_service_unavailable(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/test/store-down")
    assert response.status == 503
    assert_fault(await response.json(), "serviceUnavailable", 503)


async def test_a_service_may_shape_its_own_faults(make_client: MakeClient) -> None:
    def keystone_style(status: int, message: str) -> dict[str, object]:
        return {"error": {"code": status, "message": message, "title": "Not Found"}}

    identity = Service(name="identity", routes=[get("/v3", ok)], fault_style=keystone_style)
    client = await make_client(build_app([identity]))
    response = await client.get("/identity/v3/nowhere")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == 404
    # Outside that service the default (Nova's) shape still applies.
    response = await client.get("/nowhere")
    assert "itemNotFound" in await response.json()


def test_a_fault_has_an_error_status() -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        HTTPFault(302)
