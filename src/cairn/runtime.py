"""The composition root: the one place that wires adapters into the API.

``cairn up`` calls :func:`run`; tests call :func:`serve` (or :func:`build_app`
with aiohttp's test server). The process holds, in start order:

1. the event store (:func:`cairn.store.open_store`, from ``settings.store_url``),
2. the bus (:func:`cairn.bus.open_bus`: in-process, or RabbitMQ),
3. the outbox relay, publishing committed events from the store to the bus,
4. each service's own contexts (read models, followers), in :data:`SERVICES` order,
5. the compute hosts run in this process (``settings.compute_hosts`` agents),
6. the HTTP server on ``settings.listen``.

Each resource is one aiohttp ``cleanup_ctx`` generator. Shutdown (SIGTERM or
SIGINT) reverses the order: stop accepting connections, let in-flight
requests finish (at most ``settings.shutdown_timeout`` seconds, then they are
cancelled), stop the services, stop the relay, close the bus, and close the
store, which first commits every append already accepted. A second signal
cuts the wait short.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

import aiohttp
import uvloop
from aiohttp import web

import cairn
from cairn.agents.network.runtime import network_agent_context
from cairn.agents.volume.runtime import volume_agent_context
from cairn.api import HEALTH_CHECKS, RUNNER_OPTIONS, STORE
from cairn.api import build_app as build_api
from cairn.api.compute import COMPUTE, COMPUTE_CONFIG, IMAGE_PORT
from cairn.api.compute import SERVICE as COMPUTE_SERVICE
from cairn.api.compute.keys import (
    IMAGE_DOCUMENTS,
    NETWORK_PORT,
    NETWORK_PROXY,
    SECURITY_GROUPS,
    VOLUME_DOCUMENTS,
)
from cairn.api.events import SERVICE as EVENTS_SERVICE
from cairn.api.events import STREAM_CONFIG, StreamConfig
from cairn.api.identity import GENERATED_ADMIN_PASSWORD, IDENTITY_CONFIG
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.api.image import IMAGE_CONFIG
from cairn.api.image import SERVICE as IMAGE_SERVICE
from cairn.api.keys import BUS
from cairn.api.network import NETWORKING
from cairn.api.network import SERVICE as NETWORK_SERVICE
from cairn.api.services import CleanupContext, Service
from cairn.api.volume import SERVICE as VOLUME_SERVICE
from cairn.api.volume import VOLUME_CONFIG
from cairn.bus import open_bus
from cairn.bus.relay import OutboxRelay
from cairn.compute.config import ComputeConfig
from cairn.compute.image_documents import GlanceImageDocuments
from cairn.compute.images import GlanceImages
from cairn.compute.volume_documents import CinderVolumeDocuments
from cairn.compute_hosts import compute_hosts_context
from cairn.config import Listen, Settings, default_guest_dir, redact_url
from cairn.errors import CairnError
from cairn.identity.config import IdentityConfig
from cairn.image.config import ImageConfig
from cairn.image.decide import Limits
from cairn.logs import get_logger
from cairn.network.compute_port import LocalNetworks
from cairn.network.nova_groups import NovaSecurityGroups
from cairn.network.nova_proxy import NovaNetworkProxy
from cairn.projections.compute import ComputeState
from cairn.sealing import GUEST_SECRET_KEYS
from cairn.store import open_store
from cairn.volume.config import VolumeConfig

log = get_logger(__name__)

#: The services this process serves. A new service adds one line here.
SERVICES: tuple[Service, ...] = (
    IDENTITY_SERVICE,
    IMAGE_SERVICE,
    NETWORK_SERVICE,
    VOLUME_SERVICE,
    COMPUTE_SERVICE,
    EVENTS_SERVICE,
)

PROBE_TIMEOUT = 5.0


class StartupError(CairnError):
    """A resource could not be opened (store, bus, listening socket); the
    message names it, with credentials redacted."""


class Stopper:
    """Why and how the process should stop; set once, by a signal or a failure."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason = ""
        self.exit_code = 0

    def request(self, reason: str, exit_code: int = 0) -> None:
        if not self.event.is_set():
            self.reason, self.exit_code = reason, exit_code
            self.event.set()

    @property
    def requested(self) -> bool:
        return self.event.is_set()


STOPPER: web.AppKey[Stopper] = web.AppKey("stopper", Stopper)


# -- resources, one cleanup context each ---------------------------------------


def store_context(settings: Settings) -> CleanupContext:
    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        where = redact_url(settings.store_url)
        try:
            store = await open_store(settings.store_url)
        except Exception as exc:
            raise StartupError(f"cannot open the event store at {where}: {exc}") from exc
        app[STORE] = store
        app[HEALTH_CHECKS]["store"] = store.head
        log.info("event store open", store=where)
        try:
            yield
        finally:
            await store.close()
            log.info("event store closed", store=where)

    return store_ctx


