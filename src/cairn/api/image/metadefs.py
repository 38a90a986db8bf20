"""``/v2/metadefs/namespaces`` and ``/v2/metadefs/resource_types``: metadata
definition namespaces and their resource type associations, as Glance's api-ref
"Metadata definitions" has them. Objects, properties and tags of a namespace are
:mod:`.metadef_contents`.

Reading needs a token: a namespace is seen by its owner, admins, and everyone
when public (others get a 404). Changing needs the admin role, Glance's default
(``metadef_admin``). Bodies are msgspec Structs; a bad one is a 400.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.image.common import Caller, caller, images, json
from cairn.api.image.render import timestamp
from cairn.events import DomainEvent
from cairn.events import image as ev
from cairn.image import metadefs
from cairn.image.errors import Invalid
from cairn.projections.image import Association, ImageState, MetadefItem, Namespace

NamespaceName = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=r"^[^/\s]+$")]
ItemName = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=r"^[^/]+$")]
Text = Annotated[str, msgspec.Meta(max_length=4096)]
TypeName = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9:_.-]+$")]
Short = Annotated[str, msgspec.Meta(max_length=80)]
PropertyType = Literal["array", "boolean", "integer", "number", "object", "string"]


class PropertyDefinition(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """A property's definition: a small JSON schema, as Glance accepts it."""

    title: Text
    type: PropertyType
    name: ItemName | None = None
    description: Text | None = None
    default: Any = None
    enum: list[Any] | None = None
    operators: list[Text] | None = None
    minimum: float | None = None
    maximum: float | None = None
    minLength: int | None = None
    maxLength: int | None = None
    pattern: Text | None = None
    items: dict[str, Any] | None = None
    minItems: int | None = None
    maxItems: int | None = None
    uniqueItems: bool | None = None
    additionalItems: bool | None = None
    readonly: bool | None = None


def definition(prop: PropertyDefinition) -> dict[str, Any]:
    """The stored document of a property (no name: it is the key)."""
    document: dict[str, Any] = msgspec.to_builtins(prop)
    document.pop("name", None)
    return document


class NewObject(msgspec.Struct, forbid_unknown_fields=True):
    name: ItemName
    description: Text | None = None
    required: list[ItemName] = []
    properties: dict[ItemName, PropertyDefinition] = {}
    schema: Any = None
    self: Any = None
    created_at: Any = None
    updated_at: Any = None


def object_document(body: NewObject) -> dict[str, Any]:
    document: dict[str, Any] = {"required": list(body.required)}
    document["properties"] = {k: definition(v) for k, v in body.properties.items()}
    if body.description is not None:
        document["description"] = body.description
    return document


class NewTag(msgspec.Struct):
    name: ItemName


class NewAssociation(msgspec.Struct):
    name: TypeName
    prefix: Short | None = None
    properties_target: Short | None = None
    created_at: Any = None
    updated_at: Any = None


class NewNamespace(msgspec.Struct):
    namespace: NamespaceName
    display_name: Text | None = None
    description: Text | None = None
    visibility: Literal["public", "private"] = "private"
    protected: bool = False
    owner: Short | None = None
    resource_type_associations: list[NewAssociation] = []
    properties: dict[ItemName, PropertyDefinition] = {}
    objects: list[NewObject] = []
    tags: list[NewTag] = []
    # shown attributes a client may send back unchanged
    schema: Any = None
    self: Any = None
    created_at: Any = None
    updated_at: Any = None


# -- rendering ---------------------------------------------------------------------------


def association_body(a: Association) -> dict[str, Any]:
    body: dict[str, Any] = {"name": a.name, "created_at": timestamp(a.created_at),
                            "updated_at": timestamp(a.updated_at)}  # fmt: skip
    if a.prefix is not None:
        body["prefix"] = a.prefix
    if a.properties_target is not None:
        body["properties_target"] = a.properties_target
    return body


