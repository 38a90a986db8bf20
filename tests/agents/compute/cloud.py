"""A control plane in miniature for agent tests: it appends what the API and the
scheduler would (boot requests, claims, placements, actions, deletes) straight
to a real store, relays the log to a real bus, and waits for the agent's answers."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cairn.agents.compute.images import ImageInfo
from cairn.agents.compute.images_local import LocalImageSource
from cairn.bus.inprocess import InProcessBus
from cairn.bus.port import Bus
from cairn.bus.relay import OutboxRelay
from cairn.events import NO_STREAM, DomainEvent, Metadata, RecordedEvent, registry
from cairn.events import compute as ev
from cairn.store.port import EventStore, StreamWrite

REPO = Path(__file__).resolve().parents[3]
KERNEL_ID = "00000000-0000-4000-8000-00000000a1a1"
RAMDISK_ID = "00000000-0000-4000-8000-00000000a2a2"
IMAGE_ID = "00000000-0000-4000-8000-00000000a3a3"
PROJECT = "project-" + uuid.uuid4().hex[:8]
TINY = ev.FlavorSnapshot(flavor_id="1", name="m1.tiny", vcpus=1, ram_mb=128, disk_gb=1)


def build_guest() -> tuple[Path, Path]:
    result = subprocess.run(
        [REPO / "scripts" / "build-guest-image"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/build-guest-image failed:\n{result.stderr}")
    kernel, initramfs = result.stdout.split()
    return Path(kernel), Path(initramfs)


def guest_images(directory: Path, kernel: Path, initramfs: Path) -> LocalImageSource:
    """The test guest as the image service would hold it: an aki + ari pair and a
    small qcow2 root image whose properties name them (direct kernel boot)."""
    directory.mkdir(parents=True, exist_ok=True)
    root = directory / "root.qcow2"
    if not root.exists():
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(root), "64M"], check=True)
    source = LocalImageSource({})
    source.add(kernel, ImageInfo(id=KERNEL_ID, name="guest-kernel", disk_format="aki"))
    source.add(initramfs, ImageInfo(id=RAMDISK_ID, name="guest-ramdisk", disk_format="ari"))
    source.add(
        root,
        ImageInfo(
            id=IMAGE_ID,
            name="cairn-guest",
            disk_format="qcow2",
            properties={
                "kernel_id": KERNEL_ID,
                "ramdisk_id": RAMDISK_ID,
                "os_command_line": "console=ttyS0 quiet",
            },
        ),
    )
    return source


def image_snapshot(image_id: str = IMAGE_ID, **properties: str) -> ev.ImageSnapshot:
    return ev.ImageSnapshot(image_id=image_id, name="cairn-guest", properties=properties)


@dataclass
class Cloud:
    store: EventStore
    bus: Bus | None
    request_ids: dict[str, str] = field(default_factory=dict)

    def meta(self, server_id: str) -> Metadata:
        request_id = self.request_ids.setdefault(server_id, f"req-{uuid.uuid4()}")
        return Metadata(request_id=request_id, user_id="user-1", project_id=PROJECT)

    async def append(self, stream: str, *events: DomainEvent, expected: int = -1) -> None:
        request = self.meta(stream.removeprefix("server-"))
        await self.store.append(
            StreamWrite(stream, [registry.new(e, request) for e in events], expected)
        )

    async def request_boot(
        self,
        host: str,
        *,
        flavor: ev.FlavorSnapshot = TINY,
        image: ev.ImageSnapshot | None = None,
        server_id: str | None = None,
    ) -> str:
        """Boot request + quota, then the scheduler's claim + placement on ``host``."""
        server_id = server_id or str(uuid.uuid4())
        meta = self.meta(server_id)
        create = ev.ServerCreateRequested(
            server_id=server_id,
            project_id=PROJECT,
            user_id="user-1",
            name=f"vm-{server_id[:8]}",
            flavor=flavor,
            image=image or image_snapshot(),
            created_at="2026-11-21T12:00:00Z",
        )
        quota = ev.ComputeQuotaConsumed(
            project_id=PROJECT, server_id=server_id, instances=1, cores=1, ram_mb=flavor.ram_mb
        )
        await self.store.append(
            StreamWrite(f"server-{server_id}", [registry.new(create, meta)], NO_STREAM),
            StreamWrite(f"computequota-{PROJECT}", [registry.new(quota, meta)]),
        )
        await self.schedule(host, server_id, flavor)
        return server_id

    async def schedule(
        self, host: str, server_id: str, flavor: ev.FlavorSnapshot = TINY, attempt: int = 1
    ) -> None:
        meta = self.meta(server_id)
        amounts = ev.ResourceAmounts(
            vcpus=flavor.vcpus, memory_mb=flavor.ram_mb, disk_gb=flavor.disk_gb
        )
        claim = ev.HostResourcesClaimed(host=host, server_id=server_id, amounts=amounts)
        placed = ev.ServerScheduled(server_id=server_id, host=host, attempt=attempt)
        await self.store.append(
            StreamWrite(f"computehost-{host}", [registry.new(claim, meta)]),
            StreamWrite(f"server-{server_id}", [registry.new(placed, meta)]),
        )

    async def act(
        self, host: str, server_id: str, action: str, reboot_type: str | None = None
    ) -> None:
        await self.append(
            f"server-{server_id}",
            ev.ServerActionRequested(
                server_id=server_id, host=host, action=action, reboot_type=reboot_type
            ),
        )

    async def delete(self, host: str | None, server_id: str) -> None:
        await self.append(
            f"server-{server_id}", ev.ServerDeleteRequested(server_id=server_id, host=host)
        )

    async def events(self, stream: str) -> list[RecordedEvent]:
        return await self.store.read_stream(stream)

    async def types(self, stream: str) -> list[str]:
        return [e.type for e in await self.events(stream)]

    async def wait_for(
        self, stream: str, event_type: str, *, count: int = 1, timeout: float = 30.0
    ) -> list[RecordedEvent]:
        """The stream's events once it holds ``count`` events of ``event_type``."""
        deadline = time.monotonic() + timeout
        while True:
            events = await self.events(stream)
            if sum(e.type == event_type for e in events) >= count:
                return events
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{stream} has no {count} x {event_type} after {timeout}s: "
                    f"{[e.type for e in events]}"
                )
            await asyncio.sleep(0.05)

    async def claims(self, host: str) -> set[str]:
        holding: set[str] = set()
        for recorded in await self.events(f"computehost-{host}"):
            event = registry.decode(recorded)
            if isinstance(event, ev.HostResourcesClaimed):
                holding.add(event.server_id)
            elif isinstance(event, ev.HostResourcesReleased):
                holding.discard(event.server_id)
        return holding


def decoded(events: list[RecordedEvent], cls: type[DomainEvent]) -> list[DomainEvent]:
    return [registry.decode(e) for e in events if e.type == cls.__name__]


@contextlib.asynccontextmanager
async def relayed(store: EventStore) -> AsyncIterator[Cloud]:
    """An in-process bus fed by an outbox relay from ``store``, as in ``cairn up``."""
    bus = InProcessBus()
    relay = OutboxRelay(store, bus)
    task = asyncio.create_task(relay.run())
    try:
        yield Cloud(store, bus)
    finally:
        await relay.stop()
        await task
        await bus.close()
