"""The block storage service's lifetime: read model, then the default volume type."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from cairn.api.keys import STORE
from cairn.api.volume.keys import IMAGE_LOOKUP, VOLUME_CONFIG, VOLUMES
from cairn.volume.config import VolumeConfig
from cairn.volume.images import GlanceImageLookup
from cairn.volume.service import Volumes
from cairn.volume.sweeper import VolumeDeadlineSweeper


async def volume_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app.get(VOLUME_CONFIG) or VolumeConfig()
    volumes = Volumes(app[STORE], config)
    made = None
    if IMAGE_LOOKUP not in app:
        made = app[IMAGE_LOOKUP] = GlanceImageLookup(config.public_url)
    await volumes.start()
    sweeper = VolumeDeadlineSweeper(
        app[STORE], volumes.runner, config.deadline, config.sweep_interval
    )
    sweeping = asyncio.create_task(sweeper.run(), name="volume-deadlines")
    try:
        await volumes.bootstrap()
        app[VOLUMES] = volumes
        yield
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
        await volumes.stop()
        if made is not None:
            await made.close()
