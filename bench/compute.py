"""Compute benchmark: boots and deletes per second through the HTTP API, and the
request-to-ACTIVE latency, on libvirt's test driver across several hosts.

    python -m bench.compute [--servers 1000] [--clients 32] [--hosts 4]

Starts a cloud in a subprocess (a fresh data directory, SQLite, uvloop, the
in-process bus, ``--hosts`` compute agents on ``test:///default``, ``--log-level
warning``): by default this module's own ``--serve`` mode, which is ``cairn up``
with the image service replaced by one in-memory image (the image service is
not in this tree yet); with ``--image ID`` plain ``cairn up`` and a real image.
The bench's flavor (1 vCPU, 16 MB, no disk) and the hosts' allocation ratios let
all ``--servers`` fit.

Then ``--clients`` concurrent clients boot ``--servers`` servers, each client
polling its server (every ``--poll`` seconds, 20 ms by default) until ACTIVE:
boots/s over the phase, p50/p99 from the POST to the first GET that shows
ACTIVE, and of the POST alone (the API's own share: validation, quota, append).
Then the same clients delete every server and poll until it is gone (404). A
CPU reference (a 10M-iteration loop) is printed before and after.

With ``--qemu N``, a second cloud (one host on ``qemu:///system``, the test
guest of ``scripts/build-guest-image``) boots N real guests one at a time and
prints, per guest, request-to-ACTIVE beside the agent's own spawn (qcow2
overlay, define, QEMU start; from the event log) and their difference, the
control plane's time. With ``--actions N``, N real guests go through a snapshot
(beside ``qemu-img convert`` of the same disk), a rebuild, and resizes with a
revert and a confirm (:mod:`bench.compute_actions`). Figures only; nothing is asserted.
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
from typing import Any

import uvloop
import yaml

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
IMAGE_ID = "00000000-0000-4000-8000-0000000be7c2"
KERNEL_ID = "00000000-0000-4000-8000-0000000be7c3"
RAMDISK_ID = "00000000-0000-4000-8000-0000000be7c4"


def cpu_reference() -> float:
    """Seconds for a 10M-iteration loop: how fast this machine is right now."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the cloud under test --------------------------------------------------------------


