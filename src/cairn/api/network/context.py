"""The networking service's lifetime: read model, then the all-in-one's external
network and default subnet pool on the first start."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from cairn.api.identity.keys import IDENTITY
from cairn.api.keys import STORE
from cairn.api.network.keys import NETWORK_CONFIG, NETWORKING
from cairn.network.config import NetworkConfig
from cairn.network.service import Networking

ADMIN_PROJECT = "admin"


async def network_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app.get(NETWORK_CONFIG) or NetworkConfig()
    networking = Networking(app[STORE], config)
    await networking.start()
    try:
        identity = app[IDENTITY].state
        admin = next((p.id for p in identity.projects.values() if p.name == ADMIN_PROJECT), None)
        await networking.bootstrap(admin)
        app[NETWORKING] = networking
        yield
    finally:
        await networking.stop()
