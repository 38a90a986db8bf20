"""Services as data: what a service mounts, and the registry that mounts them.

Every OpenStack service Cairn offers lives under its own path prefix on the
one HTTP port, as DevStack lays them out (:data:`PREFIXES`). A service is a
:class:`Service` value: its name, its routes, and the resources it needs while
it runs. Mounting it is one line in the composition root's list
(``cairn.runtime.SERVICES``)::

    # cairn/api/compute/__init__.py
    SERVICE = Service(
        name="compute",
        title="Compute (Nova v2.1)",
        routes=[
            get("/", versions),
            get("/v2.1/servers", servers.index),
            post("/v2.1/servers", servers.create),
        ],
        contexts=[server_read_model],      # cleanup_ctx generators
        middlewares=[microversions],
        catalog=[CatalogEntry("compute", "nova", "/v2.1")],
    )

Each service becomes an aiohttp sub-application (:meth:`Service.build`), so its
routes are written relative to its prefix and its middlewares see only its
requests; :func:`cairn.api.app.build_app` mounts them in registry order.

A service's ``catalog`` entries are what identity's bootstrap lists in the
service catalog: the catalog is derived from the services mounted in this
process, so a service that is not served is not advertised, and a new one
appears in every token by registering itself here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from cairn.api.faults import FaultStyle, nova_fault
from cairn.api.keys import SERVICE

CleanupContext = Callable[[web.Application], AsyncIterator[None]]

# Service name (its OpenStack service type where one exists) -> path prefix.
PREFIXES: dict[str, str] = {
    "identity": "/identity",
    "compute": "/compute",
    "image": "/image",
    "network": "/networking",
    "block-storage": "/volume",
    "object-store": "/object-store",
    "orchestration": "/orchestration",
    "dashboard": "/dashboard",
    "events": "/events",
}

# Paths the root application answers itself.
RESERVED = frozenset({"/", "/healthz"})

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "COPY"})


@dataclass(frozen=True, slots=True)
class Route:
    """One route: ``path`` is relative to the service's prefix (``""`` is the
    prefix itself, ``"/"`` the prefix with a slash). A ``GET`` route also
    answers ``HEAD``."""

    method: str
    path: str
    handler: Handler
    name: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown HTTP method {self.method!r} for route {self.path!r}")
        if self.path and not self.path.startswith("/"):
            raise ValueError(f"route path {self.path!r} must be empty or start with '/'")


def get(path: str, handler: Handler, *, name: str | None = None) -> Route:
    return Route("GET", path, handler, name)


def post(path: str, handler: Handler, *, name: str | None = None) -> Route:
    return Route("POST", path, handler, name)


def put(path: str, handler: Handler, *, name: str | None = None) -> Route:
    return Route("PUT", path, handler, name)


def patch(path: str, handler: Handler, *, name: str | None = None) -> Route:
    return Route("PATCH", path, handler, name)


def delete(path: str, handler: Handler, *, name: str | None = None) -> Route:
    return Route("DELETE", path, handler, name)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One entry of the service catalog for a mounted service: its OpenStack
    service ``type`` and ``name``, and its endpoint's ``path`` under the
    service's prefix (``""`` is the prefix itself; ``$(project_id)s`` is
    substituted per token, as Keystone does)."""

    type: str
    name: str
    path: str = ""

    def __post_init__(self) -> None:
        if self.path and not self.path.startswith("/"):
            raise ValueError(f"catalog path {self.path!r} must be empty or start with '/'")


@dataclass(frozen=True, slots=True)
class Service:
    """A service mounted under ``prefix`` (by default its entry in :data:`PREFIXES`).

    ``contexts`` are aiohttp ``cleanup_ctx`` generators for what the service
    runs (read models, followers). They receive the *root* application, where
    the runtime's resources are (``app[STORE]``), and publish their own state
    there under their own ``AppKey``; handlers read it with
    ``request.config_dict[KEY]``. They are set up after the store and bus and
    before the server accepts requests, and torn down after the last request
    finished, before the store closes.
    ``middlewares`` see only this service's requests (microversions, auth).
    ``fault_style`` shapes this service's error bodies (Nova's by default).
    ``catalog`` is what the service catalog lists for it (none: not listed).
    """

    name: str
    routes: Sequence[Route]
    prefix: str = ""
    title: str = ""
    contexts: Sequence[CleanupContext] = ()
    middlewares: Sequence[Middleware] = ()
    fault_style: FaultStyle = field(default=nova_fault)
    catalog: Sequence[CatalogEntry] = ()

    def __post_init__(self) -> None:
        if not self.prefix:
            if self.name not in PREFIXES:
                raise ValueError(f"service {self.name!r} has no standard prefix; give one")
            object.__setattr__(self, "prefix", PREFIXES[self.name])
        prefix = self.prefix
        if not prefix.startswith("/") or prefix.endswith("/") or prefix in RESERVED:
            raise ValueError(f"service {self.name!r}: bad prefix {prefix!r} (use '/name')")
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            if (route.method, route.path) in seen:
                raise ValueError(f"service {self.name!r}: {route.method} {route.path!r} twice")
            seen.add((route.method, route.path))

    def build(self) -> web.Application:
        """This service as a sub-application, ready for ``add_subapp``."""
        app = web.Application(middlewares=list(self.middlewares))
        app[SERVICE] = self
        declared = {(r.method, r.path) for r in self.routes}
        for route in self.routes:
            if route.method == "GET" and ("HEAD", route.path) not in declared:
                app.router.add_get(route.path, route.handler, name=route.name)  # and HEAD
            else:
                app.router.add_route(route.method, route.path, route.handler, name=route.name)
        return app


class ServiceRegistry:
    """The services one process serves, in order, with unique names and prefixes."""

    def __init__(self, services: Iterable[Service] = ()) -> None:
        self._services: dict[str, Service] = {}
        for service in services:
            self.add(service)

    def add(self, service: Service) -> None:
        if service.name in self._services:
            raise ValueError(f"service {service.name!r} is registered twice")
        for other in self._services.values():
            if _overlaps(service.prefix, other.prefix):
                raise ValueError(
                    f"prefix {service.prefix!r} of {service.name!r} overlaps "
                    f"{other.prefix!r} of {other.name!r}"
                )
        self._services[service.name] = service

    def __iter__(self) -> Iterator[Service]:
        return iter(self._services.values())

    def __len__(self) -> int:
        return len(self._services)

    def __contains__(self, name: object) -> bool:
        return name in self._services

    def __getitem__(self, name: str) -> Service:
        return self._services[name]

    def catalog(self) -> list[tuple[str, str, str]]:
        """``(type, name, path)`` for each catalog entry of the mounted services,
        the path under the cloud's base URL."""
        return [
            (entry.type, entry.name, service.prefix + entry.path)
            for service in self
            for entry in service.catalog
        ]


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")
