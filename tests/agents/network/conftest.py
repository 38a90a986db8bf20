"""Fixtures of the datapath tests: a lab of namespaces, and a host with a Datapath in it.

Both clean up even when a test fails; the host fixture first tears the
datapath down and checks that doing so left nothing behind (devices, tables,
namespaces, dnsmasq), then removes the lab's namespaces.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cairn.agents.network.datapath import Datapath
from cairn.agents.network.metadata import Lookup

from .lab import Lab, check, dnsmasq_under


@dataclass
class Host:
    namespace: str
    datapath: Datapath
    state_dir: Path


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    lab = Lab()
    try:
        yield lab
    finally:
        await lab.cleanup()
    assert lab.leftovers() == []


async def open_host(lab: Lab, tmp_path: Path, name: str, lookup: Lookup | None = None) -> Host:
    namespace = await lab.namespace(name)
    state = tmp_path / f"state-{name}"
    datapath = Datapath(
        state,
        netns=namespace,
        namespace_prefix=f"{lab.prefix}{name}-",
        metadata=lookup,
    )
    return Host(namespace, datapath, state)


async def close_host(lab: Lab, host: Host) -> None:
    """Tear the host's datapath down and check that nothing it owned is left."""
    try:
        await host.datapath.teardown()
    finally:
        await host.datapath.close()
    links = await check(host.namespace, "ip", "-o", "link")
    owned = ("brq", "vx-", "dh-", "rt-", "ex-")
    assert [line for line in links.splitlines() if line.split(": ")[1].startswith(owned)] == []
    assert "cairn-" not in await check(host.namespace, "nft", "list", "tables")
    assert [n for n in lab.leftovers() if n.startswith(f"{host.namespace}-")] == []
    assert dnsmasq_under(host.state_dir) == []


@pytest.fixture
async def host(lab: Lab, tmp_path: Path) -> AsyncIterator[Host]:
    host = await open_host(lab, tmp_path, "h1")
    try:
        yield host
    finally:
        await close_host(lab, host)
