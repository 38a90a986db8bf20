"""``/v3/regions``, ``/v3/services`` and ``/v3/endpoints``: the service catalog."""

from __future__ import annotations

from typing import Literal

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.identity import render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import Name, Text, filtered, json, path_id, run, state
from cairn.events import NO_STREAM, Metadata, registry, stream_name
from cairn.events import identity as ev
from cairn.identity.decide import change, create, find, new_id
from cairn.identity.errors import Conflict, Invalid
from cairn.projections.identity import IdentityState
from cairn.store.port import StreamWrite

Url = Name


async def list_regions(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_regions", {})
    items = filtered(request, state(request).regions.values(), "parent_region_id")
    return json(render.collection(request, "regions", [render.region(request, r) for r in items]))


async def get_region(request: web.Request) -> web.Response:
    region_id = path_id(request, "region_id")
    await authorize(request, "identity:get_region", {})
    return json(
        {"region": render.region(request, find(state(request).regions, region_id, "region"))}
    )


async def list_services(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_services", {})
    items = filtered(request, state(request).services.values(), "type", "name")
    return json(render.collection(request, "services", [render.service(request, s) for s in items]))


async def get_service(request: web.Request) -> web.Response:
    service_id = path_id(request, "service_id")
    await authorize(request, "identity:get_service", {})
    service = find(state(request).services, service_id, "service")
    return json({"service": render.service(request, service)})


async def list_endpoints(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_endpoints", {})
    items = filtered(request, state(request).endpoints.values(), "interface", "service_id")
    if "region_id" in request.query:
        items = [e for e in items if e.region_id == request.query["region_id"]]
    return json(
        render.collection(request, "endpoints", [render.endpoint(request, e) for e in items])
    )


async def get_endpoint(request: web.Request) -> web.Response:
    endpoint_id = path_id(request, "endpoint_id")
    await authorize(request, "identity:get_endpoint", {})
    endpoint = find(state(request).endpoints, endpoint_id, "endpoint")
    return json({"endpoint": render.endpoint(request, endpoint)})


class NewRegion(msgspec.Struct):
    id: Name | None = None
    description: Text | None = None
    parent_region_id: Name | None = None


class RegionBody(msgspec.Struct):
    region: NewRegion


class RegionChange(msgspec.Struct):
    description: Text | msgspec.UnsetType | None = msgspec.UNSET
    parent_region_id: Name | msgspec.UnsetType | None = msgspec.UNSET


class RegionChangeBody(msgspec.Struct):
    region: RegionChange


def _check_parent(s: IdentityState, region_id: str, parent_id: str | None) -> None:
    """The parent exists and is not the region itself or one of its descendants."""
    seen = {region_id}
    while parent_id is not None:
        if parent_id in seen:
            raise Invalid(f"Region {region_id} cannot be its own ancestor.")
        seen.add(parent_id)
        parent_id = find(s.regions, parent_id, "region").parent_region_id


async def _create_region(request: web.Request, event: ev.RegionCreated) -> web.Response:
    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        if event.region_id in s.regions:
            raise Conflict(f"Conflict occurred attempting to store region - {event.region_id}.")
        _check_parent(s, event.region_id, event.parent_region_id)
        return [create("region", event.region_id, m, event)]

    await run(request, decide)
    return json({"region": render.region(request, state(request).regions[event.region_id])}, 201)


async def create_region(request: web.Request) -> web.Response:
    await authorize(request, "identity:create_region", {})
    body = (await read_json(request, RegionBody)).region
    event = ev.RegionCreated(
        region_id=body.id or new_id(), description=body.description or "",
        parent_region_id=body.parent_region_id,
    )  # fmt: skip
    return await _create_region(request, event)


async def put_region(request: web.Request) -> web.Response:
    """``PUT /v3/regions/{id}``: create a region with the id of the path."""
    region_id = path_id(request, "region_id")
    await authorize(request, "identity:create_region", {})
    body = (await read_json(request, RegionBody)).region
    if body.id is not None and body.id != region_id:
        raise Invalid("The region id in the body differs from the one in the path.")
    event = ev.RegionCreated(
        region_id=region_id, description=body.description or "",
        parent_region_id=body.parent_region_id,
    )  # fmt: skip
    return await _create_region(request, event)


async def update_region(request: web.Request) -> web.Response:
    region_id = path_id(request, "region_id")
    await authorize(request, "identity:update_region", {})
    c = (await read_json(request, RegionChangeBody)).region
    old = find(state(request).regions, region_id, "region")
    event = ev.RegionUpdated(
        region_id=region_id,
        description=old.description if c.description is msgspec.UNSET else c.description or "",
        parent_region_id=old.parent_region_id
        if c.parent_region_id is msgspec.UNSET
        else c.parent_region_id,
    )

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.regions, region_id, "region")
        _check_parent(s, region_id, event.parent_region_id)
        return [change(s, "region", region_id, m, event)]

    await run(request, decide)
    return json({"region": render.region(request, state(request).regions[region_id])})


class NewService(msgspec.Struct):
    type: Name
    name: Name | None = None
    description: Text | None = None
    enabled: bool = True


class ServiceBody(msgspec.Struct):
    service: NewService


async def create_service(request: web.Request) -> web.Response:
    await authorize(request, "identity:create_service", {})
    body = (await read_json(request, ServiceBody)).service
    event = ev.ServiceCreated(
        service_id=new_id(), type=body.type, name=body.name or "",
        description=body.description or "", enabled=body.enabled,
    )  # fmt: skip
    await run(request, lambda s, m: [create("service", event.service_id, m, event)])
    return json(
        {"service": render.service(request, state(request).services[event.service_id])}, 201
    )


def _region_for(s: IdentityState, m: Metadata, region_id: str | None) -> list[StreamWrite]:
    """An endpoint's region, created with it when it does not exist (as Keystone does)."""
    if region_id is None or region_id in s.regions:
        return []
    return [create("region", region_id, m, ev.RegionCreated(region_id=region_id))]


class NewEndpoint(msgspec.Struct):
    service_id: Name
    interface: Literal["public", "internal", "admin"]
    url: Url
    region_id: Name | None = None
    region: Name | None = None
    enabled: bool = True


class EndpointBody(msgspec.Struct):
    endpoint: NewEndpoint


async def create_endpoint(request: web.Request) -> web.Response:
    await authorize(request, "identity:create_endpoint", {})
    body = (await read_json(request, EndpointBody)).endpoint
    event = ev.EndpointCreated(
        endpoint_id=new_id(), service_id=body.service_id, interface=body.interface, url=body.url,
        region_id=body.region_id or body.region, enabled=body.enabled,
    )  # fmt: skip

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.services, event.service_id, "service")
        stream = stream_name("endpoint", event.endpoint_id)
        return [*_region_for(s, m, event.region_id),
                StreamWrite(stream, [registry.new(event, m)], NO_STREAM)]  # fmt: skip

    await run(request, decide)
    endpoint = state(request).endpoints[event.endpoint_id]
    return json({"endpoint": render.endpoint(request, endpoint)}, 201)


class ServiceChange(msgspec.Struct):
    type: Name | msgspec.UnsetType = msgspec.UNSET
    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Text | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class ServiceChangeBody(msgspec.Struct):
    service: ServiceChange


async def update_service(request: web.Request) -> web.Response:
    service_id = path_id(request, "service_id")
    await authorize(request, "identity:update_service", {})
    c = (await read_json(request, ServiceChangeBody)).service
    old = find(state(request).services, service_id, "service")
    event = ev.ServiceUpdated(
        service_id=service_id,
        type=old.type if c.type is msgspec.UNSET else c.type,
        name=old.name if c.name is msgspec.UNSET else c.name,
        description=old.description if c.description is msgspec.UNSET else c.description or "",
        enabled=old.enabled if c.enabled is msgspec.UNSET else c.enabled,
    )

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.services, service_id, "service")
        return [change(s, "service", service_id, m, event)]

    await run(request, decide)
    return json({"service": render.service(request, state(request).services[service_id])})


