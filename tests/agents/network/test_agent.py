"""The network agent over a real event store, in a lab host namespace.

Networking events go in through the API's own deciders; the agent's plan
becomes a datapath (a bridge, a DHCP namespace with dnsmasq); the DHCP port is
reported ACTIVE; a namespace deleted by hand comes back at the next resync;
an agent killed (its task cancelled mid-sync, its process state dropped) and
started again adopts what exists and leaves nothing twice.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cairn.agents.network.agent import NetworkAgent
from cairn.events import Metadata
from cairn.network import networks, subnets
from cairn.network.access import Caller
from cairn.network.config import NetworkConfig
from cairn.network.plan import Plan
from cairn.network.service import Networking
from cairn.projections.network import Resource
from cairn.store import open_store
from cairn.store.port import EventStore

from .conftest import Host, close_host, open_host
from .lab import Lab, check, dnsmasq_under

ADMIN = Caller(project_id="p1", user_id="u1", is_admin=True)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    opened = await open_store(f"sqlite:///{tmp_path / 'cairn.sqlite'}")
    try:
        yield opened
    finally:
        await opened.close()


def _in_namespace(pid: int, namespace: str) -> bool:
    try:
        mine = os.stat(f"/proc/{pid}/ns/net")
        named = os.stat(f"/run/netns/{namespace}")
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


async def _until(what: str, probe: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        outcome = probe()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_the_agent_wires_heals_and_restarts(
    store: EventStore, lab: Lab, tmp_path: Path
) -> None:
    core = Networking(store, NetworkConfig(public_cidr=None))
    await core.start()
    host: Host = await open_host(lab, tmp_path, "ag")
    agent = NetworkAgent(store, host.datapath, ["node1"], name="node1", interval=0.02, resync=0.5)
    try:

        def make(plan: Plan) -> Resource:
            network = networks.create(plan, ADMIN, core.config, {"name": "n"}, "p1")
            subnets.create(
                plan,
                ADMIN,
                core.config,
                {"network_id": network.id, "cidr": "10.90.0.0/24", "ip_version": 4},
                "p1",
            )
            return network

        network = await core.run(Metadata(), make)
        dhcp_ns = host.datapath.dhcp_namespace(network.id)
        await agent.start()
        await _until("the DHCP namespace", lambda: dhcp_ns in _namespaces())
        await _until("dnsmasq", lambda: dnsmasq_under(host.state_dir) != [])
        await core.runner.wait_for(await store.head())

        def dhcp_status() -> str:
            port = next(
                p for p in core.state.of("port").values() if p.get("device_owner") == "network:dhcp"
            )
            return str(port.get("status"))

        async def active() -> bool:
            await core.runner.wait_for(await store.head())
            return dhcp_status() == "ACTIVE"

        await _until("the DHCP port ACTIVE", active)
        assert core.state.agents["node1"].kinds
        await check(None, "ip", "netns", "delete", dhcp_ns)
        await _until("the namespace back after a resync", lambda: dhcp_ns in _namespaces())
        # Back means one dnsmasq, in the new namespace: the old one lives on in the
        # deleted namespace until the agent has replaced it.
        await _until(
            "dnsmasq back in the new namespace",
            lambda: (
                [_in_namespace(pid, dhcp_ns) for pid in dnsmasq_under(host.state_dir)] == [True]
            ),
        )
        # A kill: the agent's task cancelled mid-flight, the process's state gone.
        assert agent._task is not None
        agent._task.cancel()
        await agent.runner.stop()
        again = NetworkAgent(store, host.datapath, ["node1"], name="node1", interval=0.02)
        await again.start()
        try:
            assert again.datapath.changes == [], "a restart on an intact datapath changed it"
            assert len(dnsmasq_under(host.state_dir)) == 1
        finally:
            if again._task is not None:
                again._task.cancel()
            await again.runner.stop()
    finally:
        await core.stop()
        await close_host(lab, host)


def _namespaces() -> set[str]:
    import os

    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()