def serve(port: int, data: Path, hosts: int, qemu: bool) -> None:
    """``--serve``: what ``cairn up`` runs, with an in-memory image for the API and
    a tiny local qcow2 for the agents, and allocation ratios that fit the bench;
    with ``qemu``, one host on ``qemu:///system`` and the test guest (direct
    kernel boot from ``scripts/build-guest-image``'s kernel and initramfs)."""
    import subprocess

    from aiohttp import web

    from cairn import logs
    from cairn.agents.compute.images import ImageInfo
    from cairn.agents.compute.images_local import LocalImageSource
    from cairn.api import RUNNER_OPTIONS
    from cairn.api import build_app as build_api
    from cairn.api.compute import IMAGE_PORT
    from cairn.api.compute import SERVICE as COMPUTE_SERVICE
    from cairn.api.identity import SERVICE as IDENTITY_SERVICE
    from cairn.compute.images import MemoryImages
    from cairn.compute_hosts import compute_hosts_context
    from cairn.config import Listen, Settings
    from cairn.events import compute as ev
    from cairn.runtime import resource_contexts

    logs.configure(level="warning", fmt="console")
    data.mkdir(parents=True, exist_ok=True)
    root = data / "bench-root.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(root), "16M"], check=True)
    agent_images = LocalImageSource({})
    properties: dict[str, str] = {}
    if qemu:
        built = subprocess.run(
            [str(REPO / "scripts" / "build-guest-image")], capture_output=True, text=True,
            check=True,
        ).stdout.split()  # fmt: skip
        for image_id, path, disk_format in ((KERNEL_ID, built[0], "aki"),
                                            (RAMDISK_ID, built[1], "ari")):  # fmt: skip
            agent_images.add(Path(path), ImageInfo(id=image_id, disk_format=disk_format))
        properties = {"kernel_id": KERNEL_ID, "ramdisk_id": RAMDISK_ID,
                      "os_command_line": "console=ttyS0 quiet"}  # fmt: skip
    agent_images.add(
        root, ImageInfo(id=IMAGE_ID, name="bench", disk_format="qcow2", properties=properties)
    )
    settings = Settings(
        data_dir=data, listen=Listen("127.0.0.1", port), bcrypt_cost=4,
        hypervisor="qemu:///system" if qemu else "test:///default", compute_hosts=hosts,
        log_level="warning",
    )  # fmt: skip
    app = build_api([IDENTITY_SERVICE, COMPUTE_SERVICE], contexts=resource_contexts(settings))
    app.cleanup_ctx.append(
        compute_hosts_context(
            settings, images=agent_images, cpu_allocation_ratio=1000.0,
            ram_allocation_ratio=100.0, disk_allocation_ratio=100.0, concurrency=8,
        )
    )  # fmt: skip
    app[IMAGE_PORT] = MemoryImages(
        [ev.ImageSnapshot(image_id=IMAGE_ID, name="bench", properties=properties)]
    )

    async def run() -> None:
        runner = web.AppRunner(app, **RUNNER_OPTIONS)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print(f"Cairn is up at http://127.0.0.1:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    uvloop.run(run())


@asynccontextmanager
async def cloud(args: argparse.Namespace, qemu: bool = False) -> AsyncIterator[tuple[str, Path]]:
    """A running cloud: its URL and its data directory."""
    with tempfile.TemporaryDirectory(prefix="cairn-bench-compute-") as tmp:
        port, data = free_port(), (args.keep or Path(tmp)) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        if args.image:
            command = [str(BIN / "cairn"), "up", "--data-dir", str(data),
                       "--listen", f"127.0.0.1:{port}", "--bcrypt-cost", "4",
                       "--hypervisor", "test:///default", "--compute-hosts", str(args.hosts),
                       "--log-level", "warning"]  # fmt: skip
        else:
            command = [sys.executable, "-m", "bench.compute", "--serve", str(port),
                       "--data", str(data), "--hosts", "1" if qemu else str(args.hosts),
                       *(["--qemu", "1"] if qemu else [])]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
            if not line.startswith("Cairn is up"):
                raise RuntimeError(f"the cloud did not start: {line!r}")
            yield f"http://127.0.0.1:{port}", data
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)


# -- a cheap HTTP client ---------------------------------------------------------------

_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


