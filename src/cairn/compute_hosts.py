"""Part of the composition root: the adapters a compute host runs with, and the
compute hosts ``cairn up`` runs in its own process.

``cairn.agents.compute.runtime.start_host`` is given every adapter; this module
chooses them: libvirt at ``settings.hypervisor_uri`` for the hypervisor, and
the cloud's own image and networking services reached as its admin (with
``<data-dir>/clouds.yaml``). Both composition roots use it: ``cairn up``
(:func:`compute_hosts_context`, from :mod:`cairn.runtime`) and
``cairn agent compute`` (:mod:`cairn.cli.agent`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from cairn.agents.compute.driver import ConsoleChannel, GuestNotFound, HypervisorDriver
from cairn.agents.compute.guest_plan import HostPaths, guest_name
from cairn.agents.compute.images import ImageSource
from cairn.agents.compute.images_glance import GlanceImageSource
from cairn.agents.compute.keystone_auth import CloudsYamlAuth
from cairn.agents.compute.libvirt_driver import LibvirtDriver
from cairn.agents.compute.ports_neutron import NeutronPorts
from cairn.agents.compute.runtime import DriverOpener, RunningHost, host_names, start_host
from cairn.agents.compute.volumes_cinder import CinderVolumes
from cairn.api.compute.serial_proxy import SerialProxy
from cairn.api.keys import BUS, STORE
from cairn.api.services import CleanupContext
from cairn.config import Settings
from cairn.logs import get_logger
from cairn.sealing import GUEST_SECRET_KEYS, Sealer, sealer_at
from cairn.store.port import EventStore

log = get_logger(__name__)


def libvirt_opener(uri: str) -> DriverOpener:
    """Connections to libvirt at ``uri``, each host's guests under its own files."""

    async def open_driver(paths: HostPaths) -> HypervisorDriver:
        return await LibvirtDriver.open(uri, instances_dir=paths.instances)

    return open_driver


def host_options(uri: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with what a real hypervisor needs: on QEMU a NIC's bridge may
    take a while to appear (the network agent makes it)."""
    if uri.startswith("qemu"):
        options.setdefault("bridge_wait", 30.0)
    return options


def _admin_auth(settings: Settings) -> CloudsYamlAuth:
    return CloudsYamlAuth(settings.data_dir / "clouds.yaml", password=settings.admin_password)


def glance_source(settings: Settings) -> GlanceImageSource:
    """The image service of this cloud, as its admin (``<data-dir>/clouds.yaml``)."""
    return GlanceImageSource(_admin_auth(settings))


def neutron_ports(settings: Settings) -> NeutronPorts:
    """The networking service of this cloud, binding ports as its admin."""
    return NeutronPorts(_admin_auth(settings))


def cinder_volumes(settings: Settings) -> CinderVolumes:
    """The block storage service of this cloud, reached as its admin."""
    return CinderVolumes(_admin_auth(settings))


def guest_secrets(settings: Settings) -> Sealer:
    """What opens the guests' passwords requests carry (``<data-dir>/guest-secret-keys``)."""
    return sealer_at(settings.data_dir / GUEST_SECRET_KEYS)


async def start_serial_proxy(
    settings: Settings, store: EventStore, hosts: dict[str, RunningHost]
) -> SerialProxy:
    """The serial console proxy for the guests of ``hosts`` (filled as they start:
    the proxy must listen first, since each host registers its URL)."""

    async def open_console(host: str, server_id: str) -> ConsoleChannel:
        name = guest_name(host, server_id)
        running = hosts.get(host)
        if running is None:
            raise GuestNotFound(name)
        return await running.driver.open_console(name)

    proxy = SerialProxy(store, open_console)
    await proxy.start(settings.serial_proxy_listen, settings.serial_proxy_url or "")
    return proxy


def compute_hosts_context(
    settings: Settings, *, images: ImageSource | None = None, **options: Any
) -> CleanupContext:
    """``settings.compute_hosts`` agents in this process (none for 0), each with its
    own connection to ``settings.hypervisor_uri``, fed by ``app[BUS]`` and appending
    to ``app[STORE]``. ``images`` replaces the image service (tests); ``options``
    override the agents' configuration defaults."""

    async def compute_hosts_ctx(app: web.Application) -> AsyncIterator[None]:
        names = host_names(settings.compute_hosts)
        if not names or settings.compute_hosts == 0:
            yield
            return
        uri = settings.hypervisor_uri
        source = images or glance_source(settings)
        ports = neutron_ports(settings)
        volumes = cinder_volumes(settings)
        secrets = guest_secrets(settings)
        running: dict[str, RunningHost] = {}
        proxy = await start_serial_proxy(settings, app[STORE], running)
        try:
            for name in names:
                running[name] = await start_host(
                    name,
                    open_driver=libvirt_opener(uri),
                    hypervisor=uri,
                    data_dir=settings.data_dir,
                    store=app[STORE],
                    bus=app[BUS],
                    images=source,
                    ports=ports,
                    volumes=volumes,
                    secrets=secrets,
                    serial_console_url=proxy.url,
                    **host_options(uri, dict(options)),
                )
            yield
        finally:
            await proxy.stop()
            for host in reversed(running.values()):
                try:
                    await host.stop()
                except Exception as exc:
                    log.error(
                        "compute host did not stop cleanly", host=host.agent.host, exc_info=exc
                    )
            await ports.close()
            await volumes.close()
            if images is None:
                await source.close()

    return compute_hosts_ctx
