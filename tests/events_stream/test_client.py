"""``cairn.stream.client.follow``: a follower that falls behind is cut off and
resumes by itself; the caller sees every event once, in order."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cairn.stream.client import Position, StreamRefused, follow
from tests.events_stream.conftest import StreamCloud, stream_cloud
from tests.events_stream.test_slow_consumer import append_gadgets


async def test_a_follower_cut_off_as_slow_resumes_by_itself(tmp_path: Path) -> None:
    async with stream_cloud(tmp_path, stream_buffer=64 * 1024) as cloud:
        connections = 0

        async def count(*_: Any) -> None:
            nonlocal connections
            connections += 1

        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(count)
        base = str(cloud.client.make_url("")).rstrip("/")
        position = Position("0")
        got: list[int] = []
        positions: list[int] = []
        async with aiohttp.ClientSession(trace_configs=[trace]) as session:
            follower = follow(base, cloud.admin_token, {"category": "gadget"}, position,
                              session=session)  # fmt: skip
            async with asyncio.timeout(60):
                positions += await append_gadgets(cloud.store, 1)
                got.append((await anext(follower))["position"])
                # The follower stops reading while the log grows well past its buffer.
                while cloud.hub.subscribers > 0:
                    positions += await append_gadgets(cloud.store, 10, filler="z" * 30_000)
                positions += await append_gadgets(cloud.store, 5)
                while len(got) < len(positions):
                    got.append((await anext(follower))["position"])
            await follower.aclose()
    assert got == positions
    assert connections >= 2
    assert position.value == str(positions[-1])


async def test_a_refusal_is_not_retried(cloud: StreamCloud) -> None:
    base = str(cloud.client.make_url("")).rstrip("/")
    with pytest.raises(StreamRefused, match="401"):
        async for _ in follow(base, "bogus", {}, Position(None)):
            pass
