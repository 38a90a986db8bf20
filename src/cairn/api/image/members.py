"""``/v2/images/{id}/members``: sharing an image with other projects.

The owner adds and removes members of a ``shared`` image; each member accepts
or rejects the image for itself (only it may), which decides whether the image
shows in its default listing. A member sees only its own membership.
"""

from __future__ import annotations

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.image.common import Caller, caller, images, json, owned_image, require, visible_image
from cairn.api.image.render import member_body
from cairn.image import decide, rules
from cairn.image.errors import Invalid
from cairn.projections.image import Image, Member

MAX_ID = 255


def _member_id(request: web.Request) -> str:
    return request.match_info["member_id"]


def _sees_member(image: Image, who: Caller, member_id: str) -> bool:
    return who.admin or image.owner == who.project or member_id == who.project


def _member_of(image: Image, who: Caller, member_id: str) -> Member:
    member = image.members.get(member_id)
    if member is None or not _sees_member(image, who, member_id):
        raise HTTPFault.not_found(f"Project {member_id} is not a member of image {image.id}.")
    return member


async def index(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_members", {"project_id": None})
    image = visible_image(request, who)
    if image.visibility != "shared":
        raise HTTPFault(403, f"Image {image.id} is not shared; only shared images have members.")
    shown = [m for m in image.members.values() if _sees_member(image, who, m.member_id)]
    return json({
        "members": [member_body(image, m) for m in sorted(shown, key=lambda m: m.created_at)],
        "schema": "/v2/schemas/members",
    })  # fmt: skip


async def show(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_member", {"project_id": None})
    image = visible_image(request, who)
    return json(member_body(image, _member_of(image, who, _member_id(request))))


async def add(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "share")
    await require(request, "image:add_member", {"project_id": image.owner})
    body = await read_json(request)
    member_id = body.get("member") if isinstance(body, dict) else None
    if not isinstance(member_id, str) or not member_id.strip() or len(member_id) > MAX_ID:
        raise Invalid('The body must be {"member": "<project id>"}.')
    if isinstance(body, dict) and set(body) - {"member"}:
        raise Invalid(f"Unexpected attributes: {', '.join(sorted(set(body) - {'member'}))}.")
    if member_id == image.owner:
        raise Invalid("The image's owner cannot be one of its members.")
    service = images(request)
    await service.run(decide.add_member(image.id, member_id, who.meta))
    image = service.get(image.id)
    return json(member_body(image, image.members[member_id]))


async def update(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_member", {"project_id": None})
    image = visible_image(request, who)
    member_id = _member_id(request)
    _member_of(image, who, member_id)
    if member_id != who.project:
        raise HTTPFault(403, "Only the member itself may accept or reject an image.")
    await require(request, "image:modify_member", {"project_id": member_id})
    body = await read_json(request)
    status = body.get("status") if isinstance(body, dict) else None
    if status not in rules.MEMBER_STATUSES:
        raise Invalid(f"Invalid member status {status!r}: pending, accepted or rejected.")
    service = images(request)
    await service.run(decide.set_member_status(image.id, member_id, status, who.meta))
    image = service.get(image.id)
    return json(member_body(image, image.members[member_id]))


async def remove(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = visible_image(request, who)
    member_id = _member_id(request)
    _member_of(image, who, member_id)
    if not rules.can_modify(image, who.project, who.admin):
        raise HTTPFault(403, f"You are not permitted to remove members of image {image.id}.")
    await require(request, "image:delete_member", {"project_id": image.owner})
    await images(request).run(decide.remove_member(image.id, member_id, who.meta))
    return web.Response(status=204)
