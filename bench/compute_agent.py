"""Compute agent benchmark: spawns and deletes per second of the agent alone.

    python -m bench.compute_agent [--servers 500] [--hosts 2] [--concurrency 8] [--qemu 5]

Runs ``--hosts`` compute agents on libvirt's test driver in this process, on a
fresh SQLite store with the in-process bus and the outbox relay (as ``cairn
up`` does), with a tiny local qcow2 image (each spawn still makes its real
qcow2 overlay). Appends what the API and the scheduler would
(boot request + quota, claim + placement) for ``--servers`` servers spread over
the hosts, all at once, and measures from each placement's append to its
ServerSpawned; then the same for deletes (request to ServerDeleted). This is
the agent's share of the issue's request-to-ACTIVE figure, without HTTP, the
API's decisions or the scheduler.

Then ``--qemu`` real guests, one after the other, on ``qemu:///system`` (the
test guest of scripts/build-guest-image, direct kernel boot, after one boot
that fills the image cache): for each, placement to ServerSpawned, of which
the driver's spawn (qcow2 overlay, QEMU's define and start), and the rest, the
agent's own (feed, stream reads, appends); and when the guest printed
GUEST-UP. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import uvloop

from cairn import logs
from cairn.agents.compute import disk
from cairn.agents.compute.driver import GuestDefinition, GuestInfo
from cairn.agents.compute.images import ImageInfo
from cairn.agents.compute.images_local import LocalImageSource
from cairn.agents.compute.runtime import start_host
from cairn.bus.inprocess import InProcessBus
from cairn.bus.relay import OutboxRelay
from cairn.compute_hosts import host_options, libvirt_opener
from cairn.events import NO_STREAM, registry
from cairn.events import compute as ev
from cairn.store.port import EventStore, StreamWrite
from cairn.store.sqlite import SQLiteEventStore

IMAGE_ID = "00000000-0000-4000-8000-0000000be7c1"
FLAVOR = ev.FlavorSnapshot(flavor_id="1", name="m1.tiny", vcpus=1, ram_mb=128, disk_gb=1)


def cpu_reference() -> float:
    """Seconds for a 10M-iteration loop: how fast this machine is right now."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


async def boot(store: EventStore, host: str, server_id: str, image_id: str = IMAGE_ID) -> float:
    create = ev.ServerCreateRequested(
        server_id=server_id,
        project_id="bench",
        user_id="bench",
        name=server_id[:8],
        flavor=FLAVOR,
        image=ev.ImageSnapshot(image_id=image_id),
        created_at="2026-11-21T00:00:00Z",
    )
    await store.append(StreamWrite(f"server-{server_id}", [registry.new(create)], NO_STREAM))
    amounts = ev.ResourceAmounts(vcpus=1, memory_mb=128, disk_gb=1)
    claim = ev.HostResourcesClaimed(host=host, server_id=server_id, amounts=amounts)
    placed = ev.ServerScheduled(server_id=server_id, host=host)
    started = time.perf_counter()
    await store.append(
        StreamWrite(f"computehost-{host}", [registry.new(claim)]),
        StreamWrite(f"server-{server_id}", [registry.new(placed)]),
    )
    return started


