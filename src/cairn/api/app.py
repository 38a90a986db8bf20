"""The root application: the edge, the discovery document, health, and the services.

:func:`build_app` is all a caller needs; the composition root passes the
resources (store, bus, relay) as ``cleanup_ctx`` generators, tests pass none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiohttp import web

import cairn
from cairn.api.edge import edge_middleware, stamp_request_id
from cairn.api.faults import HTTPFault
from cairn.api.keys import HEALTH_CHECKS, SERVICES
from cairn.api.services import CleanupContext, Service, ServiceRegistry
from cairn.logs import get_logger

# Bodies larger than this are refused with 413 when a handler reads them whole;
# services that take bulk data (images, objects) stream ``request.content``.
MAX_BODY = 1024 * 1024
HEALTH_TIMEOUT = 2.0

log = get_logger(__name__)


def build_app(
    services: ServiceRegistry | Iterable[Service] = (),
    *,
    contexts: Iterable[CleanupContext] = (),
    max_body: int = MAX_BODY,
) -> web.Application:
    """The one application the HTTP port serves.

    ``contexts`` (the runtime's resources) are set up first, in order, then each
    service's own contexts; at shutdown they are torn down in reverse, so a
    service stops before the store it reads from closes.
    """
    registry = services if isinstance(services, ServiceRegistry) else ServiceRegistry(services)
    app = web.Application(middlewares=[edge_middleware], client_max_size=max_body)
    app[SERVICES] = registry
    app[HEALTH_CHECKS] = {}
    app.on_response_prepare.append(stamp_request_id)
    app.router.add_get("/", discovery)
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.extend(contexts)
    for service in registry:
        app.add_subapp(service.prefix, service.build())
        # Service contexts run on the root application, after the runtime's
        # (aiohttp tears a sub-application's own contexts down after its
        # parent's, which would close the store under a running service).
        app.cleanup_ctx.extend(service.contexts)
    return app


def _base_url(request: web.Request) -> str:
    return str(request.url.origin())


async def discovery(request: web.Request) -> web.Response:
    """``GET /``: Cairn's version and every mounted service with its endpoint."""
    base = _base_url(request)
    services = [
        {
            "name": service.name,
            "title": service.title or service.name,
            "prefix": service.prefix,
            "endpoint": base + service.prefix,
        }
        for service in request.app[SERVICES]
    ]
    return web.json_response(
        {
            "name": "Cairn",
            "version": cairn.__version__,
            "services": services,
            "links": [{"rel": "self", "href": base + "/"}],
        }
    )


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: 200 when every registered check answers, else 503."""
    checks = request.app[HEALTH_CHECKS]
    failed: dict[str, str] = {}
    for name, check in checks.items():
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await check()
        except Exception as exc:
            failed[name] = str(exc) or type(exc).__name__
    if failed:
        log.warning("health check failed", failed=failed)
        detail = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
        raise HTTPFault(503, f"Not healthy: {detail}")
    return web.json_response({"status": "ok", "checks": sorted(checks)})
