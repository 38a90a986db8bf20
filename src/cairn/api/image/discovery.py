"""Version discovery: ``/image`` and ``/image/versions`` list Glance's v2 versions
(``/image`` answers 300 Multiple Choices, as Glance does; ``/image/versions`` 200).
Cairn speaks v2.16 and lists the older v2 minors as SUPPORTED, as Glance does."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.image.common import json

CURRENT = "2.16"
SUPPORTED = ("2.15", "2.9", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0")


def _versions(request: web.Request) -> dict[str, Any]:
    href = f"{request.url.origin()}/image/v2/"
    link = [{"rel": "self", "href": href}]
    values = [{"id": f"v{CURRENT}", "status": "CURRENT", "links": link}]
    values += [{"id": f"v{v}", "status": "SUPPORTED", "links": link} for v in SUPPORTED]
    return {"versions": values}


async def versions(request: web.Request) -> web.Response:
    return json(_versions(request), status=300)


async def versions_ok(request: web.Request) -> web.Response:
    return json(_versions(request))
