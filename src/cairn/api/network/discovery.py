"""Version documents at ``/networking`` and ``/networking/v2.0`` (Neutron's shapes)."""

from __future__ import annotations

from aiohttp import web

from cairn.api.network.resources import KINDS


def _base(request: web.Request) -> str:
    return f"{request.url.origin()}/networking"


async def versions(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "versions": [
                {
                    "id": "v2.0",
                    "status": "CURRENT",
                    "links": [{"href": f"{_base(request)}/v2.0/", "rel": "self"}],
                }
            ]
        }
    )


async def version(request: web.Request) -> web.Response:
    base = _base(request)
    resources = [
        {
            "name": spec.singular,
            "collection": spec.plural,
            "links": [{"href": f"{base}/v2.0/{spec.plural.replace('_', '-')}", "rel": "self"}],
        }
        for spec in KINDS.values()
    ]
    return web.json_response({"resources": resources})
