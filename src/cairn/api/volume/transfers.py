"""``/v3/os-volume-transfer`` (and ``/v3/volume-transfers`` from 3.55): offer a
volume to another project, list, show, delete, accept with the key."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.volume.common import bad, body_of, boolean, caller, links, metadata, text, volumes
from cairn.api.volume.microversions import version
from cairn.api.volume.views import when
from cairn.projections.volume import Transfer, VolumeState
from cairn.volume import transfers as decide
from cairn.volume.writes import Writes


def _collection(request: web.Request) -> str:
    return "volume-transfers" if "volume-transfers" in request.path else "os-volume-transfer"


def _view(request: web.Request, t: Transfer, *, detail: bool = True) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "volume_id": t.volume_id,
        "links": links(request, _collection(request), t.id),
    }
    if detail:
        shown["created_at"] = when(t.created_at)
        mv = version(request)
        if mv >= (3, 55):
            shown["no_snapshots"] = t.no_snapshots
        if mv >= (3, 57):
            shown["source_project_id"] = t.project_id
            shown["destination_project_id"] = None
            shown["accepted"] = False
    return shown


async def create(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    body = await body_of(request, "transfer")
    volume_id = body.get("volume_id")
    if not isinstance(volume_id, str) or not volume_id:
        raise bad("'volume_id' is a required property")
    name = text(body.get("name"), "name")
    no_snapshots = False
    if "no_snapshots" in body:
        if version(request) < (3, 55):
            raise bad("no_snapshots needs microversion 3.55 or later.")
        no_snapshots = boolean(body["no_snapshots"], "no_snapshots")
    transfer_id, salt, key = str(uuid.uuid4()), secrets.token_hex(8), secrets.token_hex(8)
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        decide.create(
            state,
            who,
            w,
            transfer_id=transfer_id,
            volume_id=volume_id,
            name=name,
            salt=salt,
            key=key,
            no_snapshots=no_snapshots,
        )

    await service.run(metadata(request), command)
    shown = _view(request, service.state.transfers[transfer_id])
    shown["auth_key"] = key  # shown once, here; the log holds only its hash
    return web.json_response({"transfer": shown}, status=202)


def _listed(request: web.Request) -> list[Transfer]:
    who = caller(request)
    state = volumes(request).state
    return sorted(
        (t for t in state.transfers.values() if who.is_admin or t.project_id == who.project_id),
        key=lambda t: t.created_at,
    )


async def index(request: web.Request) -> web.Response:
    shown = [_view(request, t, detail=False) for t in _listed(request)]
    return web.json_response({"transfers": shown})


async def detail(request: web.Request) -> web.Response:
    return web.json_response({"transfers": [_view(request, t) for t in _listed(request)]})


async def show(request: web.Request) -> web.Response:
    who = caller(request)
    found = decide.find(volumes(request).state, who, request.match_info["id"])
    return web.json_response({"transfer": _view(request, found)})


async def delete(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    transfer_id = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, who, transfer_id, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def accept(request: web.Request) -> web.Response:
    who = caller(request, write=True)
    body = await body_of(request, "accept")
    key = body.get("auth_key")
    if not isinstance(key, str) or not key:
        raise bad("'auth_key' is a required property")
    transfer_id = request.match_info["id"]
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> Transfer:
        return decide.accept(state, who, service.config, transfer_id, key, w)

    try:
        accepted = await service.run(metadata(request), command)
    except KeyError:
        raise HTTPFault.not_found(f"Transfer {transfer_id} could not be found.") from None
    return web.json_response({"transfer": _view(request, accepted, detail=False)}, status=202)
