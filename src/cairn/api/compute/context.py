"""The compute service's lifetime: read model, default flavors, scheduler, sweeper."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from cairn.api.compute.keys import COMPUTE, COMPUTE_CONFIG, IMAGE_PORT, NETWORK_PORT
from cairn.api.keys import STORE
from cairn.compute.images import GlanceImages
from cairn.compute.service import Compute


async def compute_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[COMPUTE_CONFIG]
    given = app.get(IMAGE_PORT)
    glance = GlanceImages(config.public_url) if given is None else None
    compute = Compute(app[STORE], given or glance, config,  # type: ignore[arg-type]
                      networks=app.get(NETWORK_PORT))  # fmt: skip
    await compute.start()
    app[COMPUTE] = compute
    try:
        yield
    finally:
        await compute.stop()
        if glance is not None:
            await glance.close()