def bus_context(settings: Settings) -> CleanupContext:
    async def bus_ctx(app: web.Application) -> AsyncIterator[None]:
        where = redact_url(settings.bus)
        try:
            bus = await open_bus(settings.bus)
        except Exception as exc:
            raise StartupError(f"cannot connect to the bus at {where}: {exc}") from exc
        app[BUS] = bus
        log.info("bus open", bus=where)
        try:
            yield
        finally:
            await bus.close()
            log.info("bus closed", bus=where)

    return bus_ctx


async def relay_ctx(app: web.Application) -> AsyncIterator[None]:
    relay = OutboxRelay(app[STORE], app[BUS])
    task = asyncio.create_task(relay.run(), name="cairn-outbox-relay")
    stopper = app.get(STOPPER)

    def on_done(task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("outbox relay failed", exc_info=task.exception())
        if stopper is not None:
            stopper.request("the outbox relay failed", exit_code=1)

    task.add_done_callback(on_done)
    log.info("outbox relay running")
    try:
        yield
    finally:
        await relay.stop()
        with contextlib.suppress(Exception):  # a failure was logged by on_done
            await task
        log.info("outbox relay stopped")


def public_url(settings: Settings) -> str:
    """The base URL the catalog and ``clouds.yaml`` name: the listening address."""
    return f"http://{_url_host(settings.listen.host)}:{settings.listen.port}"


def identity_config(settings: Settings) -> IdentityConfig:
    return IdentityConfig(
        data_dir=settings.data_dir,
        public_url=public_url(settings),
        admin_password=settings.admin_password,
        bcrypt_cost=settings.bcrypt_cost,
        token_ttl=settings.token_ttl,
        policy_file=settings.policy_file,
        lockout_attempts=settings.lockout_attempts,
        lockout_seconds=settings.lockout_seconds,
    )


def image_config(settings: Settings) -> ImageConfig:
    if settings.guest_dir == "none":
        guest_dir = None
    elif settings.guest_dir is not None:
        guest_dir = Path(settings.guest_dir)
    else:
        guest_dir = default_guest_dir(os.environ)
    return ImageConfig(
        data_dir=settings.data_dir,
        limits=Limits(images=settings.image_quota_images, bytes=settings.image_quota_bytes),
        guest_dir=guest_dir,
    )


def compute_config(settings: Settings) -> ComputeConfig:
    return ComputeConfig(
        public_url=public_url(settings),
        scheduler_strategy=settings.scheduler_strategy,
        scheduler_max_attempts=settings.scheduler_max_attempts,
        deadline=settings.compute_deadline,
        max_limit=settings.api_max_limit,
        reclaim_interval=settings.reclaim_instance_interval,
        shelved_offload_time=settings.shelved_offload_time,
        resize_confirm_window=settings.resize_confirm_window,
        guest_secret_keys=settings.data_dir / GUEST_SECRET_KEYS,
    )


def volume_config(settings: Settings) -> VolumeConfig:
    return VolumeConfig(
        data_dir=settings.data_dir,
        public_url=public_url(settings),
        volume_format=settings.volume_format,
    )


def config_context(settings: Settings) -> CleanupContext:
    """Puts each service's configuration on the application, before the resources open."""

    async def config_ctx(app: web.Application) -> AsyncIterator[None]:
        app[IDENTITY_CONFIG] = identity_config(settings)
        app[IMAGE_CONFIG] = image_config(settings)
        app[COMPUTE_CONFIG] = compute_config(settings)
        app[VOLUME_CONFIG] = volume_config(settings)
        app[STREAM_CONFIG] = StreamConfig(buffer=settings.stream_buffer)
        yield

    return config_ctx


def compute_images_context(settings: Settings) -> CleanupContext:
    """Compute's image port: this cloud's image service over HTTP (Glance's API),
    unless one was set already (tests set an in-memory one)."""

    async def compute_images_ctx(app: web.Application) -> AsyncIterator[None]:
        if app.get(IMAGE_PORT) is not None:
            yield
            return
        glance = GlanceImages(public_url(settings))
        app[IMAGE_PORT] = glance
        app[IMAGE_DOCUMENTS] = GlanceImageDocuments(glance)
        # Nova's volume proxy asks block storage on the same session
        app[VOLUME_DOCUMENTS] = CinderVolumeDocuments(glance.base_url, glance._client)
        try:
            yield
        finally:
            await glance.close()

    return compute_images_ctx


def resource_contexts(settings: Settings) -> list[CleanupContext]:
    """The runtime's resources in start order (they stop in reverse)."""
    return [config_context(settings), store_context(settings), bus_context(settings), relay_ctx]


def _compute_state(app: web.Application) -> ComputeState | None:
    compute = app.get(COMPUTE)
    return None if compute is None else compute.state


def build_app(settings: Settings, services: Iterable[Service] = SERVICES) -> web.Application:
    """The whole cloud as one aiohttp application; resources open on startup.

    The compute hosts start after every service (identity has written the
    ``clouds.yaml`` they authenticate with, and the scheduler follows the log
    before they register) and stop before them."""
    services = list(services)
    names = {service.name for service in services}
    contexts = resource_contexts(settings)
    if "compute" in names:
        contexts.append(compute_images_context(settings))
    app = build_api(services, contexts=contexts)
    if {"compute", "network"} <= names:
        # Compute's NICs are ports of this process's networking service (its
        # core starts before compute's, and before any request).
        app[NETWORK_PORT] = LocalNetworks(lambda: app[NETWORKING])
        app[SECURITY_GROUPS] = NovaSecurityGroups(lambda: app[NETWORKING])
        app[NETWORK_PROXY] = NovaNetworkProxy(lambda: app[NETWORKING])
    if "network" in names:
        app.cleanup_ctx.append(network_agent_context(settings, compute=_compute_state))
    if "block-storage" in names:
        app.cleanup_ctx.append(volume_agent_context(settings, volume_config(settings)))
    if "compute" in names:
        app.cleanup_ctx.append(compute_hosts_context(settings))
    return app


# -- serving -------------------------------------------------------------------


def _url_host(host: str) -> str:
    """A host to reach a server bound to ``host``: loopback for wildcard binds."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


async def _probe(url: str) -> None:
    """Return once ``url`` answers /healthz with 200."""
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
    headers = {"User-Agent": f"cairn/{cairn.__version__} startup-probe"}
    async with (
        aiohttp.ClientSession(timeout=timeout, headers=headers) as session,
        session.get(url + "/healthz") as response,
    ):
        if response.status != 200:
            raise StartupError(f"{url}/healthz answered {response.status}: {await response.text()}")


async def serve(
    settings: Settings,
    *,
    services: Iterable[Service] = SERVICES,
    stopper: Stopper | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> int:
    """Run the cloud until ``stopper`` is requested; return the exit code.

    ``on_ready`` gets the base URL (``http://host:port``) once the server
    answers. Raises :class:`StartupError` when a resource cannot be opened; what
    was opened by then is closed again.
    """
    started = time.monotonic()
    stopper = stopper or Stopper()
    log.info(
        "starting Cairn",
        version=cairn.__version__,
        listen=str(settings.listen),
        store=redact_url(settings.store_url),
        bus=redact_url(settings.bus),
        data_dir=str(settings.data_dir),
    )
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cannot create the data directory {settings.data_dir}: {exc}") from exc

    app = build_app(settings, services)
    app[STOPPER] = stopper
    runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout, **RUNNER_OPTIONS)
    try:
        await runner.setup()
        port = await _listen(runner, settings.listen)
        url = f"http://{_url_host(settings.listen.host)}:{port}"
        await _probe(url)
        log.info("Cairn is up", url=url, startup_ms=round((time.monotonic() - started) * 1000))
        _show_generated_password(app, settings)
        if on_ready is not None and not stopper.requested:
            on_ready(url)
        await stopper.event.wait()
        log.info("stopping Cairn", reason=stopper.reason, timeout_s=settings.shutdown_timeout)
    finally:
        await runner.cleanup()
    log.info("Cairn stopped", exit_code=stopper.exit_code)
    return stopper.exit_code


def _show_generated_password(app: web.Application, settings: Settings) -> None:
    """Show a password this start generated, once, to the operator: on stderr (stdout
    carries only the "Cairn is up" line scripts wait for), never in a log line."""
    password = app.get(GENERATED_ADMIN_PASSWORD)
    if password is not None:
        where = settings.data_dir / "clouds.yaml"
        print(f"Generated the admin password: {password} (also in {where})", file=sys.stderr)
        sys.stderr.flush()


async def _listen(runner: web.AppRunner, listen: Listen) -> int:
    """Start listening on ``listen``; return the port (the one chosen, for port 0)."""
    site = web.TCPSite(runner, listen.host, listen.port)
    try:
        await site.start()
    except OSError as exc:
        raise StartupError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc
    ports = [address[1] for address in runner.addresses]
    return int(ports[0]) if ports else listen.port


def run(settings: Settings, *, on_ready: Callable[[str], None] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; the entry point of ``cairn up``."""
    # uvloop: asyncpg is built around it, and it takes a fifth or more off the
    # per-request and per-append cost of the event loop (docs/adr/0002).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_run(settings, on_ready))


async def _run(settings: Settings, on_ready: Callable[[str], None] | None) -> int:
    loop = asyncio.get_running_loop()
    stopper = Stopper()
    main = asyncio.current_task()

    def on_signal(signum: signal.Signals) -> None:
        if not stopper.requested:
            stopper.request(f"received {signum.name}")
        elif main is not None:
            log.warning("second signal: not waiting any longer", signal=signum.name)
            main.cancel()

    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await serve(settings, stopper=stopper, on_ready=on_ready)
    except asyncio.CancelledError:
        log.warning("Cairn stopped before it finished shutting down")
        return 1
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
