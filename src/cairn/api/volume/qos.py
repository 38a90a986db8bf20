"""``/v3/qos-specs`` (admins): QoS specs, their keys, and their volume types."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume.common import bad, body_of, boolean, caller, links, metadata, volumes
from cairn.projections.volume import QosSpecs, VolumeState
from cairn.volume import qos as decide
from cairn.volume.writes import Writes


def _view(q: QosSpecs) -> dict[str, Any]:
    return {"id": q.id, "name": q.name, "consumer": q.consumer, "specs": dict(q.specs)}


def _specs(value: dict[str, Any]) -> dict[str, str]:
    specs = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise bad("QoS spec keys must be strings of 1 to 255 characters.")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise bad(f"QoS spec {key} must be a string or a number.")
        specs[key] = str(item)
    return specs


async def create(request: web.Request) -> web.Response:
    caller(request, admin=True)
    body = dict(await body_of(request, "qos_specs"))
    name = body.pop("name", None)
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise bad("Please specify a name for QoS specs.")
    consumer = body.pop("consumer", "back-end")
    if not isinstance(consumer, str):
        raise bad("consumer must be a string.")
    specs = _specs(body)
    qos_id = str(uuid.uuid4())
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.create(state, qos_id, name, consumer, specs, w)

    await service.run(metadata(request), command)
    made = service.state.qos_specs[qos_id]
    return web.json_response(
        {"qos_specs": _view(made), "links": links(request, "qos-specs", qos_id)}
    )


async def index(request: web.Request) -> web.Response:
    caller(request, admin=True)
    listed = sorted(volumes(request).state.qos_specs.values(), key=lambda q: q.created_at)
    return web.json_response({"qos_specs": [_view(q) for q in listed]})


async def show(request: web.Request) -> web.Response:
    caller(request, admin=True)
    found = decide.find(volumes(request).state, request.match_info["id"])
    return web.json_response(
        {"qos_specs": _view(found), "links": links(request, "qos-specs", found.id)}
    )


async def set_keys(request: web.Request) -> web.Response:
    caller(request, admin=True)
    wanted = _specs(await body_of(request, "qos_specs"))
    qos_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        found = decide.find(state, qos_id)
        decide.update(state, qos_id, {**found.specs, **wanted}, w)

    await volumes(request).run(metadata(request), command)
    return web.json_response({"qos_specs": wanted})


async def delete_keys(request: web.Request) -> web.Response:
    caller(request, admin=True)
    document = await read_json(request)
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise bad("'keys' must be a list of strings.")
    qos_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        found = decide.find(state, qos_id)
        missing = [k for k in keys if k not in found.specs]
        if missing:
            raise HTTPFault.not_found(f"QoS spec {missing[0]} is not found in {qos_id}.")
        decide.update(state, qos_id, {k: v for k, v in found.specs.items() if k not in keys}, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def delete(request: web.Request) -> web.Response:
    caller(request, admin=True)
    force = boolean(request.query.get("force", "false"), "force")
    qos_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, qos_id, w, force=force)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


def _type_id(request: web.Request) -> str:
    type_id = request.query.get("vol_type_id")
    if not type_id:
        raise bad("Please specify a volume type (vol_type_id).")
    return type_id


async def associate(request: web.Request) -> web.Response:
    caller(request, admin=True)
    qos_id, type_id = request.match_info["id"], _type_id(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.associate(state, qos_id, type_id, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def disassociate(request: web.Request) -> web.Response:
    caller(request, admin=True)
    qos_id, type_id = request.match_info["id"], _type_id(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.disassociate(state, qos_id, type_id, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def disassociate_all(request: web.Request) -> web.Response:
    caller(request, admin=True)
    qos_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.disassociate_all(state, qos_id, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def associations(request: web.Request) -> web.Response:
    caller(request, admin=True)
    state = volumes(request).state
    found = decide.find(state, request.match_info["id"])
    listed = [
        {"association_type": "volume_type", "id": t, "name": state.types[t].name}
        for t in decide.associated_types(state, found.id)
    ]
    return web.json_response({"qos_associations": listed})
