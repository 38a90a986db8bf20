"""``/v3/messages`` (3.3+): what the service tells a project about failures it can
act on (a volume no backend could take), kept 30 days as Cinder keeps them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.volume.common import caller, links, metadata, volumes
from cairn.api.volume.microversions import version
from cairn.api.volume.views import when
from cairn.events import volume as ev
from cairn.projections.volume import UserMessage, VolumeState, message_stream
from cairn.volume.access import Caller
from cairn.volume.writes import Writes

TTL = dt.timedelta(days=30)


def _check(request: web.Request) -> Caller:
    if version(request) < (3, 3):
        raise HTTPFault.not_found("The resource could not be found.")
    return caller(request)


def _view(request: web.Request, m: UserMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "message_level": m.level,
        "event_id": m.event_id,
        "user_message": m.message,
        "resource_type": m.resource_type,
        "resource_uuid": m.resource_uuid,
        "request_id": m.request_id,
        "created_at": when(m.created_at),
        "guaranteed_until": when(m.created_at + TTL),
        "links": links(request, "messages", m.id),
    }


def _find(request: web.Request, who: Caller) -> UserMessage:
    ident = request.match_info["id"]
    found = volumes(request).state.messages.get(ident)
    if found is None or not (who.is_admin or found.project_id == who.project_id):
        raise HTTPFault.not_found(f"Message {ident} could not be found.")
    return found


async def index(request: web.Request) -> web.Response:
    who = _check(request)
    listed = [
        _view(request, m)
        for m in sorted(volumes(request).state.messages.values(), key=lambda m: m.created_at)
        if who.is_admin or m.project_id == who.project_id
    ]
    return web.json_response({"messages": listed})


async def show(request: web.Request) -> web.Response:
    who = _check(request)
    return web.json_response({"message": _view(request, _find(request, who))})


async def delete(request: web.Request) -> web.Response:
    who = _check(request)
    found = _find(request, who)
    caller(request, write=True)

    def command(state: VolumeState, w: Writes) -> None:
        if found.id in state.messages:
            w.add(message_stream(found.id), ev.UserMessageDeleted(message_id=found.id))

    await volumes(request).run(metadata(request), command)
    return web.Response(status=204)