async def delete_service(request: web.Request) -> web.Response:
    service_id = path_id(request, "service_id")
    await authorize(request, "identity:delete_service", {})

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.services, service_id, "service")
        return [change(s, "service", service_id, m, ev.ServiceDeleted(service_id=service_id))]

    await run(request, decide)
    return web.Response(status=204)


class EndpointChange(msgspec.Struct):
    interface: Literal["public", "internal", "admin"] | msgspec.UnsetType = msgspec.UNSET
    url: Url | msgspec.UnsetType = msgspec.UNSET
    region_id: Name | msgspec.UnsetType | None = msgspec.UNSET
    #: The older name of ``region_id``, still sent by clients.
    region: Name | msgspec.UnsetType | None = msgspec.UNSET
    service_id: Name | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


class EndpointChangeBody(msgspec.Struct):
    endpoint: EndpointChange


async def update_endpoint(request: web.Request) -> web.Response:
    endpoint_id = path_id(request, "endpoint_id")
    await authorize(request, "identity:update_endpoint", {})
    c = (await read_json(request, EndpointChangeBody)).endpoint
    if c.region_id is msgspec.UNSET and c.region is not msgspec.UNSET:
        c.region_id = c.region
    old = find(state(request).endpoints, endpoint_id, "endpoint")
    event = ev.EndpointUpdated(
        endpoint_id=endpoint_id,
        service_id=old.service_id if c.service_id is msgspec.UNSET else c.service_id,
        interface=old.interface if c.interface is msgspec.UNSET else c.interface,
        url=old.url if c.url is msgspec.UNSET else c.url,
        region_id=old.region_id if c.region_id is msgspec.UNSET else c.region_id,
        enabled=old.enabled if c.enabled is msgspec.UNSET else c.enabled,
    )

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.endpoints, endpoint_id, "endpoint")
        find(s.services, event.service_id, "service")
        return [*_region_for(s, m, event.region_id), change(s, "endpoint", endpoint_id, m, event)]

    await run(request, decide)
    return json({"endpoint": render.endpoint(request, state(request).endpoints[endpoint_id])})


async def delete_endpoint(request: web.Request) -> web.Response:
    endpoint_id = path_id(request, "endpoint_id")
    await authorize(request, "identity:delete_endpoint", {})

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.endpoints, endpoint_id, "endpoint")
        event = ev.EndpointDeleted(endpoint_id=endpoint_id)
        return [change(s, "endpoint", endpoint_id, m, event)]

    await run(request, decide)
    return web.Response(status=204)


async def delete_region(request: web.Request) -> web.Response:
    region_id = path_id(request, "region_id")
    await authorize(request, "identity:delete_region", {})

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.regions, region_id, "region")
        if any(e.region_id == region_id for e in s.endpoints.values()):
            raise Conflict(f"Region {region_id} still has endpoints.")
        if any(r.parent_region_id == region_id for r in s.regions.values()):
            raise Conflict(f"Region {region_id} still has child regions.")
        return [change(s, "region", region_id, m, ev.RegionDeleted(region_id=region_id))]

    await run(request, decide)
    return web.Response(status=204)
