"""Running compute hosts: in ``cairn up`` (``--compute-hosts N``) or as ``cairn agent compute``.

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
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from cairn.agents.compute.agent import ComputeAgent
from cairn.agents.compute.context import AgentConfig, HostContext
from cairn.agents.compute.driver import HypervisorDriver
from cairn.agents.compute.feeds import BusFeed, StoreFeed
from cairn.agents.compute.guest_plan import HostPaths
from cairn.agents.compute.images import ImageCache, ImageSource
from cairn.agents.compute.images_glance import GlanceImageSource
from cairn.agents.compute.keystone_auth import CloudsYamlAuth
from cairn.agents.compute.libvirt_driver import LibvirtDriver
from cairn.agents.compute.nics import PortBinder
from cairn.agents.compute.ports_neutron import NeutronPorts
from cairn.api.keys import BUS, STORE
from cairn.api.services import CleanupContext
from cairn.bus.port import Bus
from cairn.config import Settings
from cairn.logs import get_logger
from cairn.store.port import EventStore

log = get_logger(__name__)


def host_names(count: int, hostname: str | None = None) -> list[str]:
    """The names of ``count`` hosts run by one process (see the module)."""
    base = hostname or socket.gethostname().split(".")[0] or "localhost"
    if count == 1:
        return [base]
    return [f"{base}-{i}" for i in range(1, count + 1)]


def host_paths(data_dir: Path, host: str) -> HostPaths:
    return HostPaths(data_dir / "compute" / host)


def _admin_auth(settings: Settings) -> CloudsYamlAuth:
    return CloudsYamlAuth(settings.data_dir / "clouds.yaml", password=settings.admin_password)


def glance_source(settings: Settings) -> GlanceImageSource:
    """The image service of this cloud, as its admin (``<data-dir>/clouds.yaml``)."""
    return GlanceImageSource(_admin_auth(settings))


def neutron_ports(settings: Settings) -> NeutronPorts:
    """The networking service of this cloud, binding ports as its admin."""
    return NeutronPorts(_admin_auth(settings))


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
    uri: str,
    data_dir: Path,
    store: EventStore,
    bus: Bus | None,
    images: ImageSource,
    ports: PortBinder | None = None,
    **options: Any,
) -> RunningHost:
    """Start one host's agent, fed by ``bus`` (or, with None, by following ``store``).
    ``options`` override :class:`AgentConfig`'s defaults."""
    paths = host_paths(data_dir, host)

    async def reopen() -> HypervisorDriver:
        return await LibvirtDriver.open(uri, instances_dir=paths.instances)

    driver = await reopen()
    try:
        if uri.startswith("qemu"):
            options.setdefault("bridge_wait", 30.0)
        config = AgentConfig(host=host, paths=paths, **options)
        ctx = HostContext(config, store, driver, ImageCache(paths.images, images), ports)
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
    log.info("compute host running", host=host, hypervisor=uri, feed=type(feed).__name__)
    return RunningHost(agent, feed)


def compute_hosts_context(
    settings: Settings, *, images: ImageSource | None = None, **options: Any
) -> CleanupContext:
    """``settings.compute_hosts`` agents in this process (none for 0), each with its
    own connection to ``settings.hypervisor_uri``, fed by ``app[BUS]`` and appending
    to ``app[STORE]``. ``images`` replaces the image service (tests); ``options``
    override :class:`AgentConfig`'s defaults."""

    async def compute_hosts_ctx(app: web.Application) -> AsyncIterator[None]:
        names = host_names(settings.compute_hosts)
        if not names or settings.compute_hosts == 0:
            yield
            return
        source = images or glance_source(settings)
        ports = neutron_ports(settings)
        running: list[RunningHost] = []
        try:
            for name in names:
                running.append(
                    await start_host(
                        name,
                        uri=settings.hypervisor_uri,
                        data_dir=settings.data_dir,
                        store=app[STORE],
                        bus=app[BUS],
                        images=source,
                        ports=ports,
                        **options,
                    )
                )
            yield
        finally:
            for host in reversed(running):
                try:
                    await host.stop()
                except Exception as exc:
                    log.error(
                        "compute host did not stop cleanly", host=host.agent.host, exc_info=exc
                    )
            await ports.close()
            if images is None:
                await source.close()

    return compute_hosts_ctx