def namespace_body(ns: Namespace, *, contents: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "namespace": ns.namespace, "visibility": ns.visibility, "protected": ns.protected,
        "owner": ns.owner, "created_at": timestamp(ns.created_at),
        "updated_at": timestamp(ns.updated_at),
        "self": f"/v2/metadefs/namespaces/{ns.namespace}",
        "schema": "/v2/schemas/metadefs/namespace",
    }  # fmt: skip
    if ns.display_name is not None:
        body["display_name"] = ns.display_name
    if ns.description is not None:
        body["description"] = ns.description
    if ns.resource_types:
        body["resource_type_associations"] = [
            association_body(a) for a in sorted(ns.resource_types.values(), key=lambda a: a.name)
        ]
    if contents:
        props = ns.items.get("property", {})
        if props:
            body["properties"] = {n: property_body(i, named=False) for n, i in props.items()}
        objects = ns.items.get("object", {})
        if objects:
            body["objects"] = [item_body(ns, "object", i) for i in objects.values()]
        tags = ns.items.get("tag", {})
        if tags:
            body["tags"] = [{"name": n} for n in tags]
    return body


def item_body(ns: Namespace, kind: str, item: MetadefItem) -> dict[str, Any]:
    base = f"/v2/metadefs/namespaces/{ns.namespace}"
    if kind == "tag":
        return {"name": item.name, "created_at": timestamp(item.created_at),
                "updated_at": timestamp(item.updated_at)}  # fmt: skip
    return {
        "name": item.name, **item.document,
        "created_at": timestamp(item.created_at), "updated_at": timestamp(item.updated_at),
        "self": f"{base}/objects/{item.name}", "schema": "/v2/schemas/metadefs/object",
    }  # fmt: skip


def property_body(item: MetadefItem, *, named: bool = True) -> dict[str, Any]:
    return {"name": item.name, **item.document} if named else dict(item.document)


# -- namespaces ----------------------------------------------------------------------------


def namespace_of(request: web.Request, who: Caller) -> Namespace:
    name = request.match_info["namespace"]
    return metadefs.visible(images(request).state, name, who.project, who.admin)


def _content_events(name: str, body: NewNamespace) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    for a in body.resource_type_associations:
        events.append(ev.MetadefResourceTypeAssociated(
            namespace=name, name=a.name, prefix=a.prefix, properties_target=a.properties_target,
        ))  # fmt: skip
    for prop_name, prop in body.properties.items():
        events.append(ev.MetadefItemSaved(namespace=name, kind="property", name=prop_name,
                                          document=definition(prop)))  # fmt: skip
    for obj in body.objects:
        events.append(ev.MetadefItemSaved(namespace=name, kind="object", name=obj.name,
                                          document=object_document(obj)))  # fmt: skip
    for tag in body.tags:
        events.append(ev.MetadefItemSaved(namespace=name, kind="tag", name=tag.name))
    for kind in ("object", "tag"):
        names = [e.name for e in events if isinstance(e, ev.MetadefItemSaved) and e.kind == kind]
        if len(names) != len(set(names)):
            raise Invalid(f"Duplicate {kind} names in the namespace.")
    return events


def _visible_namespaces(state: ImageState, who: Caller) -> list[Namespace]:
    return [ns for ns in state.namespaces.values() if metadefs.can_see(ns, who.project, who.admin)]


