"""How a subscription ends: its token revoked, the server shutting down. Each
time the subscriber is told where to resume."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cairn.api.events import stream
from tests.events_stream.conftest import StreamCloud, StreamReader, stream_cloud


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_a_revoked_token_ends_the_subscription(
    cloud: StreamCloud, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "RECHECK", 0.05)
    token = await cloud.token("admin", "admin-s3cret", "admin")
    reader = StreamReader(cloud, transport, token=token, category="gadget")
    controls: list[tuple[str, dict[str, Any]]] = []
    async with asyncio.timeout(10), reader.open() as messages:
        async for kind, body in messages:
            controls.append((kind, body))
            if kind == "subscribed":
                await cloud.gadgets(1, writer="before")
            elif kind == "event":
                headers = {"X-Auth-Token": cloud.admin_token, "X-Subject-Token": token}
                response = await cloud.client.delete("/identity/v3/auth/tokens", headers=headers)
                assert response.status == 204
            elif kind == "closing":
                break
    kinds = [kind for kind, _ in controls]
    assert kinds == ["subscribed", "event", "closing"]
    closing = controls[-1][1]
    assert closing["reason"] == stream.EXPIRED
    assert closing["position"] >= controls[1][1]["position"]


async def test_shutting_down_tells_subscribers_where_to_resume(tmp_path: Path) -> None:
    async with stream_cloud(tmp_path) as cloud:
        positions = await cloud.gadgets(2, writer="s")
        url = cloud.client.make_url("/events/v1/stream")
        got: list[dict[str, Any]] = []
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(
                url, params={"from": "0", "category": "gadget"},
                headers={"X-Auth-Token": cloud.admin_token},
            )  # fmt: skip
            async with asyncio.timeout(15):
                async for message in ws:
                    body = json.loads(message.data)
                    got.append(body)
                    if body["type"] == "events" and body["events"][-1]["position"] == positions[-1]:
                        closing = asyncio.create_task(cloud.client.server.close())
            await closing
            await ws.close()
    assert got[-1]["type"] == "closing"
    assert got[-1]["position"] >= positions[-1]
    assert "shutting down" in got[-1]["reason"]
    assert ws.close_code == 1001
