"""``cairn agent compute``: run one compute host as its own process.

The agent registers HOST with what its hypervisor offers, boots, acts on and
deletes the servers the scheduler places on it, and appends what happened to
the event store. Requests reach it through the bus (--bus amqp://..., a
durable queue compute.HOST) or, without a bus, by following the event store
itself. What works together:

  --store postgresql://... --bus amqp://...   scale-out: any machine
  --store sqlite:///FILE --bus amqp://...     the same machine as 'cairn up' with that bus
  --store sqlite:///FILE (no bus)             the same machine: the agent follows the file
                                              (another process's appends are seen within ~1 s)
  --store postgresql://... (no bus)           follows the database (LISTEN/NOTIFY)

The store must be the cloud's own (the one 'cairn up' uses); the in-process bus
of a 'cairn up' cannot be shared with another process. Images come from the
cloud's image service, as the admin of DATA_DIR/clouds.yaml, or from
--image-dir: a directory of Glance image documents ID.json, each with its data
in the file ID. Stop it with SIGTERM or Ctrl-C: it finishes (or, after a few
seconds, cancels) what is under way and says the host stopped; a killed agent
completes or fails what it left on its next start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
from pathlib import Path
from typing import Any

from cairn.cli.text import for_people
from cairn.config import OPTIONS, ConfigError, Settings
from cairn.errors import CairnError

#: The options of ``cairn up`` that an agent process uses.
AGENT_OPTIONS = (
    "data_dir",
    "store",
    "bus",
    "hypervisor",
    "log_level",
    "log_format",
    "admin_password",
    "serial_proxy_listen",
    "serial_proxy_url",
)


_HELP = {
    "admin_password": "the admin's password, to fetch images from the image service "
    "(default: the one in DATA_DIR/clouds.yaml)",
    "hypervisor": "libvirt URI of this host's hypervisor: qemu:///system or test:///default "
    "(default: qemu:///system where libvirtd answers, else test:///default)",
}


class AgentStartupError(CairnError):
    """The agent could not open what it needs (store, bus, hypervisor, images)."""


def register(commands: Any) -> None:
    agent: argparse.ArgumentParser = commands.add_parser(
        "agent", help="run an agent (compute host) as its own process", description="Run an agent."
    )
    sub = agent.add_subparsers(
        dest="agent_command", metavar="AGENT", required=True, parser_class=type(agent)
    )
    agent.set_defaults(parser=agent)
    compute = sub.add_parser(
        "compute",
        help="run one compute host",
        description=for_people(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compute.add_argument(
        "--host",
        metavar="NAME",
        default=None,
        help="the compute host's name; env CAIRN_COMPUTE_HOST (default: this machine's host name)",
    )
    for option in OPTIONS:
        if option.field in AGENT_OPTIONS:
            text = _HELP.get(option.field, option.help)
            compute.add_argument(
                option.flag,
                dest=option.field,
                metavar=option.metavar,
                default=None,
                help=f"{text}; env {option.env}",
            )
    compute.add_argument(
        "--image-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help="boot images from this directory (ID.json + ID) instead of the image service",
    )
    compute.add_argument(
        "--availability-zone",
        metavar="ZONE",
        default="nova",
        help="the availability zone the host is in (default: nova)",
    )
    compute.add_argument(
        "--heartbeat-interval",
        metavar="SECONDS",
        type=float,
        default=30.0,
        help="how often the agent says the host is alive (default: 30)",
    )
    compute.set_defaults(run=run, parser=compute)


def run(args: argparse.Namespace) -> int:
    import os

    settings = Settings.resolve({field: getattr(args, field) for field in AGENT_OPTIONS})
    host = args.host or os.environ.get("CAIRN_COMPUTE_HOST") or socket.gethostname().split(".")[0]
    if not host or "/" in host or host.startswith("."):
        raise ConfigError(f"invalid --host {host!r}: expected a host name")
    if not 1 <= args.heartbeat_interval <= 3600:
        raise ConfigError("invalid --heartbeat-interval: expected 1 to 3600 seconds")
    if not args.availability_zone or ":" in args.availability_zone:
        raise ConfigError(f"invalid --availability-zone {args.availability_zone!r}")
    if args.image_dir is not None and not args.image_dir.is_dir():
        raise ConfigError(f"invalid --image-dir {str(args.image_dir)!r}: no such directory")

    import uvloop

    from cairn import logs

    logs.configure(settings.log_level, settings.log_format)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(
            _serve(
                settings,
                host,
                args.image_dir,
                heartbeat_interval=args.heartbeat_interval,
                availability_zone=args.availability_zone,
            )
        )


async def _serve(settings: Settings, host: str, image_dir: Path | None, **options: Any) -> int:
    from cairn.agents.compute.images import ImageSource
    from cairn.agents.compute.images_local import LocalImageSource
    from cairn.agents.compute.runtime import RunningHost, start_host
    from cairn.bus import open_bus
    from cairn.compute_hosts import (
        cinder_volumes,
        glance_source,
        guest_secrets,
        host_options,
        libvirt_opener,
        neutron_ports,
        start_serial_proxy,
    )
    from cairn.config import redact_url
    from cairn.logs import get_logger
    from cairn.store import open_store

    log = get_logger("cairn.cli.agent")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with contextlib.AsyncExitStack() as resources:
        try:
            store = await open_store(settings.store_url)
        except Exception as exc:
            where = redact_url(settings.store_url)
            raise AgentStartupError(f"cannot open the event store at {where}: {exc}") from exc
        resources.push_async_callback(store.close)
        bus = None
        if settings.bus is not None:
            try:
                bus = await open_bus(settings.bus)
            except Exception as exc:
                where = redact_url(settings.bus)
                raise AgentStartupError(f"cannot connect to the bus at {where}: {exc}") from exc
            resources.push_async_callback(bus.close)
        images: ImageSource = (
            LocalImageSource.from_directory(image_dir) if image_dir else glance_source(settings)
        )
        resources.push_async_callback(images.close)
        ports = neutron_ports(settings)
        resources.push_async_callback(ports.close)
        volumes = cinder_volumes(settings)
        resources.push_async_callback(volumes.close)
        hosts: dict[str, RunningHost] = {}
        proxy = await start_serial_proxy(settings, store, hosts)
        resources.push_async_callback(proxy.stop)
        running = hosts[host] = await start_host(
            host,
            open_driver=libvirt_opener(settings.hypervisor_uri),
            hypervisor=settings.hypervisor_uri,
            data_dir=settings.data_dir,
            store=store,
            bus=bus,
            images=images,
            ports=ports,
            volumes=volumes,
            secrets=guest_secrets(settings),
            serial_console_url=proxy.url,
            **host_options(settings.hypervisor_uri, options),
        )
        resources.push_async_callback(running.stop)
        log.info(
            "compute agent running",
            host=host,
            hypervisor=settings.hypervisor_uri,
            store=redact_url(settings.store_url),
            feed=f"bus {redact_url(settings.bus)}" if bus else "following the store",
        )
        print(f"Compute agent {host} is up", flush=True)
        await stop.wait()
        log.info("stopping the compute agent", host=host)
    return 0
