"""Version discovery, as keystoneauth expects it: ``/identity`` lists the versions
(300 Multiple Choices, as Keystone answers), ``/identity/v3`` describes v3."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.identity.common import json

V3_ID = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def v3(request: web.Request) -> dict[str, Any]:
    return {
        "id": V3_ID,
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{request.url.origin()}/identity/v3/"}],
        "media-types": MEDIA_TYPES,
    }


async def versions(request: web.Request) -> web.Response:
    return json({"versions": {"values": [v3(request)]}}, status=300)


async def version(request: web.Request) -> web.Response:
    return json({"version": v3(request)})
