"""``/v2/images``: create, list, show, patch and delete images; tags; deactivate and
reactivate. Data (``/file``, ``/stage``, ``/import``) is :mod:`.data`."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.image import listing, patch
from cairn.api.image.common import Caller, caller, images, json, owned_image, require, visible_image
from cairn.api.image.data import IMPORT_METHODS
from cairn.api.image.render import image_body
from cairn.events.image import ImageAttributes
from cairn.image import decide, rules
from cairn.image.errors import Invalid
from cairn.projections.image import Image

#: What Glance announces on an image (openstacksdk reads it before an import).
IMPORT_HEADERS = {
    "OpenStack-image-import-methods": ",".join(IMPORT_METHODS),
    "OpenStack-image-store-ids": "file",
}


async def _check_visibility(request: web.Request, who: Caller, visibility: str,
                            owner: str | None) -> None:  # fmt: skip
    """Publishing needs ``publicize_image`` (admins only by default), as in Glance."""
    if visibility == "public":
        await require(request, "image:publicize_image", {"project_id": owner})
    elif visibility == "community":
        await require(request, "image:communitize_image", {"project_id": owner})


async def create(request: web.Request) -> web.Response:
    who = await caller(request, "image:add_image", {"project_id": None})
    body = await read_json(request)
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object of image attributes.")
    fields: dict[str, Any] = dict(body)
    ident = fields.pop("id", None)
    if ident is None:
        ident = str(uuid.uuid4())
    else:
        try:
            ident = str(uuid.UUID(str(ident)))
        except ValueError:
            raise Invalid(f"Invalid id {ident!r}: expected a UUID.") from None
    if "owner" in fields and fields["owner"] not in (None, who.project) and not who.admin:
        raise HTTPFault(403, "You are not permitted to create images owned by another project.")
    owner = fields.pop("owner", None) or who.project
    if owner is None and not who.admin:
        # an image of no project would count on no quota
        raise HTTPFault(403, "Creating an image needs a project-scoped token.")
    attributes = rules.attributes_from(fields)
    await _check_visibility(request, who, attributes.visibility, owner)
    service = images(request)
    await service.run(decide.create(ident, owner, attributes, service.limits, who.meta))
    image = service.get(ident)
    headers = {"Location": f"/v2/images/{ident}", **IMPORT_HEADERS}
    return json(image_body(image), status=201, headers=headers)


async def index(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_images", {"project_id": None})
    body = listing.page(request, who, list(images(request).state.images.values()))
    body["images"] = [image_body(image) for image in body["images"]]
    return json(body)


async def show(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    return json(image_body(visible_image(request, who)), headers=IMPORT_HEADERS)


async def update(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "modify")
    await require(request, "image:modify_image", {"project_id": image.owner})
    operations = await patch.read_patch(request)
    operations, owner = _owner_change(who, operations)
    before = rules.as_fields(image.attributes)
    after = patch.apply_patch(before, operations)
    attributes = rules.attributes_from(after)
    if attributes.visibility != image.attributes.visibility:
        await _check_visibility(request, who, attributes.visibility, image.owner)
    await images(request).run(decide.update(image.id, attributes, who.meta, owner))
    return json(image_body(images(request).get(image.id)))


def _owner_change(
    who: Caller, operations: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | decide.Keep | None]:
    """The operations without those on ``/owner``, and the owner they leave (or
    KEEP). Only an admin gives an image to another project (403 otherwise)."""
    rest: list[dict[str, Any]] = []
    owner: str | decide.Keep | None = decide.KEEP
    for op in operations:
        if op.get("path") != "/owner":
            rest.append(op)
            continue
        if not who.admin:
            raise HTTPFault(403, "Attribute 'owner' can be changed only by an admin.")
        if op.get("op") == "remove":
            owner = None
        elif op.get("op") in ("add", "replace") and (
            op.get("value") is None
            or (isinstance(op["value"], str) and 0 < len(op["value"]) <= 255)
        ):
            owner = op["value"]
        else:
            raise Invalid("The owner is a project id (1 to 255 characters) or null.")
    return rest, owner


async def _save(request: web.Request, who: Caller, image: Image,
                attributes: ImageAttributes) -> None:  # fmt: skip
    await images(request).run(decide.update(image.id, attributes, who.meta))


async def remove(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "delete")
    await require(request, "image:delete_image", {"project_id": image.owner})
    await images(request).delete(image.id, who.meta)
    return web.Response(status=204)


async def add_tag(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "modify")
    await require(request, "image:modify_image", {"project_id": image.owner})
    tag = request.match_info["tag"]
    rules.check_tag(tag)
    if tag not in image.attributes.tags:
        tags = [*image.attributes.tags, tag]
        await _save(request, who, image, rules.attributes_from({"tags": tags}, image.attributes))
    return web.Response(status=204)


async def delete_tag(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "modify")
    await require(request, "image:modify_image", {"project_id": image.owner})
    tag = request.match_info["tag"]
    if tag not in image.attributes.tags:
        raise HTTPFault.not_found(f"Tag {tag} not found on image {image.id}.")
    tags = [t for t in image.attributes.tags if t != tag]
    await _save(request, who, image, rules.attributes_from({"tags": tags}, image.attributes))
    return web.Response(status=204)


async def deactivate(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "deactivate")
    await require(request, "image:deactivate", {"project_id": image.owner})
    await images(request).run(decide.deactivate(image.id, who.meta))
    return web.Response(status=204)


async def reactivate(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_image", {"project_id": None})
    image = owned_image(request, who, "reactivate")
    await require(request, "image:reactivate", {"project_id": image.owner})
    await images(request).run(decide.reactivate(image.id, who.meta))
    return web.Response(status=204)
