"""``/flavors``: list, show, create, update, delete; extra specs; access lists."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import (
    body_of,
    compute,
    integer,
    invalid,
    json,
    next_link,
    page,
    string,
    v,
    whole,
)
from cairn.api.compute.nova_types import body_boolean, query_boolean
from cairn.api.compute.views import flavor_view
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import flavors
from cairn.events import compute as ev
from cairn.projections.compute import Flavor


def _visible(request: web.Request, flavor_id: str) -> Flavor:
    who = caller(request)
    flavor = flavors.find(compute(request).state, flavor_id)
    if not flavors.visible(flavor, who.project_id, is_admin(who)):
        raise HTTPFault.not_found(f"Flavor {flavor_id} could not be found.")
    return flavor


def _sort_key(flavor: Flavor) -> tuple[int, str]:
    # Nova sorts by flavorid; numeric ids in number order ("2" before "10").
    number = whole(flavor.id)
    return (0, f"{number:020d}") if isinstance(number, int) and number >= 0 else (1, flavor.id)


async def _listing(request: web.Request, detail: bool) -> web.Response:
    who = caller(request)
    admin = is_admin(who)
    query = request.query
    # Nova: only admins filter by is_public (absent: public ones, "none": all);
    # everyone else sees the public flavors and the private ones shared with them.
    public: bool | None = True
    if admin and "is_public" in query:
        raw = query["is_public"]
        public = None if raw.strip().lower() == "none" else query_boolean(raw)
        if public is None and raw.strip().lower() != "none":
            raise HTTPFault.bad_request(f"Invalid is_public filter [{raw}]")
    minimums = {"minRam": 0, "minDisk": 0}
    for key in minimums:
        if key in query:
            value = whole(query[key])
            if not isinstance(value, int) or value < 0:
                raise HTTPFault.bad_request(f"Invalid {key} filter [{query[key]}]")
            minimums[key] = value
    min_ram, min_disk = minimums["minRam"], minimums["minDisk"]
    found = []
    for flavor in compute(request).state.flavors.values():
        if public is True and not (flavor.is_public or who.project_id in flavor.projects):
            continue
        if public is False and flavor.is_public:
            continue
        if flavor.ram_mb < min_ram or flavor.disk_gb < min_disk:
            continue
        found.append(flavor)
    found.sort(key=_sort_key)
    chosen, more = page(request, found, lambda f: f.id)
    body: dict[str, Any] = {
        "flavors": [flavor_view(request, f, v(request), detail=detail) for f in chosen]
    }
    if more:
        body["flavors_links"] = next_link(
            request, "flavors" + ("/detail" if detail else ""), chosen[-1].id
        )
    return json(body)


async def list_flavors(request: web.Request) -> web.Response:
    return await _listing(request, detail=False)


async def list_flavors_detail(request: web.Request) -> web.Response:
    return await _listing(request, detail=True)


async def show_flavor(request: web.Request) -> web.Response:
    flavor = _visible(request, request.match_info["flavor_id"])
    return json({"flavor": flavor_view(request, flavor, v(request), detail=True)})


def _number(data: dict[str, Any], key: str, default: int | None, minimum: int) -> int:
    if key not in data and default is None:
        raise HTTPFault.bad_request(f"Invalid input: '{key}' is a required property")
    return integer(data, key, default if default is not None else 0, minimum=minimum)


async def create_flavor(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-flavor-manage:create")
    data = await body_of(request, "flavor")
    name = string(data, "name", required=True, min_length=1) or ""
    if name != name.strip():
        raise invalid("name", name, "Leading and trailing whitespace is not allowed")
    flavor_id = data.get("id")
    if flavor_id is None:
        flavor_id = str(uuid.uuid4())
    elif isinstance(flavor_id, int) and not isinstance(flavor_id, bool):
        flavor_id = str(flavor_id)
    elif (
        not isinstance(flavor_id, str)
        or not 1 <= len(flavor_id) <= 255
        or flavor_id != flavor_id.strip()
    ):
        raise invalid("id", flavor_id, "The id must be a non-empty string without spaces")
    public = body_boolean(
        "os-flavor-access:is_public", data.get("os-flavor-access:is_public", True)
    )
    rxtx = data.get("rxtx_factor", 1.0)
    if isinstance(rxtx, bool) or not isinstance(rxtx, int | float) or rxtx <= 0:
        raise invalid("rxtx_factor", rxtx, "It must be a number greater than 0")
    description = None
    if "description" in data:
        if v(request) < (2, 55):
            raise HTTPFault.bad_request("Invalid input: 'description' needs microversion 2.55")
        description = string(data, "description", max_length=65535, nullable=True)
    event = ev.FlavorCreated(
        flavor_id=flavor_id, name=name,
        vcpus=_number(data, "vcpus", None, 1), ram_mb=_number(data, "ram", None, 1),
        disk_gb=_number(data, "disk", None, 0),
        ephemeral_gb=_number(data, "OS-FLV-EXT-DATA:ephemeral", 0, 0),
        swap_mb=_number(data, "swap", 0, 0) if data.get("swap") != "" else 0,
        rxtx_factor=float(rxtx), is_public=public, description=description,
    )  # fmt: skip
    meta = metadata(request, who)
    service = compute(request)
    await service.execute(lambda s: flavors.create(s, meta, event))
    flavor = flavors.find(service.state, flavor_id)
    return json({"flavor": flavor_view(request, flavor, v(request), detail=True)})


async def update_flavor(request: web.Request) -> web.Response:
    if v(request) < (2, 55):
        raise HTTPFault(405, "The method is not allowed for this resource.")
    who = await authorize(request, "os_compute_api:os-flavor-manage:update")
    data = await body_of(request, "flavor")
    if "description" not in data:
        raise HTTPFault.bad_request("Invalid input: 'description' is a required property")
    description = string(data, "description", max_length=65535, nullable=True)
    flavor_id = request.match_info["flavor_id"]
    meta = metadata(request, who)
    service = compute(request)
    await service.execute(lambda s: flavors.update(s, meta, flavor_id, description))
    flavor = flavors.find(service.state, flavor_id)
    return json({"flavor": flavor_view(request, flavor, v(request), detail=True)})


async def delete_flavor(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-flavor-manage:delete")
    flavor_id = request.match_info["flavor_id"]
    meta = metadata(request, who)
    await compute(request).execute(lambda s: flavors.delete(s, meta, flavor_id))
    return web.Response(status=202)


# -- extra specs ---------------------------------------------------------------------


def _specs_body(data: Any) -> dict[str, str]:
    if not isinstance(data, dict) or not data:
        raise HTTPFault.bad_request("Invalid input: extra specs must be a non-empty object")
    specs: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise invalid("extra_specs", key, "Keys are strings of 1 to 255 characters")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid(key, value, "Values are strings or numbers")
        text = str(value)
        if len(text) > 255:
            raise invalid(key, value, "Values are at most 255 characters")
        specs[key] = text
    return specs


async def list_extra_specs(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-flavor-extra-specs:index")
    flavor = _visible(request, request.match_info["flavor_id"])
    return json({"extra_specs": dict(flavor.extra_specs)})


async def create_extra_specs(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-flavor-extra-specs:create")
    body = await read_json(request)
    if not isinstance(body, dict) or "extra_specs" not in body:
        raise HTTPFault.bad_request("Invalid input: 'extra_specs' is a required property")
    specs = _specs_body(body["extra_specs"])
    flavor_id = request.match_info["flavor_id"]
    meta = metadata(request, who)
    service = compute(request)
    await service.execute(lambda s: flavors.set_extra_specs(s, meta, flavor_id, specs))
    return json({"extra_specs": specs})


async def show_extra_spec(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-flavor-extra-specs:show")
    flavor = _visible(request, request.match_info["flavor_id"])
    key = request.match_info["key"]
    if key not in flavor.extra_specs:
        raise HTTPFault.not_found(f"Flavor {flavor.id} has no extra specs with key {key}.")
    return json({key: flavor.extra_specs[key]})


async def update_extra_spec(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-flavor-extra-specs:update")
    key = request.match_info["key"]
    specs = _specs_body(await read_json(request))
    if list(specs) != [key]:
        raise HTTPFault.bad_request("Request body and URI mismatch")
    flavor_id = request.match_info["flavor_id"]
    meta = metadata(request, who)
    await compute(request).execute(lambda s: flavors.set_extra_specs(s, meta, flavor_id, specs))
    return json(specs)


async def delete_extra_spec(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-flavor-extra-specs:delete")
    flavor_id, key = request.match_info["flavor_id"], request.match_info["key"]
    meta = metadata(request, who)
    await compute(request).execute(lambda s: flavors.unset_extra_spec(s, meta, flavor_id, key))
    return web.Response(status=200)  # Nova's unset answers 200 (a flavor's delete is 202)


# -- access ----------------------------------------------------------------------------


def _access(flavor: Flavor) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor.id, "tenant_id": p} for p in flavor.projects]}


async def list_access(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-flavor-access")
    flavor = flavors.find(compute(request).state, request.match_info["flavor_id"])
    if flavor.is_public:
        raise HTTPFault.not_found("Access list not available for public flavors.")
    return json(_access(flavor))


async def flavor_action(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise HTTPFault.bad_request("Invalid input: one action is expected")
    ((name, args),) = body.items()
    if name not in ("addTenantAccess", "removeTenantAccess"):
        raise HTTPFault.bad_request(f"There is no such action: {name}")
    rule = "add_tenant_access" if name == "addTenantAccess" else "remove_tenant_access"
    who = await authorize(request, f"os_compute_api:os-flavor-access:{rule}")
    if not isinstance(args, dict):
        raise HTTPFault.bad_request("Invalid input: 'tenant' is a required property")
    project_id = string(args, "tenant", required=True, min_length=1) or ""
    flavor_id = request.match_info["flavor_id"]
    meta = metadata(request, who)
    service = compute(request)
    if name == "addTenantAccess":
        await service.execute(lambda s: flavors.add_access(s, meta, flavor_id, project_id))
    else:
        await service.execute(lambda s: flavors.remove_access(s, meta, flavor_id, project_id))
    return json(_access(flavors.find(service.state, flavor_id)))
