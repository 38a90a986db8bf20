"""The access log: one structured line per response, with the fields operators need."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from aiohttp import web

from cairn.api import REQUEST_ID_HEADER, Service, build_app, get

from .conftest import MakeClient, eventually


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="hello")


@pytest.fixture
async def client(make_client: MakeClient):  # type: ignore[no-untyped-def]
    return await make_client(build_app([Service(name="compute", routes=[get("/hello", hello)])]))


async def access_lines(logs: list[Any], count: int) -> list[dict[str, Any]]:
    """The first ``count`` access lines, once logged (after the response went out)."""

    def lines() -> list[dict[str, Any]]:
        found = [e for e in logs if e["event"] == "request"]
        return found if len(found) >= count else []

    found: list[dict[str, Any]] = await eventually(lines)
    return found


async def test_a_line_per_response_with_its_fields(client) -> None:  # type: ignore[no-untyped-def]
    with structlog.testing.capture_logs() as logs:
        ok = await client.get("/compute/hello?secret=1", headers={"User-Agent": "probe/1"})
        await ok.read()
        missing = await client.get("/nowhere")
        await missing.read()
        first, second = await access_lines(logs, 2)

    assert first["log_level"] == "info"
    assert first["method"] == "GET"
    assert first["path"] == "/compute/hello"  # the query string is left out
    assert first["status"] == 200
    assert first["request_id"] == ok.headers[REQUEST_ID_HEADER]
    assert first["user_agent"] == "probe/1"
    assert first["remote"] == "127.0.0.1"
    assert isinstance(first["duration_ms"], float)
    assert first["duration_ms"] >= 0
    # Bytes sent: the body and the headers.
    assert isinstance(first["bytes"], int)
    assert first["bytes"] > len("hello")

    assert second["path"] == "/nowhere"
    assert second["status"] == 404
    assert second["request_id"] == missing.headers[REQUEST_ID_HEADER]
    assert second["bytes"] > len(await missing.read())


async def test_log_lines_inside_a_request_carry_its_id(make_client: MakeClient) -> None:
    log = structlog.get_logger("test")

    async def chatty(request: web.Request) -> web.Response:
        log.info("working")
        return web.Response(text="done")

    client = await make_client(build_app([Service(name="compute", routes=[get("/x", chatty)])]))
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        response = await client.get("/compute/x")
    [working] = [e for e in logs if e["event"] == "working"]
    assert working["request_id"] == response.headers[REQUEST_ID_HEADER]
