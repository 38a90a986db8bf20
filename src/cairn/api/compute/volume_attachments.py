"""A server's volumes: ``/servers/{id}/os-volume_attachments`` (Nova's
volume attachments), on the block storage service reached over HTTP with the
caller's token (so Cinder's own visibility and checks decide: another
project's volume is a 404, a volume not available a 400).

Attaching reserves the volume (``os-reserve``: ``attaching``), then asks the
server's agent to hot-plug it (:mod:`cairn.compute.volume_attachments`) and
answers at once with the attachment, as Nova does (its attach is a cast to the
compute host); the volume is ``in-use`` once the agent has plugged it. A
request that cannot be appended gives the reservation back. Detaching begins
the volume's detach (``detaching``) and answers 202; the agent unplugs it.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import body_of, compute, invalid, json, v, volume_port
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import servers
from cairn.compute import volume_attachments as deciding
from cairn.compute.volume_documents import Document
from cairn.events.compute_volumes import volume_entry
from cairn.logs import get_logger
from cairn.projections.compute import Server

log = get_logger(__name__)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
#: Nova's schema for a device name
_DEVICE = re.compile(r"^(/dev/x?[a-z]?d?)([a-z]+)[0-9]*$")
_KEYS = {"volumeId", "device", "tag", "delete_on_termination"}


def attachment_view(request: web.Request, server: Server, entry: dict[str, str]) -> dict[str, Any]:
    """One attachment in the shape of the request's microversion."""
    version = v(request)
    shown: dict[str, Any] = {
        "device": entry.get("device"),
        "serverId": server.id,
        "volumeId": entry["volume_id"],
    }
    if version < (2, 89):
        shown["id"] = entry["volume_id"]
    if version >= (2, 70):
        shown["tag"] = entry.get("tag") or None
    if version >= (2, 79):
        shown["delete_on_termination"] = entry.get("delete_on_termination") == "true"
    if version >= (2, 89):
        shown["attachment_id"] = entry.get("attachment_id")
        shown["bdm_uuid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bdm:{entry['attachment_id']}"))
    return shown


def _token(request: web.Request) -> str:
    return request.headers.get("X-Auth-Token", "")


async def list_attachments(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-volumes-attachments:index", {"project_id": server.project_id}
    )
    listed = [attachment_view(request, server, e) for e in server.volumes]
    offset, limit = _window(request)
    listed = listed[offset:] if limit is None else listed[offset : offset + limit]
    return json({"volumeAttachments": listed})


def _window(request: web.Request) -> tuple[int, int | None]:
    """Nova's ``offset`` and ``limit`` for this listing (non-negative integers)."""
    found: list[int | None] = []
    for key in ("offset", "limit"):
        raw = request.query.get(key)
        if raw is None:
            found.append(None)
            continue
        if not raw.isdigit():
            raise invalid(key, raw, "It must be a non-negative integer")
        found.append(int(raw))
    return found[0] or 0, found[1]


async def show_attachment(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-volumes-attachments:show", {"project_id": server.project_id}
    )
    entry = deciding.attached(server, request.match_info["volume_id"])
    return json({"volumeAttachment": attachment_view(request, server, entry)})


def _requested(request: web.Request, data: dict[str, Any]) -> tuple[str, str | None, str, bool]:
    """(volume id, device, tag, delete_on_termination) of an attach body."""
    version = v(request)
    allowed = {"volumeId", "device"}
    if version >= (2, 49):
        allowed.add("tag")
    if version >= (2, 79):
        allowed.add("delete_on_termination")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute volumeAttachment. Value: {data}. "
            f"Additional properties are not allowed ({unknown[0]!r} was unexpected)"
        )
    if "volumeId" not in data:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute volumeAttachment. Value: {data}. "
            "'volumeId' is a required property"
        )
    volume_id = data["volumeId"]
    if not isinstance(volume_id, str) or not _UUID.match(volume_id):
        raise invalid("volumeId", volume_id, "It is not a valid UUID")
    device = data.get("device")
    if device is not None and (not isinstance(device, str) or not _DEVICE.match(device)):
        raise invalid("device", device, "It does not match the pattern of a device name")
    tag = data.get("tag")
    if tag is not None and (
        not isinstance(tag, str) or not 1 <= len(tag) <= 60 or "/" in tag or "," in tag
    ):
        raise invalid("tag", tag, "It must be 1-60 characters, without '/' or ','")
    delete = data.get("delete_on_termination", False)
    if not isinstance(delete, bool):
        raise invalid("delete_on_termination", delete, f"{delete!r} is not of type 'boolean'")
    return str(uuid.UUID(volume_id)), device, tag or "", delete


def check_volume(request: web.Request, volume: Document) -> None:
    """Nova's checks of a volume before it reserves it."""
    status, multiattach = volume.get("status"), bool(volume.get("multiattach"))
    if multiattach and v(request) < (2, 60):
        raise HTTPFault.bad_request(
            "Multiattach volumes are only supported starting with compute API version 2.60."
        )
    if status != "available" and not (multiattach and status == "in-use"):
        raise HTTPFault.bad_request(
            f"Invalid volume: volume '{volume.get('id')}' status must be 'available'. "
            f"Currently in '{status}'"
        )


async def attach_volume(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-volumes-attachments:create", {"project_id": server.project_id}
    )
    data = await body_of(request, "volumeAttachment")
    volume_id, device, tag, delete = _requested(request, data)
    service, admin, port, token = (
        compute(request),
        is_admin(who),
        volume_port(request),
        _token(request),
    )
    deciding.check_attach(server, volume_id, is_admin=admin)
    check_volume(request, await port.show(token, "volumes", volume_id))
    entry = volume_entry(
        volume_id,
        str(uuid.uuid4()),
        deciding.device_for(server, device),
        tag=tag,
        delete_on_termination=delete,
    )
    await port.action(token, volume_id, "os-reserve", {})
    meta = metadata(request, who)
    try:
        await service.execute(
            lambda s: deciding.attach(s, meta, servers.find(s, server.id), entry, is_admin=admin)
        )
    except BaseException:
        await asyncio.shield(_quietly(port.action(token, volume_id, "os-unreserve", {})))
        raise
    return json({"volumeAttachment": attachment_view(request, server, entry)})


async def detach_volume(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:os-volumes-attachments:delete", {"project_id": server.project_id}
    )
    volume_id, service, admin = request.match_info["volume_id"], compute(request), is_admin(who)
    port, token = volume_port(request), _token(request)
    deciding.check_detach(server, volume_id, is_admin=admin)
    await port.action(token, volume_id, "os-begin_detaching", {})
    meta = metadata(request, who)
    try:
        await service.execute(
            lambda s: deciding.detach(
                s, meta, servers.find(s, server.id), volume_id, is_admin=admin
            )
        )
    except BaseException:
        await asyncio.shield(_quietly(port.action(token, volume_id, "os-roll_detaching", {})))
        raise
    return web.Response(status=202)


async def _quietly(call: Any) -> None:
    """Give back what a failed request took; its failure is logged, not raised (the
    request's own error is the answer)."""
    try:
        await call
    except Exception as exc:
        log.warning("compute.volume_rollback_failed", error=str(exc))
