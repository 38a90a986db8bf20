"""Image data: upload (``PUT /file``), download (``GET /file``, with ``Range``), and
the interoperable import (``PUT /stage`` then ``POST /import`` with
``glance-direct``, or ``web-download`` from a URL: :mod:`cairn.image.web_download`),
plus ``/v2/info/import``, ``/v2/info/stores`` and ``/v2/info/usage``.

Bodies stream: the upload reads the request in chunks straight into
:meth:`cairn.image.service.Images.upload`; the download is a file response
that reads ahead of the socket (:mod:`.sendfile`), which also answers ``Range``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.image.common import caller, images, json, owned_image, require, visible_image
from cairn.api.image.sendfile import send_file
from cairn.image.decide import UNLIMITED, usage
from cairn.image.errors import Invalid

OCTET_STREAM = "application/octet-stream"
IMPORT_METHODS = ("glance-direct", "web-download")
#: What a cut-off request body raises while it is read.
CUT_OFF = (aiohttp.ClientError, ConnectionError, asyncio.IncompleteReadError, EOFError)


def _octet_stream(request: web.Request) -> None:
    media = request.headers.get("Content-Type", OCTET_STREAM).split(";", 1)[0].strip().lower()
    if media != OCTET_STREAM:
        raise HTTPFault(415, f"Unsupported Content-Type {media!r}; send {OCTET_STREAM}.")


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    received = 0
    # iter_any hands over what arrived as it is; iter_chunked would join it
    # into new buffers (a copy of every byte on the event loop's thread).
    async for chunk in request.content.iter_any():
        received += len(chunk)
        yield chunk
    # A body that ended before its Content-Length is a cut-off upload, whether or
    # not the reader said so: never store it as the image.
    announced = request.content_length
    if announced is not None and received != announced:
        raise ConnectionError(f"the body ended after {received} of {announced} bytes")


async def upload(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "upload data to")
    await require(request, "image:upload_image", {"project_id": image.owner})
    _octet_stream(request)
    try:
        await images(request).upload(image.id, _body(request), who.meta)
    except CUT_OFF as exc:
        raise HTTPFault.bad_request(f"The image data was cut off: {exc}") from None
    return web.Response(status=204)


async def download(request: web.Request) -> web.StreamResponse:
    who = await caller(request, "image:download_image", {"project_id": None})
    image = visible_image(request, who)
    if image.status == "deactivated" and not who.admin:
        raise HTTPFault(403, "The image is deactivated: downloading its data is forbidden.")
    service = images(request)
    data = service.data(image)
    if data is None:
        return web.Response(status=204)
    headers = {"Content-Type": OCTET_STREAM, "Content-MD5": data.checksum}
    return await send_file(request, service.files.path(image.id), data.size, headers)


async def stage(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "stage data for")
    await require(request, "image:upload_image", {"project_id": image.owner})
    _octet_stream(request)
    try:
        await images(request).stage(image.id, _body(request), who.meta)
    except CUT_OFF as exc:
        raise HTTPFault.bad_request(f"The image data was cut off: {exc}") from None
    return web.Response(status=204)


async def import_(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "import")
    await require(request, "image:upload_image", {"project_id": image.owner})
    body = await read_json(request)
    method = body.get("method") if isinstance(body, dict) else None
    name = method.get("name") if isinstance(method, dict) else None
    if name not in IMPORT_METHODS:
        raise Invalid(f"Import method {name!r} is not supported; use {', '.join(IMPORT_METHODS)}.")
    if name == "web-download":
        assert isinstance(method, dict)
        await images(request).web_download(image.id, method.get("uri"), who.meta)
    else:
        await images(request).import_staged(image.id, name, who.meta)
    return web.Response(status=202)


async def import_info(request: web.Request) -> web.Response:
    await caller(request, "image:get_images", {"project_id": None})
    return json({
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": list(IMPORT_METHODS),
        }
    })  # fmt: skip


async def usage_info(request: web.Request) -> web.Response:
    """``/v2/info/usage``: the caller's project's quota and what it uses (Glance 2.9)."""
    who = await caller(request, "image:get_images", {"project_id": None})
    service = images(request)
    used = usage(service.state, who.project)
    mine = [i for i in service.state.images.values() if i.owner == who.project]
    staged = sum(i.staged.size for i in mine if i.staged is not None)
    uploading = sum(1 for i in mine if i.status in ("saving", "uploading", "importing"))
    limits = service.limits
    # Cairn has no limits of their own on staged bytes (they count on
    # image_size_total) nor on uploads at a time: -1, no limit
    return json({
        "usage": {
            "image_size_total": {"limit": _mib(limits.bytes), "usage": _mib(used.bytes)},
            "image_stage_total": {"limit": UNLIMITED, "usage": _mib(staged)},
            "image_count_total": {"limit": limits.images, "usage": used.images},
            "image_count_uploading": {"limit": UNLIMITED, "usage": uploading},
        }
    })  # fmt: skip


def _mib(size: int) -> int:
    """Glance counts image sizes in MiB (rounded up); -1 stays "no limit"."""
    return size if size < 0 else -(-size // (1024 * 1024))


async def stores_info(request: web.Request) -> web.Response:
    await caller(request, "image:get_images", {"project_id": None})
    return json({
        "stores": [{"id": "file", "description": "Files on the server's data directory.",
                    "default": True}]
    })  # fmt: skip
