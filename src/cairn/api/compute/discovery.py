"""Version documents at ``/compute`` and ``/compute/v2.1`` (Nova's shapes)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.compute.microversions import MAX, MIN, text

UPDATED = "2013-07-23T11:33:21Z"


def _version(request: web.Request) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": text(MAX),
        "min_version": text(MIN),
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{request.url.origin()}/compute/v2.1/"}],
    }


async def versions(request: web.Request) -> web.Response:
    return web.json_response({"versions": [_version(request)]})


async def version(request: web.Request) -> web.Response:
    document = _version(request)
    document["media-types"] = [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
    ]
    document["links"].append({
        "rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/",
    })  # fmt: skip
    return web.json_response({"version": document})
