"""Identity benchmark: token validations, project lists and token issues per second.

    python -m bench.identity [--clients 16] [--seconds 20] [--cost 4] [--strong-cost 12]

Starts ``cairn up`` in a subprocess (a fresh data directory, SQLite, uvloop,
``--log-level warning`` so the access log does not dominate), then runs
``--clients`` concurrent HTTP clients for ``--seconds`` each on:

* ``GET /identity/v3/auth/tokens`` (validate a project token, with its catalog),
* ``GET /identity/v3/projects`` (an admin's authenticated list),
* ``POST /identity/v3/auth/tokens`` (password, project-scoped) at bcrypt cost
  ``--cost`` (DevStack's 4), then again on a second cloud at ``--strong-cost``.

Prints requests/s and p50/p99 latency per phase. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import uvloop
import yaml

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def cloud(cost: int, log_level: str) -> AsyncIterator[tuple[str, str]]:
    """A running ``cairn up``: its URL and the admin password."""
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
        port, data = free_port(), Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        process = await asyncio.create_subprocess_exec(
            str(BIN / "cairn"), "up", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
            "--bcrypt-cost", str(cost), "--log-level", log_level,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = (await process.stdout.readline()).decode()
            if not line.startswith("Cairn is up"):
                raise RuntimeError(f"cairn up did not start: {line!r}")
            clouds = yaml.safe_load((data / "clouds.yaml").read_text())
            yield f"http://127.0.0.1:{port}", clouds["clouds"]["cairn-admin"]["auth"]["password"]
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)


def password_body(password: str) -> bytes:
    return json.dumps(
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": "admin", "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
    ).encode()


class Connection:
    """A bare HTTP/1.1 keep-alive connection: far cheaper per request than a full
    client, so on a small machine the figures measure the server, not the load."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        return cls(*await asyncio.open_connection(host, int(port)))

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        match = _LENGTH.search(head)
        await self.reader.readexactly(int(match.group(1)) if match else 0)
        return int(head[9:12])

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


def http(method: str, base: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    host = base.removeprefix("http://")
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def run_phase(name: str, base: str, clients: int, seconds: float, request: bytes) -> None:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal errors
        connection = await Connection.open(base)
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                if await connection.send(request) >= 400:
                    errors += 1
                latencies.append(time.perf_counter() - started)
        finally:
            await connection.close()

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - began
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    rate = len(latencies) / elapsed
    print(f"{name:<46} {rate:>7.0f}/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
          f"({len(latencies)} requests, {errors} errors)", flush=True)  # fmt: skip


async def issue_token(base: str, password: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/identity/v3/auth/tokens",
            data=password_body(password),
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        assert response.status == 201, await response.text()
        return response.headers["X-Subject-Token"]


async def main(args: argparse.Namespace) -> None:
    print(f"identity bench: {args.clients} clients, {args.seconds:g} s per phase, "
          f"{os.cpu_count()} CPUs", flush=True)  # fmt: skip
    async with cloud(args.cost, args.log_level) as (base, password):
        admin, subject = await issue_token(base, password), await issue_token(base, password)
        headers = {"X-Auth-Token": admin, "X-Subject-Token": subject}
        validate = http("GET", base, "/identity/v3/auth/tokens", headers)
        await run_phase("token validations (GET /v3/auth/tokens)", base, args.clients,
                        args.seconds, validate)  # fmt: skip
        listing = http("GET", base, "/identity/v3/projects", {"X-Auth-Token": admin})
        await run_phase("project lists (GET /v3/projects)", base, args.clients, args.seconds,
                        listing)  # fmt: skip
        issue = http("POST", base, "/identity/v3/auth/tokens", {}, password_body(password))
        await run_phase(f"token issues (password, project; cost {args.cost})", base,
                        args.clients, args.seconds, issue)  # fmt: skip
    if args.strong_cost:
        async with cloud(args.strong_cost, args.log_level) as (base, password):
            issue = http("POST", base, "/identity/v3/auth/tokens", {}, password_body(password))
            await run_phase(f"token issues (password, project; cost {args.strong_cost})", base,
                            args.clients, args.seconds, issue)  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cost", type=int, default=4, help="bcrypt cost of the first cloud")
    parser.add_argument("--strong-cost", type=int, default=12, help="0 to skip the second cloud")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(main(parse()))
