"""The image service's lifetime: files, read model, core, reconciliation, default image."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from cairn.api.identity.keys import IDENTITY
from cairn.api.image.keys import IMAGE_CONFIG, IMAGES
from cairn.api.keys import STORE
from cairn.image.default_image import ensure_default_image
from cairn.image.files import ImageFiles
from cairn.image.service import Images
from cairn.logs import get_logger
from cairn.projections.image import ImageProjection
from cairn.readmodel import ProjectionRunner

log = get_logger(__name__)


async def image_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[IMAGE_CONFIG]
    files = ImageFiles(config.images_dir)
    cleaned = await asyncio.to_thread(files.prepare)
    runner = ProjectionRunner(app[STORE], ImageProjection())
    await runner.start()
    try:
        service = Images(app[STORE], runner, files, config.limits)
        app[IMAGES] = service
        await service.reconcile()
        if config.guest_dir is not None:
            await ensure_default_image(service, app[IDENTITY].state, config.guest_dir)
        log.info("image service ready", images=len(service.state.images), tmp_removed=cleaned)
        yield
    finally:
        if IMAGES in app:
            await app[IMAGES].downloads.stop()
        await runner.stop()
