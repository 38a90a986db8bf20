"""The hypervisor contract: LibvirtDriver on qemu:///system and on test:///default.

On QEMU the guests are real: the tiny kernel + busybox initramfs that
scripts/build-guest-image builds, booted under TCG, reporting on its serial
console (GUEST-UP, HEARTBEAT n, GUEST-DOWN). Cases that need a guest to really
run, or a console, skip on a driver without that capability.

The QEMU cases need libvirtd (scripts/libvirtd starts it; scripts/test runs it
first). They are never skipped: without libvirtd they fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cairn.agents.compute import disk
from cairn.agents.compute.driver import (
    Capability,
    ConsoleChannel,
    EventKind,
    EventSubscription,
    GuestDefinition,
    GuestExists,
    GuestNotFound,
    GuestState,
    HypervisorDriver,
    HypervisorError,
    HypervisorUnavailable,
    InvalidGuestState,
    LifecycleEvent,
    Nic,
    RootDisk,
    UnsupportedOperation,
)
from cairn.agents.compute.libvirt_driver import LibvirtDriver

REPO = Path(__file__).resolve().parents[2]
URIS = {"test": "test:///default", "qemu": "qemu:///system"}
BOOT_TIMEOUT = 90.0  # TCG on a busy 2-core machine: usually 4-10 s


@pytest.fixture(scope="session")
def guest_image() -> tuple[Path, Path]:
    """The test guest's kernel and initramfs (built into the cache on first use)."""
    result = subprocess.run(
        [REPO / "scripts" / "build-guest-image"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/build-guest-image failed:\n{result.stderr}")
    kernel, initramfs = result.stdout.split()
    return Path(kernel), Path(initramfs)


@dataclass
class Host:
    """One driver under test, and the guests a test spawned on it."""

    driver: HypervisorDriver
    tmp: Path
    image: tuple[Path, Path]
    prefix: str = field(default_factory=lambda: f"cairn-test-{uuid.uuid4().hex[:8]}")
    count: int = 0

    def has(self, capability: Capability) -> bool:
        return capability in self.driver.capabilities

    def need(self, capability: Capability) -> None:
        if not self.has(capability):
            pytest.skip(f"{type(self.driver).__name__} on this URI lacks {capability.value}")

    def definition(self, *, cmdline: str = "", **changes: object) -> GuestDefinition:
        self.count += 1
        name = f"{self.prefix}-{self.count}"
        kernel, initramfs = self.image
        fields: dict[str, object] = {
            "name": name,
            "vcpus": 1,
            "memory_mib": 128,
            "console_log": self.tmp / f"{name}.log",
            "kernel": kernel,
            "initramfs": initramfs,
            "cmdline": f"console=ttyS0 quiet {cmdline}".strip(),
        }
        fields.update(changes)
        return GuestDefinition(**fields)  # type: ignore[arg-type]

    async def spawn(self, **changes: object) -> GuestDefinition:
        definition = self.definition(**changes)
        await self.driver.spawn(definition)
        return definition

    async def console(self, name: str) -> str:
        return await self.driver.console_output(name)

    async def wait_console(
        self, name: str, ready: Callable[[str], bool], what: str, timeout: float = BOOT_TIMEOUT
    ) -> str:
        deadline = time.monotonic() + timeout
        while True:
            output = await self.console(name)
            if ready(output):
                return output
            if time.monotonic() > deadline:
                pytest.fail(
                    f"guest {name} did not show {what} within {timeout}s:\n{output[-2000:]}"
                )
            await asyncio.sleep(0.2)

    async def heartbeat(self, name: str, after: int = 0) -> int:
        """The guest's heartbeat counter, once it is past ``after``."""
        output = await self.wait_console(
            name, lambda out: _heartbeat(out) > after, f"a heartbeat after {after}"
        )
        return _heartbeat(output)

    async def cleanup(self) -> None:
        for guest in await self.driver.list_guests():
            if guest.name.startswith(self.prefix):
                await self.driver.destroy(guest.name)


def _heartbeat(output: str) -> int:
    beats = re.findall(r"HEARTBEAT (\d+)", output)
    return int(beats[-1]) if beats else 0


@pytest.fixture(params=["test", pytest.param("qemu", marks=pytest.mark.qemu)])
async def host(
    request: pytest.FixtureRequest, tmp_path: Path, guest_image: tuple[Path, Path]
) -> AsyncIterator[Host]:
    uri = URIS[request.param]
    try:
        driver = await LibvirtDriver.open(uri, instances_dir=tmp_path)
    except HypervisorUnavailable as e:
        pytest.fail(f"libvirtd is not answering at {uri} ({e}); start it with scripts/libvirtd")
    opened = Host(driver, tmp_path, guest_image)
    try:
        yield opened
    finally:
        try:
            await opened.cleanup()
        finally:
            await driver.close()


@pytest.fixture
async def bridge() -> AsyncIterator[str]:
    """A Linux bridge of its own (no address, no uplink), deleted afterwards."""
    name = f"cbr{uuid.uuid4().hex[:8]}"
    await _ip("link", "add", name, "type", "bridge")
    try:
        await _ip("link", "set", name, "up")
        yield name
    finally:
        await _ip("link", "del", name)


async def _ip(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "ip", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        pytest.fail(f"ip {' '.join(args)} failed: {out.decode()}")


async def next_event(
    events: EventSubscription, predicate: Callable[[LifecycleEvent], bool], timeout: float = 30.0
) -> LifecycleEvent:
    seen: list[LifecycleEvent] = []

    async def find() -> LifecycleEvent:
        async for event in events:
            seen.append(event)
            if predicate(event):
                return event
        raise AssertionError("the subscription ended")

    try:
        return await asyncio.wait_for(find(), timeout)
    except TimeoutError:
        pytest.fail(f"no matching lifecycle event within {timeout}s; saw {seen}")


def about(name: str, kind: EventKind, *details: str) -> Callable[[LifecycleEvent], bool]:
    return lambda e: e.name == name and e.kind is kind and (not details or e.detail in details)


# -- host and spawn ---------------------------------------------------------------------


async def test_host_info(host: Host) -> None:
    info = await host.driver.host_info()

    assert info.hypervisor_type in {"QEMU", "TEST"}
    assert info.hostname
    assert info.vcpus >= 1
    assert info.memory_mib >= 128
    assert 0 <= info.memory_free_mib <= info.memory_mib
    assert 0 <= info.disk_free_gb <= info.disk_total_gb
    assert info.hypervisor_version > 0


async def test_spawn_runs_the_guest(host: Host) -> None:
    definition = host.definition()

    spawned = await host.driver.spawn(definition)

    assert spawned.name == definition.name
    assert spawned.uuid == definition.uuid
    assert spawned.state is GuestState.RUNNING
    assert (spawned.vcpus, spawned.memory_mib) == (1, 128)
    assert spawned.managed
    assert await host.driver.state(definition.name) is GuestState.RUNNING
    listed = {g.name: g for g in await host.driver.list_guests()}
    assert listed[definition.name] == await host.driver.info(definition.name)


async def test_the_guest_boots_sees_its_nic_and_its_heartbeat_advances(
    host: Host, bridge: str
) -> None:
    host.need(Capability.GUEST_EXECUTION)
    host.need(Capability.CONSOLE)
    mac = "52:54:00:" + ":".join(f"{b:02x}" for b in uuid.uuid4().bytes[:3])
    definition = host.definition(nics=(Nic(bridge, mac, tap=f"tap{uuid.uuid4().hex[:8]}"),))

    started = time.monotonic()
    await host.driver.spawn(definition)
    spawned = time.monotonic()
    await host.wait_console(definition.name, lambda out: "GUEST-UP" in out, "GUEST-UP")
    up = time.monotonic()
    beat = await host.heartbeat(definition.name)

    assert await host.heartbeat(definition.name, after=beat) > beat
    assert f"NIC eth0 {mac}" in await host.console(definition.name)  # virtio-net on the bridge
    print(f"spawn {spawned - started:.2f} s, spawn to GUEST-UP {up - spawned:.2f} s")


async def _read_until(channel: ConsoleChannel, pattern: bytes, timeout: float) -> bytes:
    seen = b""

    async def find() -> bytes:
        nonlocal seen
        while pattern not in seen:
            chunk = await channel.read()
            if not chunk:
                raise AssertionError(f"the console ended before {pattern!r}: {seen[-500:]!r}")
            seen += chunk
        return seen

    try:
        return await asyncio.wait_for(find(), timeout)
    except TimeoutError:
        pytest.fail(f"no {pattern!r} on the console within {timeout}s: {seen[-500:]!r}")


async def test_the_serial_console_streams_output_and_takes_input(host: Host) -> None:
    host.need(Capability.SERIAL_CONSOLE)
    definition = await host.spawn()
    await host.wait_console(definition.name, lambda out: "GUEST-UP" in out, "GUEST-UP")
    beat = await host.heartbeat(definition.name)

    channel = await host.driver.open_console(definition.name)
    try:
        # what the guest prints from now on: a later heartbeat than the log showed
        await _read_until(channel, f"HEARTBEAT {beat + 1}".encode(), BOOT_TIMEOUT)
        # typed input reaches the guest's tty, whose line discipline echoes it
        await channel.write(b"typed-into-cairn")
        await _read_until(channel, b"typed-into-cairn", 30.0)
        # a second session takes the console; the first one ends
        second = await host.driver.open_console(definition.name)
        try:
            assert await asyncio.wait_for(_drained(channel), 30.0) == b""
        finally:
            await second.close()
    finally:
        await channel.close()
    # the console-output log keeps being written alongside
    assert await host.heartbeat(definition.name, after=beat + 1) > beat + 1


async def _drained(channel: ConsoleChannel) -> bytes:
    while chunk := await channel.read():
        del chunk
    return b""


async def test_the_guests_agent_sets_a_password(host: Host) -> None:
    host.need(Capability.SET_PASSWORD)
    definition = await host.spawn()
    await host.wait_console(definition.name, lambda out: "GUEST-UP" in out, "GUEST-UP")
    await host.heartbeat(definition.name)

    await host.driver.set_password(definition.name, "root", "s3cret-Pa55 w/ odd+chars=")

    digest = hashlib.sha256(b"s3cret-Pa55 w/ odd+chars=").hexdigest()
    await host.wait_console(
        definition.name, lambda out: f"PASSWORD-SET root {digest}" in out, "PASSWORD-SET", 30.0
    )
    await host.driver.power_off(definition.name, timeout=0)
    with pytest.raises(InvalidGuestState):
        await host.driver.set_password(definition.name, "root", "another")


# -- power --------------------------------------------------------------------------------


async def test_pause_freezes_the_guest_and_unpause_lets_it_run_on(host: Host) -> None:
    definition = await host.spawn()
    name = definition.name
    running = host.has(Capability.CONSOLE)
    beat = await host.heartbeat(name) if running else 0

    await host.driver.pause(name)
    await host.driver.pause(name)  # idempotent

    assert await host.driver.state(name) is GuestState.PAUSED
    if running:
        frozen = _heartbeat(await host.console(name))
        await asyncio.sleep(2.5)
        assert _heartbeat(await host.console(name)) == frozen
    await host.driver.unpause(name)
    assert await host.driver.state(name) is GuestState.RUNNING
    if running:
        assert await host.heartbeat(name, after=max(frozen, beat)) > frozen


async def test_soft_and_hard_reboot_start_the_guest_again(host: Host) -> None:
    definition = await host.spawn()
    name = definition.name
    running = host.has(Capability.GUEST_EXECUTION) and host.has(Capability.CONSOLE)
    if running:
        await host.heartbeat(name, after=1)  # the power button handler is armed

    await host.driver.reboot(name)

    if running:
        await host.wait_console(name, lambda out: out.count("GUEST-UP") >= 2, "a second GUEST-UP")
        assert "POWER-BUTTON" in await host.console(name)  # it went down through ACPI
    assert await host.driver.state(name) is GuestState.RUNNING

    await host.driver.reboot(name, hard=True)

    if running:
        await host.wait_console(name, lambda out: out.count("GUEST-UP") >= 3, "a third GUEST-UP")
    assert await host.driver.state(name) is GuestState.RUNNING


async def test_acpi_power_off_then_power_on(host: Host) -> None:
    definition = await host.spawn()
    name = definition.name
    running = host.has(Capability.GUEST_EXECUTION) and host.has(Capability.CONSOLE)
    if running:
        await host.heartbeat(name, after=1)  # the power button handler is armed

    async with host.driver.events() as events:
        clean = await host.driver.power_off(name, timeout=60)

        assert clean  # the guest shut itself down on the power button
        assert await host.driver.state(name) is GuestState.SHUTOFF
        stopped = await next_event(events, about(name, EventKind.STOPPED))
        assert stopped.detail == "shutdown"
        assert stopped.uuid == definition.uuid
    if running:
        assert "GUEST-DOWN" in await host.console(name)
    assert await host.driver.power_off(name) is True  # already off: nothing to do

    await host.driver.power_on(name)
    await host.driver.power_on(name)  # idempotent

    assert await host.driver.state(name) is GuestState.RUNNING
    if running:
        await host.wait_console(name, lambda out: "GUEST-UP" in out, "GUEST-UP after power on")


async def test_power_off_forces_a_guest_that_ignores_acpi(host: Host) -> None:
    definition = await host.spawn()  # still booting: nothing listens to the power button

    clean = await host.driver.power_off(definition.name, timeout=0.5)

    if host.has(Capability.GUEST_EXECUTION):
        assert not clean
    assert await host.driver.state(definition.name) is GuestState.SHUTOFF


async def test_a_guest_that_shuts_itself_down_is_reported(host: Host) -> None:
    host.need(Capability.GUEST_EXECUTION)
    async with host.driver.events() as events:
        definition = await host.spawn(cmdline="cairn.poweroff_after=1")

        await next_event(events, about(definition.name, EventKind.STARTED, "booted"))
        stopped = await next_event(events, about(definition.name, EventKind.STOPPED), BOOT_TIMEOUT)

    assert stopped.detail == "shutdown"
    assert await host.driver.state(definition.name) is GuestState.SHUTOFF
    if host.has(Capability.CONSOLE):
        assert "GUEST-DOWN" in await host.console(definition.name)


async def test_suspend_saves_the_guest_and_resume_restores_it(host: Host) -> None:
    host.need(Capability.SUSPEND)
    definition = await host.spawn()
    name = definition.name
    running = host.has(Capability.CONSOLE)
    beat = await host.heartbeat(name, after=1) if running else 0

    await host.driver.suspend(name)

    assert await host.driver.state(name) is GuestState.SUSPENDED
    with pytest.raises(InvalidGuestState):
        await host.driver.pause(name)
    await host.driver.resume(name)
    assert await host.driver.state(name) is GuestState.RUNNING
    if running:
        # The same boot goes on: the counter continues, no new GUEST-UP.
        assert await host.heartbeat(name) > beat
        assert "GUEST-UP" not in await host.console(name)


async def test_a_root_disk_can_sit_on_a_raw_image(host: Host) -> None:
    base = host.tmp / "base.raw"
    await disk.create(base, size_gb=1, format="raw")
    overlay = host.tmp / "root.qcow2"
    definition = host.definition(
        root_disk=RootDisk(overlay, backing=base, size_gb=1, backing_format="raw")
    )

    await host.driver.spawn(definition)

    info = await disk.info(overlay)
    assert (info["format"], info["backing-filename-format"]) == ("qcow2", "raw")
    if host.has(Capability.CONSOLE):
        await host.wait_console(definition.name, lambda out: "DISKS vda" in out, "its disk")


# -- destroy ------------------------------------------------------------------------------


async def test_destroy_removes_the_guest_and_what_spawn_created(host: Host) -> None:
    base = host.tmp / "base.qcow2"
    await disk.create(base, size_gb=1)
    overlay = host.tmp / "root.qcow2"
    definition = host.definition(root_disk=RootDisk(overlay, backing=base, size_gb=2))
    await host.driver.spawn(definition)
    name = definition.name
    assert (await disk.info(overlay))["virtual-size"] == 2 * 1024**3
    if host.has(Capability.CONSOLE):
        output = await host.wait_console(name, lambda out: "DISKS vda" in out, "its disk")
        assert "GUEST-UP" in output
        assert definition.console_log.exists()

    await host.driver.destroy(name)

    with pytest.raises(GuestNotFound):
        await host.driver.state(name)
    assert name not in {g.name for g in await host.driver.list_guests()}
    assert not overlay.exists()
    assert not definition.console_log.exists()
    assert base.exists()  # the caller's files stay
    assert definition.kernel is not None
    assert definition.kernel.exists()
    await host.driver.destroy(name)  # idempotent


async def test_forget_removes_the_definition_and_keeps_every_file(host: Host) -> None:
    base = host.tmp / "base.qcow2"
    await disk.create(base, size_gb=1)
    overlay = host.tmp / "kept.qcow2"
    definition = host.definition(root_disk=RootDisk(overlay, backing=base))
    await host.driver.spawn(definition)

    await host.driver.forget(definition.name)

    with pytest.raises(GuestNotFound):
        await host.driver.state(definition.name)
    assert overlay.exists()  # the disk is there for the next guest of that name
    again = host.definition(root_disk=RootDisk(overlay), name=definition.name)
    await host.driver.spawn(again)
    assert await host.driver.state(definition.name) is GuestState.RUNNING
    await host.driver.destroy(definition.name)
    await host.driver.forget(definition.name)  # idempotent


async def test_destroy_removes_a_suspended_guest_and_its_saved_state(host: Host) -> None:
    host.need(Capability.SUSPEND)
    definition = await host.spawn()
    await host.driver.suspend(definition.name)

    await host.driver.destroy(definition.name)

    assert definition.name not in {g.name for g in await host.driver.list_guests()}


# -- failures leave nothing behind ---------------------------------------------------------


async def test_a_spawn_the_hypervisor_rejects_leaves_nothing(host: Host) -> None:
    base = host.tmp / "base.qcow2"
    await disk.create(base, size_gb=1)
    overlay = host.tmp / "root.qcow2"
    # libvirt refuses names with a slash, after spawn has created the overlay.
    definition = host.definition(name="bad/name", root_disk=RootDisk(overlay, backing=base))

    with pytest.raises(HypervisorError):
        await host.driver.spawn(definition)

    assert not overlay.exists()
    assert str(definition.uuid) not in {str(g.uuid) for g in await host.driver.list_guests()}


async def test_a_spawn_whose_overlay_fails_leaves_nothing(host: Host) -> None:
    overlay = host.tmp / "root.qcow2"
    definition = host.definition(
        root_disk=RootDisk(overlay, backing=host.tmp / "missing-base.qcow2")
    )

    with pytest.raises(disk.DiskError):
        await host.driver.spawn(definition)

    assert not overlay.exists()
    with pytest.raises(GuestNotFound):
        await host.driver.state(definition.name)


async def test_a_cancelled_spawn_leaves_all_or_nothing(host: Host) -> None:
    definition = host.definition()
    async with host.driver.events() as events:
        task = asyncio.create_task(host.driver.spawn(definition))
        defined = asyncio.create_task(next_event(events, about(definition.name, EventKind.DEFINED)))
        await asyncio.wait([task, defined], return_when=asyncio.FIRST_COMPLETED)
        task.cancel()
        defined.cancel()
        try:
            await task
        except asyncio.CancelledError:
            cancelled = True
        else:
            cancelled = False

    if cancelled:
        with pytest.raises(GuestNotFound):
            await host.driver.state(definition.name)
        assert not definition.console_log.exists()
    else:  # it had finished: the guest is whole
        assert await host.driver.state(definition.name) is GuestState.RUNNING


# -- errors are the port's ------------------------------------------------------------------


async def test_spawning_a_taken_name_or_uuid_raises_guest_exists(host: Host) -> None:
    first = await host.spawn()

    with pytest.raises(GuestExists):
        await host.driver.spawn(host.definition(name=first.name))
    with pytest.raises(GuestExists):
        await host.driver.spawn(host.definition(uuid=first.uuid))

    # The existing guest is untouched.
    info = await host.driver.info(first.name)
    assert (info.uuid, info.state) == (first.uuid, GuestState.RUNNING)


async def test_acting_on_a_missing_guest_raises_guest_not_found(host: Host) -> None:
    name = f"{host.prefix}-missing"
    d = host.driver
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: d.state(name),
        lambda: d.info(name),
        lambda: d.power_on(name),
        lambda: d.power_off(name),
        lambda: d.reboot(name),
        lambda: d.reboot(name, hard=True),
        lambda: d.pause(name),
        lambda: d.unpause(name),
    ]
    if host.has(Capability.SUSPEND):
        calls += [lambda: d.suspend(name), lambda: d.resume(name)]
    if host.has(Capability.CONSOLE):
        calls.append(lambda: d.console_output(name))
    for call in calls:
        with pytest.raises(GuestNotFound) as caught:
            await call()
        assert caught.value.name == name

    await host.driver.destroy(name)  # no error: already gone


async def test_operations_in_the_wrong_state_raise_invalid_guest_state(host: Host) -> None:
    definition = await host.spawn()
    name = definition.name

    with pytest.raises(InvalidGuestState):
        await host.driver.resume(name)  # running, not suspended
    await host.driver.pause(name)
    with pytest.raises(InvalidGuestState):
        await host.driver.reboot(name)
    with pytest.raises(InvalidGuestState):
        await host.driver.power_on(name)
    assert await host.driver.power_off(name) is False  # paused: forced at once
    with pytest.raises(InvalidGuestState) as caught:
        await host.driver.pause(name)
    assert caught.value.state is GuestState.SHUTOFF


async def test_a_missing_capability_raises_unsupported_operation(host: Host) -> None:
    if host.has(Capability.CONSOLE):
        pytest.skip("this driver has every capability these calls need")
    definition = await host.spawn()

    with pytest.raises(UnsupportedOperation):
        await host.driver.console_output(definition.name)
    with pytest.raises(UnsupportedOperation):
        await host.driver.open_console(definition.name)
    with pytest.raises(UnsupportedOperation):
        await host.driver.set_password(definition.name, "root", "pw")
