"""Typed keys for what the runtime puts on the application and each request.

Handlers in any mounted service reach the root application's state through
``request.config_dict[STORE]`` (sub-applications see their parents' keys).
The composition root (:mod:`cairn.runtime`) sets these; the API layer only
knows the ports, never an adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from cairn.store.port import EventStore

if TYPE_CHECKING:
    from cairn.api.services import Service, ServiceRegistry
    from cairn.bus.port import Bus

HealthCheck = Callable[[], Awaitable[object]]
"""A readiness probe: returns when its resource answers, raises when it does not."""

STORE: web.AppKey[EventStore] = web.AppKey("store", EventStore)
BUS: web.AppKey[Bus] = web.AppKey("bus")
SERVICES: web.AppKey[ServiceRegistry] = web.AppKey("services")
HEALTH_CHECKS: web.AppKey[dict[str, HealthCheck]] = web.AppKey("health_checks")

# On a service's own sub-application: the service it serves.
SERVICE: web.AppKey[Service] = web.AppKey("service")

# On every request: its id, ``req-<uuid4>``, also sent as x-openstack-request-id.
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