class Watcher:
    """Follows the log once and notes when each server's events were committed
    (polling each server's stream would cost more than the agent's work)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.seen: dict[tuple[str, str], float] = {}
        self._changed = asyncio.Event()

    async def run(self) -> None:
        async for event in self.store.subscribe(after=await self.store.head()):
            if event.stream.startswith("server-"):
                self.seen[(event.stream[7:], event.type)] = time.perf_counter()
                self._changed.set()

    async def until(self, server_ids: list[str], event_type: str) -> list[float]:
        while not all((sid, event_type) in self.seen for sid in server_ids):
            self._changed.clear()
            await self._changed.wait()
        return [self.seen[(sid, event_type)] for sid in server_ids]


def report(what: str, count: int, elapsed: float, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{what:8} {count} in {elapsed:.2f} s: {count / elapsed:7.1f}/s   "
        f"p50 {statistics.median(ms):7.1f} ms   p99 {p99:7.1f} ms"
    )


async def main(servers: int, hosts: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cairn-bench-agent-") as tmp:
        data = Path(tmp)
        image = data / "tiny.qcow2"
        await disk.create(image, size_gb=1)
        images = LocalImageSource({})
        images.add(image, ImageInfo(id=IMAGE_ID, disk_format="qcow2"))
        names = [f"bench-{uuid.uuid4().hex[:6]}-{i}" for i in range(hosts)]
        async with await SQLiteEventStore.open(data / "cairn.sqlite") as store:
            bus = InProcessBus()
            relay = OutboxRelay(store, bus)
            relaying = asyncio.create_task(relay.run())
            running = [
                await start_host(
                    name,
                    open_driver=libvirt_opener("test:///default"),
                    hypervisor="test:///default",
                    data_dir=data,
                    store=store,
                    bus=bus,
                    images=images,
                    concurrency=concurrency,
                )
                for name in names
            ]
            watcher = Watcher(store)
            watching = asyncio.create_task(watcher.run())
            try:
                ids = [str(uuid.uuid4()) for _ in range(servers)]
                started = time.perf_counter()
                starts = await asyncio.gather(
                    *(boot(store, names[i % hosts], sid) for i, sid in enumerate(ids))
                )
                ends = await watcher.until(ids, "ServerSpawned")
                report("spawn", servers, time.perf_counter() - started, [
                    e - s for s, e in zip(starts, ends, strict=True)
                ])  # fmt: skip

                started = time.perf_counter()
                starts = []
                for i, sid in enumerate(ids):
                    request = ev.ServerDeleteRequested(server_id=sid, host=names[i % hosts])
                    starts.append(time.perf_counter())
                    await store.append(StreamWrite(f"server-{sid}", [registry.new(request)]))
                ends = await watcher.until(ids, "ServerDeleted")
                report("delete", servers, time.perf_counter() - started, [
                    e - s for s, e in zip(starts, ends, strict=True)
                ])  # fmt: skip
            finally:
                watching.cancel()
                for host in running:
                    await host.stop()
                await relay.stop()
                await relaying
                await bus.close()


async def qemu(count: int) -> None:
    """``count`` real boots on QEMU, one at a time: where the time goes."""
    from tests.agents.compute.cloud import IMAGE_ID as GUEST_IMAGE
    from tests.agents.compute.cloud import build_guest, guest_images

    with tempfile.TemporaryDirectory(prefix="cairn-bench-qemu-") as tmp:
        data = Path(tmp)
        images = guest_images(data / "images", *build_guest())
        host = f"bench-qemu-{uuid.uuid4().hex[:6]}"
        async with await SQLiteEventStore.open(data / "cairn.sqlite") as store:
            running = await start_host(
                host,
                open_driver=libvirt_opener("qemu:///system"),
                hypervisor="qemu:///system",
                data_dir=data,
                store=store,
                bus=None,
                images=images,
                **host_options("qemu:///system", {}),
            )
            driver = running.driver
            spawn_times: list[float] = []
            real_spawn = driver.spawn

            async def timed_spawn(definition: GuestDefinition) -> GuestInfo:
                started = time.perf_counter()
                try:
                    return await real_spawn(definition)
                finally:
                    spawn_times.append(time.perf_counter() - started)

            driver.spawn = timed_spawn  # type: ignore[method-assign]
            watcher = Watcher(store)
            watching = asyncio.create_task(watcher.run())
            ids = []
            try:
                for i in range(count + 1):
                    server_id = str(uuid.uuid4())
                    ids.append(server_id)
                    started = await boot(store, host, server_id, GUEST_IMAGE)
                    (spawned,) = await watcher.until([server_id], "ServerSpawned")
                    console = running.agent.ctx.config.paths.console_log(server_id)
                    while True:  # the console log is a file: poll it
                        if "GUEST-UP" in await asyncio.to_thread(_read, console):
                            break
                        await asyncio.sleep(0.05)
                    up = time.perf_counter()
                    if i == 0:
                        continue  # filled the image cache
                    total, own = spawned - started, spawn_times[-1]
                    print(
                        f"qemu {i}: placement to ACTIVE {total * 1000:6.0f} ms = driver spawn "
                        f"(overlay, define, start) {own * 1000:5.0f} ms + agent "
                        f"{(total - own) * 1000:4.0f} ms; "
                        f"GUEST-UP {up - spawned:.1f} s later"
                    )
                for server_id in ids:
                    request = ev.ServerDeleteRequested(server_id=server_id, host=host)
                    await store.append(StreamWrite(f"server-{server_id}", [registry.new(request)]))
                await watcher.until(ids, "ServerDeleted")
            finally:
                watching.cancel()
                await running.stop()


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=500, help="servers to boot (default: 500)")
    parser.add_argument("--hosts", type=int, default=2, help="compute hosts (default: 2)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="servers an agent works on at once (default: 8)"
    )
    parser.add_argument(
        "--qemu", type=int, default=5, help="real QEMU guests to boot, 0 for none (default: 5)"
    )
    args = parser.parse_args()
    logs.configure("warning")
    print(f"CPU reference before: {cpu_reference():.2f} s", file=sys.stderr)
    uvloop.run(main(args.servers, args.hosts, args.concurrency))
    if args.qemu:
        uvloop.run(qemu(args.qemu))
    print(f"CPU reference after: {cpu_reference():.2f} s", file=sys.stderr)


if __name__ == "__main__":
    cli()