async def list_namespaces(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_namespaces", {"project_id": None})
    items = sorted(_visible_namespaces(images(request).state, who), key=lambda n: n.namespace)
    query = request.query
    if "visibility" in query:
        if query["visibility"] not in ("public", "private"):
            raise Invalid("visibility is public or private.")
        items = [n for n in items if n.visibility == query["visibility"]]
    if "resource_types" in query:
        wanted = set(query["resource_types"].split(","))
        items = [n for n in items if wanted & set(n.resource_types)]
    if "marker" in query:
        names = [n.namespace for n in items]
        if query["marker"] not in names:
            raise HTTPFault.bad_request(f"Invalid marker {query['marker']!r}.")
        items = items[names.index(query["marker"]) + 1 :]
    body: dict[str, Any] = {"first": "/v2/metadefs/namespaces",
                            "schema": "/v2/schemas/metadefs/namespaces"}  # fmt: skip
    if "limit" in query:
        raw = query["limit"]
        if not (raw.isascii() and raw.isdecimal()):
            raise HTTPFault.bad_request(f"Invalid limit {raw!r}: expected a whole number.")
        limit = int(raw)
        if limit < 1:
            raise HTTPFault.bad_request("limit is at least 1.")
        if len(items) > limit:
            body["next"] = f"/v2/metadefs/namespaces?marker={items[limit - 1].namespace}"
            items = items[:limit]
    body["namespaces"] = [namespace_body(n) for n in items]
    return json(body)


async def create_namespace(request: web.Request) -> web.Response:
    who = await caller(request, "image:add_metadef_namespace", {"project_id": None})
    body = await read_json(request, NewNamespace)
    owner = body.owner or who.project
    event = ev.MetadefNamespaceCreated(
        namespace=body.namespace, owner=owner, display_name=body.display_name,
        description=body.description, visibility=body.visibility, protected=body.protected,
    )  # fmt: skip
    contents = _content_events(body.namespace, body)
    await images(request).run(metadefs.create_namespace(event, contents, who.meta))
    ns = images(request).state.namespaces[body.namespace]
    return json(namespace_body(ns, contents=True), status=201)


async def show_namespace(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_namespace", {"project_id": None})
    return json(namespace_body(namespace_of(request, who), contents=True))


async def update_namespace(request: web.Request) -> web.Response:
    who = await caller(request, "image:modify_metadef_namespace", {"project_id": None})
    old = namespace_of(request, who)
    body = await read_json(request, NewNamespace)
    event = ev.MetadefNamespaceUpdated(
        namespace=old.namespace, new_namespace=body.namespace, owner=body.owner or old.owner,
        display_name=body.display_name, description=body.description,
        visibility=body.visibility, protected=body.protected,
    )  # fmt: skip
    await images(request).run(metadefs.update_namespace(event, who.meta))
    return json(namespace_body(images(request).state.namespaces[body.namespace]))


async def delete_namespace(request: web.Request) -> web.Response:
    who = await caller(request, "image:delete_metadef_namespace", {"project_id": None})
    ns = namespace_of(request, who)
    await images(request).run(metadefs.delete_namespace(ns.namespace, who.meta))
    return web.Response(status=204)


# -- resource types ------------------------------------------------------------------------


async def list_resource_types(request: web.Request) -> web.Response:
    await caller(request, "image:list_metadef_resource_types", {"project_id": None})
    state = images(request).state
    # Cairn's own kinds exist from the image log's first event (their time once
    # there is one); other types from their first association.
    known: dict[str, datetime | None] = dict.fromkeys(metadefs.BUILT_IN_RESOURCE_TYPES, state.began)
    known.update(state.resource_types)
    types = []
    for name, when in sorted(known.items()):
        entry: dict[str, Any] = {"name": name}
        if when is not None:
            entry["created_at"] = entry["updated_at"] = timestamp(when)
        types.append(entry)
    return json({"resource_types": types})


async def list_associations(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_resource_type", {"project_id": None})
    ns = namespace_of(request, who)
    associations = sorted(ns.resource_types.values(), key=lambda a: a.name)
    return json({"resource_type_associations": [association_body(a) for a in associations]})


async def associate(request: web.Request) -> web.Response:
    who = await caller(request, "image:add_metadef_resource_type_association", {"project_id": None})
    ns = namespace_of(request, who)
    body = await read_json(request, NewAssociation)
    event = ev.MetadefResourceTypeAssociated(
        namespace=ns.namespace, name=body.name, prefix=body.prefix,
        properties_target=body.properties_target,
    )  # fmt: skip
    await images(request).run(metadefs.associate(event, who.meta))
    made = images(request).state.namespaces[ns.namespace].resource_types[body.name]
    return json(association_body(made), status=201)


async def dissociate(request: web.Request) -> web.Response:
    who = await caller(request, "image:remove_metadef_resource_type_association",
                       {"project_id": None})  # fmt: skip
    ns = namespace_of(request, who)
    name = request.match_info["resource_type"]
    await images(request).run(metadefs.dissociate(ns.namespace, name, who.meta))
    return web.Response(status=204)
