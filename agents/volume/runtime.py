"""Running the volume agent in ``cairn up``: this machine's file backend.

The agent's pool is ``<data-dir>/volumes``; its backend is named as Cinder names
one (``<hostname>@file#file``, :func:`cairn.volume.config.default_backend_host`),
and the volume API gives every new volume to it. Image data for ``imageRef``
volumes comes from the image service as the cloud's admin (the same Glance
client the compute agent uses). The agent starts after every service (identity
has written ``clouds.yaml``) and stops before them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from cairn.agents.compute.images import ImageSource
from cairn.agents.compute.keystone_auth import CloudsYamlAuth
from cairn.agents.volume.agent import AgentConfig, VolumeAgent
from cairn.agents.volume.file_driver import FileVolumeDriver
from cairn.agents.volume.images_glance import GlanceImageStore
from cairn.api.keys import STORE
from cairn.api.services import CleanupContext
from cairn.config import Settings
from cairn.logs import get_logger
from cairn.volume.config import VolumeConfig

log = get_logger(__name__)

#: the running agent, for tests and tools
VOLUME_AGENT: web.AppKey[VolumeAgent] = web.AppKey("volume_agent", VolumeAgent)


def pool_dir(data_dir: Path) -> Path:
    return data_dir / "volumes"


def volume_agent_context(
    settings: Settings, config: VolumeConfig, *, images: ImageSource | None = None
) -> CleanupContext:
    """The volume agent of this machine's backend (``config.backend_host``)."""

    async def volume_agent_ctx(app: web.Application) -> AsyncIterator[None]:
        glance = GlanceImageStore(
            CloudsYamlAuth(settings.data_dir / "clouds.yaml", password=settings.admin_password)
        )
        source = images or glance
        driver = FileVolumeDriver(pool_dir(settings.data_dir), settings.volume_format)
        agent = VolumeAgent(
            app[STORE],
            driver,
            source,
            AgentConfig(host=config.backend_host, operation_timeout=config.operation_timeout),
            uploads=glance,
        )
        await agent.start()
        app[VOLUME_AGENT] = agent
        log.info("volume agent running", host=config.backend_host, pool=str(driver.root))
        try:
            yield
        finally:
            await agent.stop()
            await glance.close()

    return volume_agent_ctx
