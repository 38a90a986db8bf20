"""Tags on any resource with standard attributes (Neutron's ``standard-attr-tag``):
``/v2.0/{collection}/{id}/tags[/{tag}]``. A tag change is an update of the
resource's ``tags``, decided at its stream's version like any other."""

from __future__ import annotations

from aiohttp import web

from cairn.api.network.attributes import tags as check_tags
from cairn.api.network.common import body, caller, metadata, networking
from cairn.network import common
from cairn.network.access import editable, visible
from cairn.network.errors import Invalid, NotFound
from cairn.network.plan import Plan

#: URL collection -> resource kind
TAGGABLE = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "routers": "router",
    "floatingips": "floatingip",
    "security-groups": "security_group",
    "subnetpools": "subnetpool",
}
MAX_TAGS = 50


def _kind(request: web.Request) -> str:
    kind = TAGGABLE.get(request.match_info["collection"])
    if kind is None:
        raise NotFound(
            f"Resource type {request.match_info['collection']} cannot be tagged.", "HTTPNotFound"
        )
    return kind


def _current(request: web.Request) -> list[str]:
    who = caller(request)
    core = networking(request)
    found = core.state.find(_kind(request), request.match_info["id"])
    if found is None or not visible(core.state, who, found):
        raise common.not_found(_kind(request), request.match_info["id"])
    return list(found.get("tags") or [])


async def _change(request: web.Request, change: object) -> list[str]:
    who = caller(request, write=True)
    core = networking(request)
    kind, resource_id = _kind(request), request.match_info["id"]

    def command(plan: Plan) -> list[str]:
        found = common.find(plan, who, kind, resource_id)
        if not editable(who, found):
            raise common.not_found(kind, resource_id)
        tags = change(list(found.get("tags") or []))  # type: ignore[operator]
        if len(tags) > MAX_TAGS:
            raise Invalid(
                f"Invalid input for tags. Reason: at most {MAX_TAGS} tags.", "HTTPBadRequest"
            )
        if tags != found.get("tags"):
            plan.update(found, {"tags": tags})
        return list(tags)

    result: list[str] = await core.run(metadata(request), command)
    return result


async def list_tags(request: web.Request) -> web.Response:
    return web.json_response({"tags": _current(request)})


async def check_tag(request: web.Request) -> web.Response:
    tag = request.match_info["tag"]
    if tag not in _current(request):
        raise NotFound(
            f"Tag {tag} could not be found for {_kind(request)} {request.match_info['id']}.",
            "TagNotFound",
        )
    return web.Response(status=204)


async def add_tag(request: web.Request) -> web.Response:
    tag = check_tags("tag", [request.match_info["tag"]])[0]
    await _change(request, lambda tags: tags if tag in tags else [*tags, tag])
    return web.Response(status=201)


async def replace_tags(request: web.Request) -> web.Response:
    data = await body(request)
    if not isinstance(data, dict) or set(data) != {"tags"}:
        raise Invalid('Invalid input: the body must be {"tags": [...]}.', "HTTPBadRequest")
    wanted = check_tags("tags", data["tags"])
    tags = await _change(request, lambda _: list(wanted))
    return web.json_response({"tags": tags})


async def delete_tag(request: web.Request) -> web.Response:
    tag = request.match_info["tag"]
    if tag not in _current(request):
        raise NotFound(
            f"Tag {tag} could not be found for {_kind(request)} {request.match_info['id']}.",
            "TagNotFound",
        )
    await _change(request, lambda tags: [t for t in tags if t != tag])
    return web.Response(status=204)


async def delete_tags(request: web.Request) -> web.Response:
    await _change(request, lambda _: [])
    return web.Response(status=204)
