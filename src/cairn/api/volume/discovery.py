"""Version documents at ``/volume`` (300 Multiple Choices, as Cinder) and ``/volume/v3``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.volume.microversions import MAX, MIN, text

UPDATED = "2023-09-01T00:00:00Z"


def _version(request: web.Request) -> dict[str, Any]:
    base = f"{request.url.origin()}/volume"
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": text(MAX),
        "min_version": text(MIN),
        "updated": UPDATED,
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{base}/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": [_version(request)]}, status=300)


async def version(request: web.Request) -> web.Response:
    return web.json_response({"versions": [_version(request)]})
