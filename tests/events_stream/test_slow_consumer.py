"""A subscriber that stops reading is cut off at a position it was fully served
up to, told so, and resumes from there with nothing lost and nothing repeated;
meanwhile the platform and the other subscribers go on."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from cairn.events import registry
from cairn.store import StreamWrite
from cairn.store.sqlite import SQLiteEventStore
from cairn.stream import EventHub, Selection, Subscriber
from cairn.stream.subscriber import SLOW
from tests.conftest import fresh_pg_database
from tests.events_stream.conftest import (
    GadgetMade,
    StreamCloud,
    StreamReader,
    parse_sse,
    stream_cloud,
)
from tests.events_stream.test_stream import take


class MemorySink:
    """A connection whose reader is as slow as the test wants."""

    def __init__(self, kind: Any = "ws") -> None:
        self.kind = kind
        self.pending = bytearray()
        self.taken = bytearray()

    def write(self, wire: bytes) -> None:
        self.pending += wire

    def buffered(self) -> int:
        return len(self.pending)

    def closing(self) -> bool:
        return False

    def read_all(self) -> None:
        self.taken += self.pending
        self.pending.clear()


def ws_positions(raw: bytes) -> tuple[list[int], int]:
    """Event positions in a run of unmasked text frames, and the last frame's position."""
    positions, last, at = [], 0, 0
    while at < len(raw):
        length = raw[at + 1] & 0x7F
        at += 2
        if length == 126:
            length = int.from_bytes(raw[at : at + 2], "big")
            at += 2
        elif length == 127:
            length = int.from_bytes(raw[at : at + 8], "big")
            at += 8
        body = json.loads(raw[at : at + length])
        at += length
        positions += [e["position"] for e in body.get("events", [])]
        last = body["position"]
    return positions, last


async def append_gadgets(store: Any, count: int, filler: str = "") -> list[int]:
    positions = []
    for i in range(count):
        made = registry.new(GadgetMade(gadget_id=f"s{i}", filler=filler))
        positions.append((await store.append(StreamWrite(f"gadget-s{i}", [made]))).position)
    return positions


async def test_the_hub_cuts_off_a_full_buffer_at_a_served_position(tmp_path: Path) -> None:
    async with await SQLiteEventStore.open(tmp_path / "s.sqlite") as store:
        hub = EventHub(store, ring=50)
        await hub.start()
        try:
            slow, fast = MemorySink(), MemorySink()
            slow_sub = Subscriber(Selection(), slow, after=0, limit=3000)
            fast_sub = Subscriber(Selection(), fast, after=0, limit=3000)
            await hub.serve(slow_sub)
            await hub.serve(fast_sub)
            appending = asyncio.create_task(append_gadgets(store, 120, filler="x" * 100))
            async with asyncio.timeout(10):
                while not appending.done() or hub.position < appending.result()[-1]:
                    fast.read_all()  # this one keeps up
                    await asyncio.sleep(0.001)
            fast.read_all()
            positions = appending.result()
            assert slow_sub.finished
            assert slow_sub.ended.result() == SLOW
            assert not fast_sub.finished
            assert hub.subscribers == 1
            delivered, last = ws_positions(bytes(slow.pending))
            assert delivered == positions[: len(delivered)]
            assert last == slow_sub.position
            assert delivered[-1] == slow_sub.position < positions[-1]
            assert ws_positions(bytes(fast.taken))[0] == positions
            # Resuming from the position it was told: the rest, once each, from
            # the ring and then from the store (the ring holds the last 50-100).
            resumed = MemorySink()
            again = Subscriber(Selection(), resumed, after=slow_sub.position, limit=1 << 20)
            await hub.serve(again)
            assert ws_positions(bytes(resumed.pending))[0] == positions[len(delivered) :]
            early = MemorySink()
            await hub.serve(Subscriber(Selection(), early, after=0, limit=1 << 20))
            assert ws_positions(bytes(early.pending))[0] == positions
        finally:
            await hub.stop()


