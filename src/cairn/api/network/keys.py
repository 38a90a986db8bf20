"""Typed keys of the networking service: its core and configuration on the root application."""

from __future__ import annotations

from aiohttp import web

from cairn.network.config import NetworkConfig
from cairn.network.service import Networking

#: Set by the networking context; read by the handlers.
NETWORKING: web.AppKey[Networking] = web.AppKey("networking", Networking)
#: Set by the composition root before the networking context runs.
NETWORK_CONFIG: web.AppKey[NetworkConfig] = web.AppKey("network_config", NetworkConfig)
