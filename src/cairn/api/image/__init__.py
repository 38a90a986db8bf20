"""The image service (Glance v2) at ``/image``.

Handlers by resource: :mod:`.images` (metadata, tags, deactivation),
:mod:`.data` (upload, download, stage, import), :mod:`.members` (sharing),
:mod:`.schemas`, :mod:`.discovery`; metadata definitions are :mod:`.metadefs`
(namespaces, resource types), :mod:`.metadef_contents` (objects, properties,
tags) and :mod:`.metadef_schemas`. Authentication is identity's
``token_middleware``; the domain is :mod:`cairn.image`.
"""

from __future__ import annotations

from cairn.api.identity import token_middleware
from cairn.api.image import (
    data,
    discovery,
    images,
    members,
    metadef_contents,
    metadef_schemas,
    metadefs,
    schemas,
    tasks,
)
from cairn.api.image.context import image_ctx
from cairn.api.image.faults import glance_fault, image_errors
from cairn.api.image.keys import IMAGE_CONFIG, IMAGES
from cairn.api.services import CatalogEntry, Route, Service, delete, get, patch, post, put

IMAGE = "/v2/images/{image_id}"
NAMESPACE = "/v2/metadefs/namespaces/{namespace}"

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
    get("/v2/schemas/metadefs/{kind}", metadef_schemas.schema),
    get("/v2/metadefs/resource_types", metadefs.list_resource_types),
    get("/v2/metadefs/namespaces", metadefs.list_namespaces),
    post("/v2/metadefs/namespaces", metadefs.create_namespace),
    get(NAMESPACE, metadefs.show_namespace),
    put(NAMESPACE, metadefs.update_namespace),
    delete(NAMESPACE, metadefs.delete_namespace),
    get(NAMESPACE + "/resource_types", metadefs.list_associations),
    post(NAMESPACE + "/resource_types", metadefs.associate),
    delete(NAMESPACE + "/resource_types/{resource_type}", metadefs.dissociate),
    get(NAMESPACE + "/objects", metadef_contents.list_objects),
    post(NAMESPACE + "/objects", metadef_contents.create_object),
    delete(NAMESPACE + "/objects", metadef_contents.delete_objects),
    get(NAMESPACE + "/objects/{name}", metadef_contents.show_object),
    put(NAMESPACE + "/objects/{name}", metadef_contents.update_object),
    delete(NAMESPACE + "/objects/{name}", metadef_contents.delete_object),
    get(NAMESPACE + "/properties", metadef_contents.list_properties),
    post(NAMESPACE + "/properties", metadef_contents.create_property),
    delete(NAMESPACE + "/properties", metadef_contents.delete_properties),
    get(NAMESPACE + "/properties/{name}", metadef_contents.show_property),
    put(NAMESPACE + "/properties/{name}", metadef_contents.update_property),
    delete(NAMESPACE + "/properties/{name}", metadef_contents.delete_property),
    get(NAMESPACE + "/tags", metadef_contents.list_tags),
    post(NAMESPACE + "/tags", metadef_contents.create_tags),
    delete(NAMESPACE + "/tags", metadef_contents.delete_tags),
    get(NAMESPACE + "/tags/{name}", metadef_contents.show_tag),
    post(NAMESPACE + "/tags/{name}", metadef_contents.create_tag),
    put(NAMESPACE + "/tags/{name}", metadef_contents.update_tag),
    delete(NAMESPACE + "/tags/{name}", metadef_contents.delete_tag),
    get("/v2/tasks", tasks.index),
    get(IMAGE + "/tasks", tasks.of_image),
    post("/v2/tasks", tasks.create),
    get("/v2/tasks/{task_id}", tasks.show),
    get("/v2/schemas/task", tasks.schema),
    get("/v2/schemas/tasks", tasks.schemas),
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
    catalog=[CatalogEntry("image", "glance")],
)

__all__ = ["IMAGES", "IMAGE_CONFIG", "SERVICE"]
