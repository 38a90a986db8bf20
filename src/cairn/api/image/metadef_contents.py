"""``/v2/metadefs/namespaces/{ns}/objects``, ``/properties`` and ``/tags``: what
a metadata definition namespace holds, as Glance's api-ref has it.

All three are items of their namespace (``MetadefItemSaved``/``Deleted`` on the
namespace's stream): an object is a named group of property definitions, a
property a small JSON schema, a tag only a name. Creating a name that exists
is a 409; renaming (``PUT`` with another ``name``) keeps its creation time.
``POST .../tags`` replaces the whole tag list unless ``X-Openstack-Append:
true``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.image.common import caller, images, json
from cairn.api.image.metadefs import (
    ItemName,
    NewObject,
    NewTag,
    PropertyDefinition,
    definition,
    item_body,
    namespace_of,
    object_document,
    property_body,
)
from cairn.image import metadefs
from cairn.image.errors import Invalid, NotFound
from cairn.projections.image import MetadefItem, Namespace

NO_TARGET: dict[str, Any] = {"project_id": None}
#: (the item's old name, None for a new one; its name; its document)
Saved = tuple[str | None, str, dict[str, Any]]


def _item(ns: Namespace, kind: str, name: str) -> MetadefItem:
    item = ns.items.get(kind, {}).get(name)
    if item is None:
        raise NotFound(f"Metadata definition {kind}={name} was not found in namespace "
                       f"{ns.namespace}.")  # fmt: skip
    return item


def _valid(name: str) -> str:
    if not name or len(name) > 80 or "/" in name:
        raise Invalid(f"Invalid name {name!r}: 1 to 80 characters, no '/'.")
    return name


def _name(request: web.Request) -> str:
    return _valid(request.match_info["name"])


async def _fresh(request: web.Request, ns: Namespace) -> Namespace:
    return images(request).state.namespaces[ns.namespace]


# -- objects -------------------------------------------------------------------------------


async def list_objects(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_objects", NO_TARGET)
    ns = namespace_of(request, who)
    objects = [item_body(ns, "object", i) for i in ns.items.get("object", {}).values()]
    return json({"objects": objects, "schema": "v2/schemas/metadefs/objects"})


async def create_object(request: web.Request) -> web.Response:
    who = await caller(request, "image:add_metadef_object", NO_TARGET)
    ns = namespace_of(request, who)
    body = await read_json(request, NewObject)
    saved = [(None, body.name, object_document(body))]
    await images(request).run(metadefs.save_items(ns.namespace, "object", saved, who.meta))
    ns = await _fresh(request, ns)
    return json(item_body(ns, "object", _item(ns, "object", body.name)), status=201)


async def show_object(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_object", NO_TARGET)
    ns = namespace_of(request, who)
    return json(item_body(ns, "object", _item(ns, "object", _name(request))))


async def update_object(request: web.Request) -> web.Response:
    who = await caller(request, "image:modify_metadef_object", NO_TARGET)
    ns = namespace_of(request, who)
    old = _item(ns, "object", _name(request))
    body = await read_json(request, NewObject)
    saved = [(old.name, body.name, object_document(body))]
    await images(request).run(metadefs.save_items(ns.namespace, "object", saved, who.meta))
    ns = await _fresh(request, ns)
    return json(item_body(ns, "object", _item(ns, "object", body.name)))


async def delete_object(request: web.Request) -> web.Response:
    who = await caller(request, "image:delete_metadef_object", NO_TARGET)
    ns = namespace_of(request, who)
    name = _name(request)
    await images(request).run(metadefs.delete_items(ns.namespace, "object", name, who.meta))
    return web.Response(status=204)


async def delete_objects(request: web.Request) -> web.Response:
    who = await caller(request, "image:delete_metadef_object", NO_TARGET)
    ns = namespace_of(request, who)
    await images(request).run(metadefs.delete_items(ns.namespace, "object", None, who.meta))
    return web.Response(status=204)


# -- properties ----------------------------------------------------------------------------


async def list_properties(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_properties", NO_TARGET)
    ns = namespace_of(request, who)
    props = ns.items.get("property", {})
    return json({"properties": {n: property_body(i, named=False) for n, i in props.items()}})


async def _property_body(request: web.Request) -> tuple[str, PropertyDefinition]:
    body = await read_json(request, PropertyDefinition)
    if body.name is None:
        raise Invalid("A property needs a name.")
    return _valid(body.name), body


async def create_property(request: web.Request) -> web.Response:
    who = await caller(request, "image:add_metadef_property", NO_TARGET)
    ns = namespace_of(request, who)
    name, body = await _property_body(request)
    saved = [(None, name, definition(body))]
    await images(request).run(metadefs.save_items(ns.namespace, "property", saved, who.meta))
    ns = await _fresh(request, ns)
    return json(property_body(_item(ns, "property", name)), status=201)


async def show_property(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_property", NO_TARGET)
    ns = namespace_of(request, who)
    return json(property_body(_item(ns, "property", _name(request))))


async def update_property(request: web.Request) -> web.Response:
    who = await caller(request, "image:modify_metadef_property", NO_TARGET)
    ns = namespace_of(request, who)
    old = _item(ns, "property", _name(request))
    name, body = await _property_body(request)
    saved = [(old.name, name, definition(body))]
    await images(request).run(metadefs.save_items(ns.namespace, "property", saved, who.meta))
    ns = await _fresh(request, ns)
    return json(property_body(_item(ns, "property", name)))


async def delete_property(request: web.Request) -> web.Response:
    who = await caller(request, "image:remove_metadef_property", NO_TARGET)
    ns = namespace_of(request, who)
    name = _name(request)
    await images(request).run(metadefs.delete_items(ns.namespace, "property", name, who.meta))
    return web.Response(status=204)


async def delete_properties(request: web.Request) -> web.Response:
    who = await caller(request, "image:remove_metadef_property", NO_TARGET)
    ns = namespace_of(request, who)
    await images(request).run(metadefs.delete_items(ns.namespace, "property", None, who.meta))
    return web.Response(status=204)


# -- tags ----------------------------------------------------------------------------------


class TagsBody(msgspec.Struct):
    tags: list[NewTag]


class TagChange(msgspec.Struct):
    name: ItemName


def _tags(request: web.Request, ns: Namespace) -> list[dict[str, Any]]:
    return [item_body(ns, "tag", i) for i in ns.items.get("tag", {}).values()]


async def list_tags(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_tags", NO_TARGET)
    ns = namespace_of(request, who)
    return json({"tags": _tags(request, ns)})


async def create_tags(request: web.Request) -> web.Response:
    who = await caller(request, "image:add_metadef_tags", NO_TARGET)
    ns = namespace_of(request, who)
    body = await read_json(request, TagsBody)
    names = [t.name for t in body.tags]
    if len(names) != len(set(names)):
        raise Invalid("Duplicate tag names.")
    append = request.headers.get("X-Openstack-Append", "").lower() == "true"
    saved: list[Saved] = [(None, n, {}) for n in names]
    await images(request).run(
        metadefs.save_items(ns.namespace, "tag", saved, who.meta, replace_all=not append)
    )
    ns = await _fresh(request, ns)
    return json({"tags": [item_body(ns, "tag", _item(ns, "tag", n)) for n in names]}, status=201)


async def create_tag(request: web.Request) -> web.Response:
    who = await caller(request, "image:add_metadef_tag", NO_TARGET)
    ns = namespace_of(request, who)
    name = _name(request)
    await images(request).run(
        metadefs.save_items(ns.namespace, "tag", [(None, name, {})], who.meta)
    )
    ns = await _fresh(request, ns)
    return json(item_body(ns, "tag", _item(ns, "tag", name)), status=201)


async def show_tag(request: web.Request) -> web.Response:
    who = await caller(request, "image:get_metadef_tag", NO_TARGET)
    ns = namespace_of(request, who)
    return json(item_body(ns, "tag", _item(ns, "tag", _name(request))))


async def update_tag(request: web.Request) -> web.Response:
    who = await caller(request, "image:modify_metadef_tag", NO_TARGET)
    ns = namespace_of(request, who)
    old = _item(ns, "tag", _name(request))
    body = await read_json(request, TagChange)
    saved: list[Saved] = [(old.name, body.name, {})]
    await images(request).run(metadefs.save_items(ns.namespace, "tag", saved, who.meta))
    ns = await _fresh(request, ns)
    return json(item_body(ns, "tag", _item(ns, "tag", body.name)))


async def delete_tag(request: web.Request) -> web.Response:
    who = await caller(request, "image:delete_metadef_tag", NO_TARGET)
    ns = namespace_of(request, who)
    name = _name(request)
    await images(request).run(metadefs.delete_items(ns.namespace, "tag", name, who.meta))
    return web.Response(status=204)


async def delete_tags(request: web.Request) -> web.Response:
    who = await caller(request, "image:delete_metadef_tags", NO_TARGET)
    ns = namespace_of(request, who)
    await images(request).run(metadefs.delete_items(ns.namespace, "tag", None, who.meta))
    return web.Response(status=204)
