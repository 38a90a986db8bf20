"""The ``createImage`` server action: a snapshot of the server's disk, as an image.

The image is made in the image service first, as the caller (so it is theirs,
counted in their image quota, with Glance's own checks), queued and carrying
the server's image properties (a kernel-booted image's ``kernel_id`` and
``ramdisk_id`` among them, so the snapshot boots the same way) with
``image_type: snapshot``, ``instance_uuid`` and ``base_image_ref``, as Nova's
do, plus the request's metadata. Then the server's agent is asked to upload
the disk into it. The answer is 202 at once: the image's address in
``Location`` before microversion 2.45, ``{"image_id": ...}`` from it on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import compute, invalid, json, v
from cairn.api.compute.keys import COMPUTE_CONFIG
from cairn.api.faults import HTTPFault
from cairn.compute import servers, snapshots
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server

#: Properties Glance keeps for itself: never copied from the server's image.
RESERVED_PREFIXES = ("os_glance", "os_hash", "os_hidden")


def _arguments(args: Any) -> tuple[str, dict[str, str]]:
    if not isinstance(args, dict):
        raise invalid("createImage", args, "It must be an object")
    unknown = sorted(set(args) - {"name", "metadata"})
    if unknown:
        raise HTTPFault.bad_request(
            f"Invalid input: Additional properties are not allowed ({unknown[0]!r} was unexpected)"
        )
    name = args.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise invalid("name", name, "It must be a non-blank string of at most 255 characters")
    meta = args.get("metadata", {})
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and 0 < len(k) <= 255 and isinstance(val, str) and len(val) <= 255
        for k, val in meta.items()
    ):
        raise invalid("metadata", meta, "It must map names to strings of at most 255 characters")
    return name, meta


def _document(server: Server, name: str, meta: dict[str, str]) -> dict[str, Any]:
    inherited = {
        key: value
        for key, value in server.image.properties.items()
        if not key.startswith(RESERVED_PREFIXES)
    }
    return {
        **inherited,
        "image_type": "snapshot",
        "instance_uuid": server.id,
        "base_image_ref": server.image.image_id,
        "user_id": server.user_id,
        # the request's metadata wins over Nova's own properties (as in Nova)
        **meta,
        "name": name,
        "disk_format": "qcow2",
        "container_format": "bare",
        "min_disk": max(server.flavor.disk_gb, server.image.min_disk_gb),
        "min_ram": server.image.min_ram_mb,
    }


async def create_image(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(
        request, "os_compute_api:servers:create_image", {"project_id": server.project_id}
    )
    name, meta = _arguments(args)
    service, admin = compute(request), is_admin(who)
    snapshots.check(server, is_admin=admin)
    image_id = await service.images.create(who.token, _document(server, name, meta))
    call = metadata(request, who)
    try:
        await service.execute(
            lambda s: snapshots.snapshot(
                s, call, servers.find(s, server.id), image_id, is_admin=admin
            )
        )
    except BaseException:
        await asyncio.shield(service.images.delete(who.token, image_id))
        raise
    if v(request) >= (2, 45):
        return json({"image_id": image_id}, status=202)
    base = request.config_dict[COMPUTE_CONFIG].public_url.rstrip("/")
    return web.Response(status=202, headers={"Location": f"{base}/image/v2/images/{image_id}"})
