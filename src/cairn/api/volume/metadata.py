"""``/v3/volumes/{id}/metadata`` and ``/v3/snapshots/{id}/metadata``: Cinder's
metadata routes (show, merge with POST, replace with PUT, one key)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.volume.common import body_of, caller, metadata, metadata_dict, volumes
from cairn.events import volume as ev
from cairn.projections.volume import VolumeState
from cairn.volume import access
from cairn.volume import snapshots as snapshot_decide
from cairn.volume import volumes as volume_decide
from cairn.volume.access import Caller
from cairn.volume.writes import Writes

Current = Callable[[VolumeState, Caller, str], dict[str, str]]
Write = Callable[[VolumeState, Caller, str, dict[str, str], Writes], None]


def _volume_current(state: VolumeState, who: Caller, ident: str) -> dict[str, str]:
    return access.volume(state, who, ident).metadata


def _volume_write(
    state: VolumeState, who: Caller, ident: str, meta: dict[str, str], w: Writes
) -> None:
    volume_decide.update(state, who, ident, ev.VolumeUpdated(volume_id=ident, metadata=meta), w)


def _snapshot_current(state: VolumeState, who: Caller, ident: str) -> dict[str, str]:
    return access.snapshot(state, who, ident).metadata


def _snapshot_write(
    state: VolumeState, who: Caller, ident: str, meta: dict[str, str], w: Writes
) -> None:
    event = ev.SnapshotUpdated(snapshot_id=ident, metadata=meta)
    snapshot_decide.update(state, who, ident, event, w)


KINDS: dict[str, tuple[Current, Write]] = {
    "volumes": (_volume_current, _volume_write),
    "snapshots": (_snapshot_current, _snapshot_write),
}


async def _change(
    request: web.Request, kind: str, change: Callable[[dict[str, str]], dict[str, str]]
) -> dict[str, str]:
    who = caller(request, write=True)
    current, write = KINDS[kind]
    ident = request.match_info["id"]

    def command(state: VolumeState, w: Writes) -> dict[str, str]:
        after = change(dict(current(state, who, ident)))
        write(state, who, ident, after, w)
        return after

    return await volumes(request).run(metadata(request), command)


def handlers(kind: str) -> dict[str, Any]:
    current, _ = KINDS[kind]

    async def show_all(request: web.Request) -> web.Response:
        who = caller(request)
        found = current(volumes(request).state, who, request.match_info["id"])
        return web.json_response({"metadata": dict(found)})

    async def merge(request: web.Request) -> web.Response:
        wanted = metadata_dict(await _whole(request))
        after = await _change(request, kind, lambda now: {**now, **wanted})
        return web.json_response({"metadata": after})

    async def replace(request: web.Request) -> web.Response:
        wanted = metadata_dict(await _whole(request))
        after = await _change(request, kind, lambda now: dict(wanted))
        return web.json_response({"metadata": after})

    async def show_one(request: web.Request) -> web.Response:
        who = caller(request)
        found = current(volumes(request).state, who, request.match_info["id"])
        key = request.match_info["key"]
        if key not in found:
            raise HTTPFault.not_found("Metadata item was not found")
        return web.json_response({"meta": {key: found[key]}})

    async def put_one(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        meta = metadata_dict(await body_of(request, "meta"), "meta")
        if len(meta) != 1:
            raise HTTPFault.bad_request("Request body contains too many items.")
        if key not in meta:
            raise HTTPFault.bad_request("Request body and URI mismatch")
        await _change(request, kind, lambda now: {**now, **meta})
        return web.json_response({"meta": meta})

    async def delete_one(request: web.Request) -> web.Response:
        key = request.match_info["key"]

        def without(now: dict[str, str]) -> dict[str, str]:
            if key not in now:
                raise HTTPFault.not_found("Metadata item was not found")
            return {k: v for k, v in now.items() if k != key}

        await _change(request, kind, without)
        return web.Response(status=200)

    return {
        "show_all": show_all,
        "merge": merge,
        "replace": replace,
        "show_one": show_one,
        "put_one": put_one,
        "delete_one": delete_one,
    }


async def _whole(request: web.Request) -> dict[str, Any]:
    return await body_of(request, "metadata")
