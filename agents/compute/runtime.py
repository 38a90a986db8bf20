"""Running compute hosts: in ``cairn up`` (``--compute-hosts N``) or as ``cairn agent compute``.

This module starts and stops a host from the adapters it is given; which
adapters (libvirt, the cloud's Glance and Neutron) is the composition roots'
choice (:mod:`cairn.compute_hosts`, ``cairn agent compute``), so ``agents/``
imports neither ``cairn.api`` nor a web framework.

A running host is its own hypervisor connection (``settings.hypervisor_uri``),
its own image cache and files under ``<data-dir>/compute/<host>``, one
:class:`ComputeAgent`, and a feed of requests (:mod:`cairn.agents.compute.feeds`).
They start in the order that loses nothing: open the driver, declare the feed
(the bus queue starts collecting), start the agent (register, reconcile), then
consume the feed. They stop in reverse.

Host names: with one host, the machine's host name (as nova-compute's ``host``
defaults to it); with N > 1, ``<hostname>-1`` ... ``<hostname>-N``. Several hosts
in one process share the one hypervisor: each only ever touches guests named
``cairn-<its host>-<server id>``.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.agents.compute.agent import ComputeAgent
from cairn.agents.compute.context import AgentConfig, HostContext
from cairn.agents.compute.driver import HypervisorDriver
from cairn.agents.compute.feeds import BusFeed, StoreFeed
from cairn.agents.compute.guest_plan import HostPaths
from cairn.agents.compute.images import ImageCache, ImageSource
from cairn.agents.compute.nics import PortBinder
from cairn.agents.compute.volumes_cinder import CinderVolumes
from cairn.bus.port import Bus
from cairn.logs import get_logger
from cairn.sealing import Sealer
from cairn.store.port import EventStore

log = get_logger(__name__)

#: Connects to the hypervisor for a host whose files are at the given paths.
DriverOpener = Callable[[HostPaths], Awaitable[HypervisorDriver]]


def host_names(count: int, hostname: str | None = None) -> list[str]:
    """The names of ``count`` hosts run by one process (see the module)."""
    base = hostname or socket.gethostname().split(".")[0] or "localhost"
    if count == 1:
        return [base]
    return [f"{base}-{i}" for i in range(1, count + 1)]


def host_paths(data_dir: Path, host: str) -> HostPaths:
    return HostPaths(data_dir / "compute" / host)


@dataclass
class RunningHost:
    agent: ComputeAgent
    feed: BusFeed | StoreFeed

    @property
    def driver(self) -> HypervisorDriver:
        """The agent's current hypervisor connection (it reconnects when one breaks)."""
        return self.agent.ctx.driver

    async def stop(self) -> None:
        try:
            await self.feed.stop()
            await self.agent.stop()
        finally:
            await self.agent.ctx.driver.close()


async def start_host(
    host: str,
    *,
    open_driver: DriverOpener,
    hypervisor: str,
    data_dir: Path,
    store: EventStore,
    bus: Bus | None,
    images: ImageSource,
    ports: PortBinder | None = None,
    volumes: CinderVolumes | None = None,
    secrets: Sealer | None = None,
    **options: Any,
) -> RunningHost:
    """Start one host's agent, fed by ``bus`` (or, with None, by following ``store``).

    Every adapter is given, never chosen here (the composition roots,
    ``cairn.compute_hosts`` and ``cairn agent compute``, wire them):
    ``open_driver`` connects to the hypervisor (again, when a connection
    breaks), ``images`` and ``ports`` reach the image and networking services;
    ``secrets`` opens the passwords requests carry sealed; ``hypervisor``
    names the connection in the log. ``options`` override
    :class:`AgentConfig`'s defaults."""
    paths = host_paths(data_dir, host)

    async def reopen() -> HypervisorDriver:
        return await open_driver(paths)

    driver = await reopen()
    try:
        config = AgentConfig(host=host, paths=paths, **options)
        cache = ImageCache(paths.images, images)
        ctx = HostContext(config, store, driver, cache, ports, volumes, secrets)
        agent = ComputeAgent(ctx, reopen=reopen)
        feed: BusFeed | StoreFeed = (
            BusFeed(bus, agent) if bus is not None else StoreFeed(store, agent)
        )
        await feed.declare()
        await agent.start()
        try:
            await feed.start()
        except BaseException:
            await agent.stop()
            raise
    except BaseException:
        await driver.close()
        raise
    log.info("compute host running", host=host, hypervisor=hypervisor, feed=type(feed).__name__)
    return RunningHost(agent, feed)