def raw_request(port: int, token: str, query: str, transport: str) -> socket.socket:
    """A client that sends its request and then does not read: a tiny receive
    buffer, so the server's side fills up fast."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    upgrade = (
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        if transport == "ws"
        else ""
    )
    sock.sendall(
        f"GET /events/v1/stream?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n{upgrade}"
        f"X-Auth-Token: {token}\r\n\r\n".encode()
    )
    return sock


def body_of(received: bytearray) -> bytes:
    return bytes(received).partition(b"\r\n\r\n")[2]


def dechunk(body: bytes) -> bytes:
    out, at = bytearray(), 0
    while at < len(body):
        end = body.index(b"\r\n", at)
        size = int(body[at:end], 16)
        if size == 0:
            break
        out += body[end + 2 : end + 2 + size]
        at = end + 2 + size + 2
    return bytes(out)


def ws_messages(raw: bytes, *, decode: bool = True) -> tuple[list[dict[str, Any]], bool]:
    """The text messages in a run of server frames (if ``decode``), and whether a
    close frame ended it."""
    messages, at = [], 0
    while at + 2 <= len(raw):
        opcode, length, header = raw[at] & 0x0F, raw[at + 1] & 0x7F, 2
        if length == 126:
            length, header = int.from_bytes(raw[at + 2 : at + 4], "big"), 4
        elif length == 127:
            length, header = int.from_bytes(raw[at + 2 : at + 10], "big"), 10
        if at + header + length > len(raw):
            break  # not all here yet
        payload = raw[at + header : at + header + length]
        at += header + length
        if opcode == 0x8:
            return messages, True
        if decode:
            messages.append(json.loads(payload))
    return messages, False


@pytest.mark.parametrize("transport", ["sse", "ws"])
@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_a_reader_that_stops_reading_is_cut_off_and_resumes(
    tmp_path: Path, store: str, transport: str
) -> None:
    if store == "sqlite":
        async with stream_cloud(tmp_path, stream_buffer=16 * 1024) as cloud:
            await _cut_off_and_resume(cloud, transport)
        return
    async with (
        fresh_pg_database() as dsn,
        stream_cloud(tmp_path, dsn, stream_buffer=16 * 1024) as cloud,
    ):
        await _cut_off_and_resume(cloud, transport)


async def _cut_off_and_resume(cloud: StreamCloud, transport: str) -> None:
    port = cloud.client.server.port
    assert port is not None
    sock = raw_request(port, cloud.admin_token, "from=0&category=gadget", transport)
    loop = asyncio.get_running_loop()
    positions: list[int] = []
    try:
        async with asyncio.timeout(60):
            while cloud.hub.subscribers == 0:  # noqa: ASYNC110 - until it is served live
                await asyncio.sleep(0.01)
            while cloud.hub.subscribers > 0 or not positions:
                positions += await append_gadgets(cloud.store, 10, filler="y" * 30_000)
            sock.setblocking(False)
            received = bytearray()
            while True:
                chunk = await loop.sock_recv(sock, 1 << 16)
                if not chunk:
                    break
                received += chunk
                if transport == "ws" and ws_messages(body_of(received), decode=False)[1]:
                    await loop.sock_sendall(sock, b"\x88\x80\x00\x00\x00\x00")  # close, in reply
    finally:
        sock.close()
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    if transport == "sse":
        assert head.startswith(b"HTTP/1.1 200")
        messages = parse_sse(dechunk(body).decode())
        closing = [json.loads(data) for name, _, data in messages if name == "closing"]
        delivered = [int(ident) for name, ident, _ in messages if name == "message" and ident]
    else:
        assert head.startswith(b"HTTP/1.1 101")
        frames, closed = ws_messages(body)
        assert closed
        closing = [m for m in frames if m["type"] == "closing"]
        delivered = [e["position"] for m in frames if m["type"] == "events" for e in m["events"]]
    assert len(closing) == 1
    assert closing[0]["reason"].startswith("slow consumer")
    reached = closing[0]["position"]
    assert delivered == positions[: len(delivered)]
    assert delivered[-1] <= reached < positions[-1]
    rest = [p for p in positions if p > reached]
    again = await take(StreamReader(cloud, "ws", category="gadget", **{"from": reached}), len(rest))
    assert [e["position"] for e in again] == rest


class BrokenSink(MemorySink):
    def write(self, wire: bytes) -> None:
        raise ConnectionResetError("gone")


async def test_a_broken_connection_costs_the_others_nothing(tmp_path: Path) -> None:
    async with await SQLiteEventStore.open(tmp_path / "b.sqlite") as store:
        hub = EventHub(store)
        await hub.start()
        try:
            broken, fine = BrokenSink(), MemorySink()
            lost = Subscriber(Selection(), broken, after=0, limit=1 << 20)
            kept = Subscriber(Selection(), fine, after=0, limit=1 << 20)
            await hub.serve(lost)
            await hub.serve(kept)
            positions = await append_gadgets(store, 5)
            async with asyncio.timeout(10):
                while ws_positions(bytes(fine.pending))[0] != positions:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            assert lost.finished
            assert hub.subscribers == 1
        finally:
            await hub.stop()
