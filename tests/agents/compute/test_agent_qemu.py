"""The compute agent on real QEMU (qemu:///system, TCG): the test guest boots from
the images (direct kernel boot from its aki/ari pair, a qcow2 overlay of its
root image), prints on its serial console, stops, starts, and powers itself off.

Needs libvirtd (scripts/libvirtd); these tests fail, never skip, without it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cairn.agents.compute import disk
from cairn.agents.compute.driver import GuestState
from cairn.agents.compute.images_local import LocalImageSource
from cairn.agents.compute.runtime import RunningHost, start_host
from cairn.compute_hosts import libvirt_opener
from cairn.events import compute as ev
from cairn.store.sqlite import SQLiteEventStore
from tests.agents.compute.cloud import (
    IMAGE_ID,
    Cloud,
    build_guest,
    decoded,
    guest_images,
    image_snapshot,
    relayed,
)

pytestmark = pytest.mark.qemu
QEMU_URI = "qemu:///system"
BOOT_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def guest() -> tuple[Path, Path]:
    return build_guest()


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async with await SQLiteEventStore.open(tmp_path / "cairn.sqlite") as store, relayed(store) as c:
        yield c


@pytest.fixture
async def qemu_host(
    cloud: Cloud, tmp_path: Path, guest: tuple[Path, Path]
) -> AsyncIterator[tuple[str, RunningHost]]:
    host = f"qemu-{uuid.uuid4().hex[:8]}"
    images: LocalImageSource = guest_images(tmp_path / "glance", *guest)
    running = await start_host(
        host,
        open_driver=libvirt_opener(QEMU_URI),
        hypervisor=QEMU_URI,
        data_dir=tmp_path / "data",
        store=cloud.store,
        bus=cloud.bus,
        images=images,
        clean_shutdown_timeout=20.0,
    )
    try:
        yield host, running
    finally:
        try:
            for found in await running.driver.list_guests():
                if found.name.startswith(f"cairn-{host}-"):
                    await running.driver.destroy(found.name)
        finally:
            await running.stop()


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def console(path: Path, text: str, timeout: float = BOOT_TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    while True:
        output = await asyncio.to_thread(
            lambda: path.read_text(errors="replace") if path.exists() else ""
        )
        if text in output:
            return output
        if time.monotonic() > deadline:
            pytest.fail(f"no {text!r} on the console {path} within {timeout}s:\n{output[-2000:]}")
        await asyncio.sleep(0.2)


async def test_a_real_guest_boots_stops_starts_and_is_deleted(
    cloud: Cloud, qemu_host: tuple[str, RunningHost]
) -> None:
    host, running = qemu_host
    server_id = await cloud.request_boot(host)

    events = await cloud.wait_for(f"server-{server_id}", "ServerSpawned", timeout=BOOT_TIMEOUT)
    spawned = decoded(events, ev.ServerSpawned)[0]
    assert isinstance(spawned, ev.ServerSpawned)
    log = Path(spawned.console_log)
    await console(log, "GUEST-UP")
    assert "DISKS vda" in await console(log, "DISKS")  # the overlay of the root image
    overlay = await disk.info(log.parent / "disk")
    assert overlay["virtual-size"] == 1024**3  # sized by the flavor (1 GB)
    assert overlay["backing-filename"] == str(running.agent.ctx.images.path(IMAGE_ID))

    await cloud.act(host, server_id, "stop")
    await cloud.wait_for(f"server-{server_id}", "ServerActionCompleted", timeout=60)
    assert await running.driver.state(spawned.instance_name) is GuestState.SHUTOFF

    await cloud.act(host, server_id, "start")
    await cloud.wait_for(f"server-{server_id}", "ServerActionCompleted", count=2, timeout=60)
    await console(log, "GUEST-UP")  # the log starts over with each start

    await cloud.delete(host, server_id)
    await cloud.wait_for(f"server-{server_id}", "ServerDeleted", timeout=60)
    assert spawned.instance_name not in {g.name for g in await running.driver.list_guests()}
    assert not log.parent.exists()
    assert server_id not in await cloud.claims(host)


async def test_a_guest_that_powers_itself_off_becomes_shutoff(
    cloud: Cloud, qemu_host: tuple[str, RunningHost]
) -> None:
    host, running = qemu_host
    image = image_snapshot(os_command_line="console=ttyS0 quiet cairn.poweroff_after=2")
    server_id = await cloud.request_boot(host, image=image)

    events = await cloud.wait_for(
        f"server-{server_id}", "ServerPowerStateChanged", timeout=BOOT_TIMEOUT
    )

    changed = decoded(events, ev.ServerPowerStateChanged)[0]
    assert isinstance(changed, ev.ServerPowerStateChanged)
    assert (changed.host, changed.vm_state, changed.power_state) == (host, "stopped", 4)
    spawned = decoded(events, ev.ServerSpawned)[0]
    assert isinstance(spawned, ev.ServerSpawned)
    assert "GUEST-DOWN" in await asyncio.to_thread(read, Path(spawned.console_log))
    assert await running.driver.state(spawned.instance_name) is GuestState.SHUTOFF


async def _ask_console(
    cloud: Cloud, host: str, server_id: str, n: int, length: int | None = None
) -> tuple[int, ev.ServerConsoleOutputCaptured]:
    """Ask ``host``'s agent for the console (the API's request); its ``n``-th answer."""
    stream = ev.console_stream(server_id)
    asked = ev.ServerConsoleOutputRequested(
        server_id=server_id, host=host, request_id=f"r{n}", length=length
    )
    await cloud.append(stream, asked)
    events = await cloud.wait_for(stream, "ServerConsoleOutputCaptured", count=n, timeout=30)
    answers = [e for e in events if e.type == "ServerConsoleOutputCaptured"]
    [answer] = decoded(answers[n - 1 : n], ev.ServerConsoleOutputCaptured)
    assert isinstance(answer, ev.ServerConsoleOutputCaptured)
    assert answer.request_id == f"r{n}"
    return answers[n - 1].version, answer


async def test_the_agent_that_owns_the_guest_answers_for_its_console(
    cloud: Cloud, qemu_host: tuple[str, RunningHost]
) -> None:
    host, _ = qemu_host
    server_id = await cloud.request_boot(host)
    events = await cloud.wait_for(f"server-{server_id}", "ServerSpawned", timeout=BOOT_TIMEOUT)
    spawned = decoded(events, ev.ServerSpawned)[0]
    assert isinstance(spawned, ev.ServerSpawned)
    await console(Path(spawned.console_log), "GUEST-UP")
    await asyncio.sleep(2)  # let the guest finish printing
    version, first = await _ask_console(cloud, host, server_id, 1)
    assert first.error is None
    assert "GUEST-UP" in first.output
    _, again = await _ask_console(cloud, host, server_id, 2)
    # the same output is not repeated in the log: the answer points at the first
    assert (again.same_as, again.output) == (version, "") or "GUEST-UP" in again.output
    _, two = await _ask_console(cloud, host, server_id, 3, length=2)
    assert len(two.output.splitlines()) <= 2
    # another host's request is not this agent's to answer
    other = ev.ServerConsoleOutputRequested(
        server_id=server_id, host="elsewhere", request_id="x", length=None
    )
    await cloud.append(ev.console_stream(server_id), other)
    await asyncio.sleep(1)
    stream = await cloud.events(ev.console_stream(server_id))
    assert [e.type for e in stream].count("ServerConsoleOutputCaptured") == 3
