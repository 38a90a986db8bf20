"""``/os-aggregates``: host aggregates, their hosts, metadata and zone (admins only).

Bodies are msgspec Structs decoded by :func:`cairn.api.body.read_json`
(unknown fields are a 400, as Nova's ``additionalProperties: false``); the
string rules Nova's schema adds (no blank or padded names, no ``:`` in a
zone) are checked here. The decisions are :mod:`cairn.compute.aggregates`.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import compute, json, v, whole
from cairn.api.faults import HTTPFault
from cairn.compute import aggregates
from cairn.projections.compute_state import Aggregate

_META_KEY = re.compile(r"[a-zA-Z0-9-_:. ]{1,255}")


class _Fields(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    availability_zone: str | msgspec.UnsetType | None = msgspec.UNSET


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    aggregate: _Fields


class _Host(msgspec.Struct, forbid_unknown_fields=True):
    host: str


class _Metadata(msgspec.Struct, forbid_unknown_fields=True):
    metadata: dict[str, str | None]


class _Action(msgspec.Struct, forbid_unknown_fields=True):
    add_host: _Host | None = None
    remove_host: _Host | None = None
    set_metadata: _Metadata | None = None


def _view(request: web.Request, aggregate: Aggregate, *, full: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": aggregate.id,
        "name": aggregate.name,
        "availability_zone": aggregate.availability_zone,
        "created_at": aggregate.created_at,
        "updated_at": aggregate.updated_at,
        "deleted_at": None,
        "deleted": False,
    }
    if full:
        view["hosts"] = list(aggregate.hosts)
        view["metadata"] = dict(aggregate.metadata)
    if v(request) >= (2, 41):
        view["uuid"] = aggregate.uuid
    return view


def _text(field: str, value: str, *, zone: bool = False) -> str:
    if not 1 <= len(value) <= 255:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"The length must be between 1 and 255"
        )
    if value != value.strip():
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"Leading and trailing whitespace is not allowed"
        )
    if zone and ":" in value:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"An availability zone name may not contain ':'"
        )
    return value


def _zone(fields: _Fields) -> str | None:
    zone = fields.availability_zone
    return _text("availability_zone", zone, zone=True) if isinstance(zone, str) else None


def _aggregate_id(request: web.Request) -> int:
    raw = request.match_info["aggregate_id"]
    number = whole(raw)
    if not isinstance(number, int):
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute id. Value: {raw}. id must be an integer"
        )
    return number


async def list_aggregates(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-aggregates:index")
    found = sorted(compute(request).state.aggregates.values(), key=lambda a: a.id)
    return json({"aggregates": [_view(request, a) for a in found]})


async def show_aggregate(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-aggregates:show")
    aggregate = aggregates.find(compute(request).state, _aggregate_id(request))
    return json({"aggregate": _view(request, aggregate)})


async def create_aggregate(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-aggregates:create")
    fields = (await read_json(request, _Body)).aggregate
    if not isinstance(fields.name, str):
        raise HTTPFault.bad_request("Invalid input: 'name' is a required property")
    name, zone = _text("name", fields.name), _zone(fields)
    meta = metadata(request, who)
    service = compute(request)
    await service.execute(lambda s: aggregates.create(s, meta, name, zone))
    made = max(service.state.aggregates.values(), key=lambda a: a.id)
    return json({"aggregate": _view(request, made, full=False)})


async def update_aggregate(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-aggregates:update")
    aggregate_id = _aggregate_id(request)
    fields = (await read_json(request, _Body)).aggregate
    given = fields.availability_zone is not msgspec.UNSET
    if not isinstance(fields.name, str) and not given:
        raise HTTPFault.bad_request(
            "Invalid input: 'name' or 'availability_zone' is a required property"
        )
    # Nova strips a new name's padding here rather than refusing it.
    name = _text("name", fields.name.strip()) if isinstance(fields.name, str) else None
    zone = _zone(fields)
    meta = metadata(request, who)
    service = compute(request)
    await service.execute(lambda s: aggregates.update(s, meta, aggregate_id, name, zone, given))
    return json({"aggregate": _view(request, aggregates.find(service.state, aggregate_id))})


async def delete_aggregate(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-aggregates:delete")
    aggregate_id = _aggregate_id(request)
    meta = metadata(request, who)
    await compute(request).execute(lambda s: aggregates.delete(s, meta, aggregate_id))
    return web.Response(status=200)


async def aggregate_action(request: web.Request) -> web.Response:
    aggregate_id = _aggregate_id(request)
    action = await read_json(request, _Action)
    chosen = [n for n in ("add_host", "remove_host", "set_metadata") if getattr(action, n)]
    if len(chosen) != 1:
        raise HTTPFault.bad_request(
            "Invalid input: one of add_host, remove_host or set_metadata is expected"
        )
    (name,) = chosen
    who = await authorize(request, f"os_compute_api:os-aggregates:{name}")
    meta = metadata(request, who)
    service = compute(request)
    if action.set_metadata is not None:
        changes = action.set_metadata.metadata
        for key, value in changes.items():
            if not _META_KEY.fullmatch(key):
                raise HTTPFault.bad_request(
                    f"Invalid input for field/attribute metadata. Value: {key}. "
                    "Keys are 1 to 255 letters, digits, spaces and '-_:.'"
                )
            if value is not None and len(value) > 255:
                raise HTTPFault.bad_request(
                    f"Invalid input for field/attribute {key}. Value: {value}. "
                    "Values are at most 255 characters"
                )
        if isinstance(changes.get(aggregates.ZONE_KEY), str):
            _text("availability_zone", changes[aggregates.ZONE_KEY] or "", zone=True)
        await service.execute(lambda s: aggregates.set_metadata(s, meta, aggregate_id, changes))
    else:
        target = action.add_host or action.remove_host
        assert target is not None
        host = _text("host", target.host)
        if action.add_host is not None:
            await service.execute(lambda s: aggregates.add_host(s, meta, aggregate_id, host))
        else:
            await service.execute(lambda s: aggregates.remove_host(s, meta, aggregate_id, host))
    return json({"aggregate": _view(request, aggregates.find(service.state, aggregate_id))})
