"""Block storage benchmark: volume creates through the API, create-from-image next
to a plain copy of the image's file, snapshots next to qemu-img itself.

    python -m bench.volume [--volumes 400] [--clients 32] [--image-mib 1024] [--snapshots 5]

Starts ``cairn up`` in a subprocess (a fresh data directory, SQLite, no compute
host, no network agent, warnings only) and, as the demo project (its volume
quotas lifted by the admin):

1. ``--clients`` concurrent clients create ``--volumes`` empty 1 GiB volumes
   (each quota-checked on the project's stream in the same append as the
   request): creates/s for the POSTs, p50/p99 per POST, and the time until the
   agent has made every file (all ``available``).
2. A raw image of ``--image-mib`` MiB (random data in its first half, so it is
   neither empty nor all sparse) is uploaded, then a volume is created from it:
   POST to ``available``, next to ``cp`` of the same file and a
   ``qemu-img convert`` of it into qcow2 (what the agent does after its download).
3. ``--snapshots`` snapshots of that volume, POST to ``available``, next to
   ``qemu-img convert`` of the volume's file (the agent's copy).

A CPU reference (a 10M-iteration loop) is printed first. Figures only; nothing
is asserted. The volumes are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
import yaml

from bench.compute import cpu_reference, free_port
from bench.network import login, pct

BIN = Path(sys.executable).parent
MV = "volume 3.71"


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.base, self.token = session, base, token

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        service: str = "/volume/v3",
    ) -> Any:
        headers = {"X-Auth-Token": self.token, "OpenStack-API-Version": MV}
        if raw is not None:
            headers["Content-Type"] = "application/octet-stream"
        async with self.session.request(
            method, f"{self.base}{service}{path}", json=body, data=raw, headers=headers
        ) as response:
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            if response.content_type == "application/json":
                return await response.json()
            return None

    async def wait(self, path: str, key: str, status: str = "available") -> float:
        started = time.perf_counter()
        while True:
            found = (await self.call("GET", path))[key]
            if found["status"] == status:
                return time.perf_counter() - started
            if found["status"].startswith("error"):
                raise RuntimeError(f"{path} is {found['status']}")
            await asyncio.sleep(0.01)


async def creates(demo: Api, count: int, clients: int) -> list[str]:
    latencies: list[float] = []
    made: list[str] = []
    queue = list(range(count))

    async def client() -> None:
        while queue:
            queue.pop()
            started = time.perf_counter()
            body = await demo.call("POST", "/volumes", {"volume": {"size": 1}})
            latencies.append(time.perf_counter() - started)
            made.append(body["volume"]["id"])

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    while True:
        listed = (await demo.call("GET", "/volumes/detail?limit=1000"))["volumes"]
        if all(v["status"] == "available" for v in listed) and len(listed) >= count:
            break
        await asyncio.sleep(0.05)
    made_all = time.perf_counter() - started
    print(
        f"volume creates: {count} at {clients} clients: {count / elapsed:.0f}/s "
        f"(p50 {pct(latencies, 0.5) * 1000:.1f} ms, p99 {pct(latencies, 0.99) * 1000:.1f} ms); "
        f"all {count} files made {made_all:.2f} s after the first POST"
    )
    return made


def _timed(*argv: str) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - started


async def from_image(demo: Api, tmp: Path, mib: int) -> str:
    image = tmp / "image.raw"
    with image.open("wb") as f:
        f.truncate(mib * 1024 * 1024)
        f.seek(0)
        for _ in range(mib // 2):
            f.write(os.urandom(1024 * 1024))
    attributes = {"name": "bench", "disk_format": "raw", "container_format": "bare"}
    made = await demo.call("POST", "/v2/images", attributes, service="/image")
    await demo.call(
        "PUT", f"/v2/images/{made['id']}/file", raw=image.read_bytes(), service="/image"
    )
    gib = max(1, -(-mib // 1024))
    started = time.perf_counter()
    body = await demo.call("POST", "/volumes", {"volume": {"size": gib, "imageRef": made["id"]}})
    await demo.wait(f"/volumes/{body['volume']['id']}", "volume")
    took = time.perf_counter() - started
    copy = await asyncio.to_thread(_timed, "cp", str(image), str(tmp / "copy.raw"))
    convert = await asyncio.to_thread(
        _timed, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(image), str(tmp / "c.qcow2")
    )
    print(
        f"volume from a {mib} MiB image: {took:.2f} s from POST to available; "
        f"cp of the file {copy:.2f} s ({took / copy:.1f}x), qemu-img convert to qcow2 "
        f"{convert:.2f} s ({took / convert:.1f}x)"
    )
    return str(body["volume"]["id"])


async def snapshots(demo: Api, volume_id: str, pool: Path, count: int, tmp: Path) -> list[str]:
    times, made = [], []
    for _ in range(count):
        started = time.perf_counter()
        body = await demo.call("POST", "/snapshots", {"snapshot": {"volume_id": volume_id}})
        await demo.wait(f"/snapshots/{body['snapshot']['id']}", "snapshot")
        times.append(time.perf_counter() - started)
        made.append(body["snapshot"]["id"])
    source = pool / f"volume-{volume_id}"
    qemu = await asyncio.to_thread(
        _timed, "qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", str(source), str(tmp / "s")
    )
    print(
        f"snapshots of that volume: median {statistics.median(times):.2f} s POST to available "
        f"({count}); qemu-img convert of its file {qemu:.2f} s"
    )
    return made


def start(data: Path, port: int) -> subprocess.Popen[str]:
    options = ["--compute-hosts", "0", "--network-agent", "off", "--guest-dir", "none"]
    process = subprocess.Popen(
        [
            str(BIN / "cairn"),
            "up",
            "--data-dir",
            str(data),
            "--listen",
            f"127.0.0.1:{port}",
            *options,
            "--bcrypt-cost",
            "4",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "Cairn is up" not in line:
        process.kill()
        raise RuntimeError(f"cairn up did not start: {line!r}")
    return process


async def run(args: argparse.Namespace, base: str, data: Path, tmp: Path) -> None:
    clouds = yaml.safe_load((data / "clouds.yaml").read_text())["clouds"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        admin_token = await login(session, base, clouds["cairn-admin"])
        demo_token = await login(session, base, clouds["cairn-demo"])
        admin, demo = Api(session, base, admin_token), Api(session, base, demo_token)
        project = clouds["cairn-demo"]["auth"]["project_name"]
        listing = await admin.call("GET", f"?name={project}", service="/identity/v3/projects")
        project_id = listing["projects"][0]["id"]
        quotas = {"volumes": -1, "gigabytes": -1, "snapshots": -1}
        await admin.call("PUT", f"/os-quota-sets/{project_id}", {"quota_set": quotas})
        made = await creates(demo, args.volumes, args.clients)
        image_volume = await from_image(demo, tmp, args.image_mib)
        snaps = await snapshots(demo, image_volume, data / "volumes", args.snapshots, tmp)
        for snapshot_id in snaps:
            await demo.call("DELETE", f"/snapshots/{snapshot_id}")
        for volume_id in made:
            await demo.call("DELETE", f"/volumes/{volume_id}")


async def main(args: argparse.Namespace) -> None:
    print(f"CPU reference: {cpu_reference():.2f} s for a 10M-iteration loop")
    with tempfile.TemporaryDirectory(prefix="cairn-bench-volume-") as name:
        tmp = Path(name)
        data = tmp / "data"
        port = free_port()
        process = await asyncio.to_thread(start, data, port)
        try:
            await run(args, f"http://127.0.0.1:{port}", data, tmp)
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--volumes", type=int, default=400)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--image-mib", type=int, default=1024)
    parser.add_argument("--snapshots", type=int, default=5)
    uvloop.run(main(parser.parse_args()))
