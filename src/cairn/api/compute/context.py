"""The compute service's lifetime: read model, default flavors, scheduler, sweeper."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from cairn.api.compute.keys import COMPUTE, COMPUTE_CONFIG, IMAGE_PORT, NETWORK_PORT
from cairn.api.keys import STORE
from cairn.compute.service import Compute


async def compute_ctx(app: web.Application) -> AsyncIterator[None]:
    # The image and network ports are adapters the composition root chose
    # (cairn.runtime); the API only knows their ports.
    config = app[COMPUTE_CONFIG]
    compute = Compute(app[STORE], app[IMAGE_PORT], config, networks=app.get(NETWORK_PORT))
    await compute.start()
    app[COMPUTE] = compute
    try:
        yield
    finally:
        await compute.stop()
