"""The image service (Glance v2) at ``/image``.

Handlers by resource: :mod:`.images` (metadata, tags, deactivation),
:mod:`.data` (upload, download, stage, import), :mod:`.members` (sharing),
:mod:`.schemas`, :mod:`.discovery`. Authentication is identity's
``token_middleware``; the domain is :mod:`cairn.image`.
"""

from __future__ import annotations

from cairn.api.identity import token_middleware
from cairn.api.image import data, discovery, images, members, schemas
from cairn.api.image.context import image_ctx
from cairn.api.image.faults import glance_fault, image_errors
from cairn.api.image.keys import IMAGE_CONFIG, IMAGES
from cairn.api.services import Route, Service, delete, get, patch, post, put

IMAGE = "/v2/images/{image_id}"

ROUTES: list[Route] = [
    get("", discovery.versions),
    get("/", discovery.versions),
    get("/versions", discovery.versions_ok),
    get("/v2/images", images.index),
    post("/v2/images", images.create),
    get(IMAGE, images.show),
    patch(IMAGE, images.update),
    delete(IMAGE, images.remove),
    put(IMAGE + "/tags/{tag}", images.add_tag),
    delete(IMAGE + "/tags/{tag}", images.delete_tag),
    post(IMAGE + "/actions/deactivate", images.deactivate),
    post(IMAGE + "/actions/reactivate", images.reactivate),
    put(IMAGE + "/file", data.upload),
    get(IMAGE + "/file", data.download),
    put(IMAGE + "/stage", data.stage),
    post(IMAGE + "/import", data.import_),
    get(IMAGE + "/members", members.index),
    post(IMAGE + "/members", members.add),
    get(IMAGE + "/members/{member_id}", members.show),
    put(IMAGE + "/members/{member_id}", members.update),
    delete(IMAGE + "/members/{member_id}", members.remove),
    get("/v2/schemas/image", schemas.image),
    get("/v2/schemas/images", schemas.images),
    get("/v2/schemas/member", schemas.member),
    get("/v2/schemas/members", schemas.members),
    get("/v2/info/import", data.import_info),
    get("/v2/info/stores", data.stores_info),
    get("/v2/info/usage", data.usage_info),
]

SERVICE = Service(
    name="image",
    title="Image (Glance v2)",
    routes=ROUTES,
    contexts=[image_ctx],
    middlewares=[image_errors, token_middleware],
    fault_style=glance_fault,
)

__all__ = ["IMAGES", "IMAGE_CONFIG", "SERVICE"]
