"""``/os-keypairs``: import or generate, list, show, delete (each user has their own)."""

from __future__ import annotations

import time
import zlib
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata, project_of
from cairn.api.compute.common import body_of, compute, json, next_link, page, string, v
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import keypairs, x509_keys
from cairn.compute.sweeper import now_iso
from cairn.events import compute as ev
from cairn.projections.compute import Keypair


def _owner(request: web.Request, given: str | None = None) -> str:
    who = caller(request)
    wanted = given or request.query.get("user_id")
    if wanted and wanted != who.user_id and v(request) >= (2, 10) and is_admin(who):
        return wanted
    return who.user_id


def _view(keypair: Keypair, version: tuple[int, int], *, full: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
    }
    if version >= (2, 2):
        view["type"] = keypair.key_type
    if full:
        view.update({
            "user_id": keypair.user_id, "created_at": keypair.created_at, "deleted": False,
            "deleted_at": None, "updated_at": None,
            "id": zlib.crc32((keypair.user_id + keypair.name).encode()),
        })  # fmt: skip
    return view


async def list_keypairs(request: web.Request) -> web.Response:
    user_id = _owner(request)
    await authorize(request, "os_compute_api:os-keypairs:index", {"user_id": user_id})
    found = sorted(compute(request).state.keypairs.get(user_id, {}).values(), key=lambda k: k.name)
    chosen, more = (
        page(request, found, lambda k: k.name) if v(request) >= (2, 35) else (found, False)
    )
    body: dict[str, Any] = {
        "keypairs": [{"keypair": _view(k, v(request), full=False)} for k in chosen]
    }
    if more:
        body["keypairs_links"] = next_link(request, "os-keypairs", chosen[-1].name)
    return json(body)


async def show_keypair(request: web.Request) -> web.Response:
    user_id = _owner(request)
    await authorize(request, "os_compute_api:os-keypairs:show", {"user_id": user_id})
    keypair = keypairs.find(compute(request).state, user_id, request.match_info["name"])
    return json({"keypair": _view(keypair, v(request), full=True)})


async def create_keypair(request: web.Request) -> web.Response:
    data = await body_of(request, "keypair")
    user_id = _owner(request, string(data, "user_id"))
    who = await authorize(request, "os_compute_api:os-keypairs:create", {"user_id": user_id})
    name = string(data, "name", required=True, min_length=1) or ""
    key_type = string(data, "type") or "ssh"
    if key_type not in ("ssh", "x509"):
        raise HTTPFault.bad_request(f"Invalid input for field/attribute type. Value: {key_type}.")
    if key_type == "x509" and v(request) < (2, 2):
        raise HTTPFault.bad_request("Invalid input: 'type' needs microversion 2.2")
    public_key = string(data, "public_key", max_length=65535)
    private_key = None
    if public_key is None:
        if v(request) >= (2, 92):
            raise HTTPFault.bad_request("Invalid input: 'public_key' is a required property")
        private_key, public_key = (
            x509_keys.generate(user_id) if key_type == "x509" else keypairs.generate()
        )
    fingerprint = (
        x509_keys.fingerprint(public_key)
        if key_type == "x509"
        else keypairs.fingerprint(public_key)
    )
    event = ev.KeypairCreated(
        user_id=user_id, name=name, public_key=public_key.strip(), fingerprint=fingerprint,
        key_type=key_type, created_at=now_iso(time.time()),
    )  # fmt: skip
    meta = metadata(request, who)
    project_id = project_of(who)
    service = compute(request)
    await service.execute(lambda s: keypairs.create(s, meta, event, project_id))
    view = _view(keypairs.find(service.state, user_id, name), v(request), full=False)
    view["user_id"] = user_id
    if private_key is not None:
        view["private_key"] = private_key
    return json({"keypair": view}, status=201 if v(request) >= (2, 2) else 200)


async def delete_keypair(request: web.Request) -> web.Response:
    user_id = _owner(request)
    who = await authorize(request, "os_compute_api:os-keypairs:delete", {"user_id": user_id})
    name = request.match_info["name"]
    meta = metadata(request, who)
    await compute(request).execute(lambda s: keypairs.delete(s, meta, user_id, name))
    return web.Response(status=204 if v(request) >= (2, 2) else 202)
