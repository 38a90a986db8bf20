"""LibvirtDriver beyond the contract suite: connecting, and libvirt's event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cairn.agents.compute import libvirt_events
from cairn.agents.compute.driver import DriverClosed, EventKind, GuestState, HypervisorUnavailable
from cairn.agents.compute.libvirt_driver import LibvirtDriver


async def test_an_unreachable_daemon_raises_hypervisor_unavailable(tmp_path: Path) -> None:
    with pytest.raises(HypervisorUnavailable, match="cannot connect"):
        await LibvirtDriver.open(f"qemu+unix:///system?socket={tmp_path}/no-such-socket")

    assert libvirt_events.bind(asyncio.get_running_loop()).connections == 0


async def test_a_closed_driver_refuses_work() -> None:
    driver = await LibvirtDriver.open("test:///default")
    await driver.close()
    await driver.close()  # idempotent

    with pytest.raises(DriverClosed):
        await driver.list_guests()
    with pytest.raises(DriverClosed):
        driver.events()


async def test_closing_the_driver_ends_its_subscriptions() -> None:
    driver = await LibvirtDriver.open("test:///default")
    events = driver.events()

    await driver.close()

    assert [event async for event in events] == []


def test_events_arrive_on_each_new_loop() -> None:
    """libvirt takes one event loop registration per process; it follows the loop."""

    async def pause_the_default_guest() -> list[EventKind]:
        async with await LibvirtDriver.open("test:///default") as driver:
            assert await driver.state("test") is GuestState.RUNNING
            async with driver.events() as events:
                await driver.pause("test")
                await driver.unpause("test")
                seen = []
                async for event in events:
                    seen.append(event.kind)
                    if len(seen) == 2:
                        return seen
        raise AssertionError("unreachable")

    for _ in range(2):
        kinds = asyncio.run(asyncio.wait_for(pause_the_default_guest(), 10))
        assert kinds == [EventKind.SUSPENDED, EventKind.RESUMED]