class Connection:
    """A bare HTTP/1.1 keep-alive connection: on a 2-core machine a full client
    would cost more CPU than the server it measures."""

    def __init__(self, base: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.host = base.removeprefix("http://")
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> Connection:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        return cls(base, *await asyncio.open_connection(host, int(port)))

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}",
                 *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
        if payload:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        match = _LENGTH.search(head)
        raw = await self.reader.readexactly(int(match.group(1)) if match else 0)
        return int(head[9:12]), json.loads(raw) if raw else None

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def token(base: str, password: str) -> str:
    connection = await Connection.open(base)
    try:
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }}  # fmt: skip
        payload = json.dumps(body).encode()
        connection.writer.write(
            (f"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: {connection.host}\r\n"
             f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode()
            + payload
        )  # fmt: skip
        head = await connection.reader.readuntil(b"\r\n\r\n")
        match = _LENGTH.search(head)
        raw = await connection.reader.readexactly(int(match.group(1)) if match else 0)
        found = re.search(rb"(?i)\r\nx-subject-token: *([^\r]+)", head)
        if found is None:
            raise RuntimeError(f"no token: {head!r} {raw!r}")
        project: str = json.loads(raw)["token"]["project"]["id"]
        return found.group(1).decode() + " " + project
    finally:
        await connection.close()


# -- the phases -----------------------------------------------------------------------


def report(name: str, latencies: list[float], elapsed: float, errors: int) -> None:
    latencies.sort()
    if not latencies:
        print(f"{name}: nothing succeeded ({errors} errors)")
        return
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
    print(f"{name:<28} {len(latencies) / elapsed:>7.1f}/s   p50 {p50:7.1f} ms   "
          f"p99 {p99:7.1f} ms   ({len(latencies)} done in {elapsed:.1f} s, {errors} errors)",
          flush=True)  # fmt: skip


async def boots(
    base: str, headers: dict[str, str], servers: int, clients: int, image: str, poll: float
) -> list[str]:
    made: list[str] = []
    latencies: list[float] = []
    posts: list[float] = []
    errors = 0
    remaining = iter(range(servers))

    async def client() -> None:
        nonlocal errors
        connection = await Connection.open(base)
        try:
            for index in remaining:
                body = {"server": {"name": f"bench-{index}", "imageRef": image,
                                   "flavorRef": "bench.tiny", "networks": "none"}}  # fmt: skip
                started = time.perf_counter()
                status, answer = await connection.request(
                    "POST", "/compute/v2.1/servers", headers, body
                )
                posts.append(time.perf_counter() - started)
                if status != 202:
                    errors += 1
                    continue
                server_id = answer["server"]["id"]
                made.append(server_id)
                while True:
                    status, shown = await connection.request(
                        "GET", f"/compute/v2.1/servers/{server_id}", headers
                    )
                    state = shown["server"]["status"] if status == 200 else "?"
                    if state == "ACTIVE":
                        latencies.append(time.perf_counter() - started)
                        break
                    if state in ("ERROR", "?"):
                        errors += 1
                        break
                    await asyncio.sleep(poll)
        finally:
            await connection.close()

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - began
    report("boots (POST -> ACTIVE)", latencies, elapsed, errors)
    report("  of which the POST (202)", posts, elapsed, errors)
    return made


async def deletes(
    base: str, headers: dict[str, str], ids: list[str], clients: int, poll: float
) -> None:
    latencies: list[float] = []
    errors = 0
    remaining = iter(ids)

    async def client() -> None:
        nonlocal errors
        connection = await Connection.open(base)
        try:
            for server_id in remaining:
                started = time.perf_counter()
                status, _ = await connection.request(
                    "DELETE", f"/compute/v2.1/servers/{server_id}", headers
                )
                if status != 204:
                    errors += 1
                    continue
                while True:
                    status, _ = await connection.request(
                        "GET", f"/compute/v2.1/servers/{server_id}", headers
                    )
                    if status == 404:
                        latencies.append(time.perf_counter() - started)
                        break
                    await asyncio.sleep(poll)
        finally:
            await connection.close()

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    report("deletes (DELETE -> 404)", latencies, time.monotonic() - began, errors)


async def main(args: argparse.Namespace) -> None:
    print(f"compute bench: {args.servers} servers, {args.clients} clients, {args.hosts} hosts "
          f"on test:///default, {os.cpu_count()} CPUs", flush=True)  # fmt: skip
    print(f"CPU reference before: {cpu_reference():.2f} s", flush=True)
    if args.servers:
        async with cloud(args) as (base, data):
            headers = await prepare(base, data, args.hosts)
            image = args.image or IMAGE_ID
            ids = await boots(base, headers, args.servers, args.clients, image, args.poll)
            await deletes(base, headers, ids, args.clients, args.poll)
    if args.qemu:
        async with cloud(args, qemu=True) as (base, data):
            headers = await prepare(base, data, 1)
            await real_guests(base, headers, data, args.qemu)
    if args.actions:
        from bench.compute_actions import run as server_actions

        await server_actions(args.actions)
    print(f"CPU reference after: {cpu_reference():.2f} s", flush=True)


async def prepare(base: str, data: Path, hosts: int) -> dict[str, str]:
    """An admin token, no quota limits, the bench's flavor, every host registered."""
    clouds = yaml.safe_load((data / "clouds.yaml").read_text())
    admin, project = (
        await token(base, clouds["clouds"]["cairn-admin"]["auth"]["password"])
    ).split()
    headers = {"X-Auth-Token": admin, "OpenStack-API-Version": "compute 2.100"}
    setup = await Connection.open(base)
    try:
        unlimited = {"quota_set": {"instances": -1, "cores": -1, "ram": -1}}
        await setup.request("PUT", f"/compute/v2.1/os-quota-sets/{project}", headers, unlimited)
        flavor = {"name": "bench.tiny", "id": "bench.tiny", "ram": 16, "vcpus": 1, "disk": 0}
        await setup.request("POST", "/compute/v2.1/flavors", headers, {"flavor": flavor})
        for _ in range(400):
            status, found = await setup.request("GET", "/compute/v2.1/os-hypervisors", headers)
            if status == 200 and len(found["hypervisors"]) >= hosts:
                break
            await asyncio.sleep(0.05)
    finally:
        await setup.close()
    return headers


async def real_guests(base: str, headers: dict[str, str], data: Path, count: int) -> None:
    """``count`` real guests (m1.nano, one at a time): request to ACTIVE, beside the
    agent's own spawn (qcow2 overlay, define, QEMU start) read from the event log."""
    from cairn.events import compute as ev
    from cairn.events import registry
    from cairn.store.sqlite import SQLiteEventStore

    connection = await Connection.open(base)
    totals: list[float] = []
    ids: list[str] = []
    try:
        for index in range(count):
            body = {"server": {"name": f"qemu-{index}", "imageRef": IMAGE_ID,
                               "flavorRef": "42", "networks": "none"}}  # fmt: skip
            started = time.perf_counter()
            status, answer = await connection.request(
                "POST", "/compute/v2.1/servers", headers, body
            )
            if status != 202:
                raise RuntimeError(f"boot refused: {status} {answer}")
            server_id = answer["server"]["id"]
            ids.append(server_id)
            while True:
                status, shown = await connection.request(
                    "GET", f"/compute/v2.1/servers/{server_id}", headers
                )
                if shown["server"]["status"] == "ACTIVE":
                    break
                if shown["server"]["status"] == "ERROR":
                    raise RuntimeError(f"boot failed: {shown['server'].get('fault')}")
                await asyncio.sleep(0.005)
            totals.append(time.perf_counter() - started)
        async with await SQLiteEventStore.open(data / "cairn.sqlite") as store:
            spawns = []
            for server_id in ids:
                began = done = None
                for recorded in await store.read_stream(f"server-{server_id}"):
                    event = registry.decode(recorded)
                    if isinstance(event, ev.ServerSpawnStarted):
                        began = recorded.recorded_at
                    elif isinstance(event, ev.ServerSpawned) and began is not None:
                        done = recorded.recorded_at
                if began is not None and done is not None:
                    spawns.append((done - began).total_seconds())
        # Delete them, and wait until they are gone: no guest outlives the bench.
        for server_id in ids:
            await connection.request("DELETE", f"/compute/v2.1/servers/{server_id}", headers)
        for server_id in ids:
            for _ in range(6000):
                status, _ = await connection.request(
                    "GET", f"/compute/v2.1/servers/{server_id}", headers
                )
                if status == 404:
                    break
                await asyncio.sleep(0.01)
    finally:
        await connection.close()
    for index, total in enumerate(totals):
        spawn = spawns[index] if index < len(spawns) else float("nan")
        print(f"real guest {index + 1}: request -> ACTIVE {total * 1000:7.1f} ms, of which the "
              f"agent's spawn (overlay, define, QEMU start) {spawn * 1000:7.1f} ms: "
              f"control plane {(total - spawn) * 1000:6.1f} ms", flush=True)  # fmt: skip
    if totals and spawns:
        overhead = statistics.median(t - s for t, s in zip(totals, spawns, strict=False))
        print(f"real guests: p50 control-plane time on top of the spawn {overhead * 1000:.1f} ms",
              flush=True)  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between polls")
    parser.add_argument("--image", help="boot this image through plain cairn up and the "
                        "image service (default: the bench's own in-memory image)")  # fmt: skip
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the cloud's data (its event log) in DIR")  # fmt: skip
    parser.add_argument("--qemu", type=int, default=0, metavar="N",
                        help="then boot N real QEMU guests, one at a time")  # fmt: skip
    parser.add_argument("--actions", type=int, default=0, metavar="N",
                        help="then N real guests through snapshot, rebuild and resize "
                        "(bench/compute_actions.py)")  # fmt: skip
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.serve:
        serve(arguments.serve, arguments.data, arguments.hosts, bool(arguments.qemu))
    else:
        uvloop.run(main(arguments))
