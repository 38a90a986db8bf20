"""``/v2/schemas/metadefs/*``: JSON Schemas of the metadata definition documents.

Each is made from the msgspec Struct the API decodes that document with
(:mod:`.metadefs`), so a schema says exactly what is accepted; the ``name`` of
each is Glance's (``resource_type`` describes a ``resource_type_association``).
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.image.common import caller, json
from cairn.api.image.metadefs import (
    NewAssociation,
    NewNamespace,
    NewObject,
    NewTag,
    PropertyDefinition,
)

SHOWN = {"created_at", "updated_at", "self", "schema", "owner"}


def _document(name: str, struct: type[Any]) -> dict[str, Any]:
    made = msgspec.json.schema(struct)
    defs: dict[str, Any] = made.get("$defs", {})
    root = dict(defs.pop(made["$ref"].rsplit("/", 1)[1]))
    for key in SHOWN & set(root.get("properties", {})):
        root["properties"][key] = {"type": "string", "readOnly": True}
    body = {"name": name, **root}
    if defs:
        body["$defs"] = defs
    return body


def _listing(name: str, key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            key: {"type": "array", "items": item},
            "first": {"type": "string"}, "next": {"type": "string"}, "schema": {"type": "string"},
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }  # fmt: skip


def _schemas() -> dict[str, dict[str, Any]]:
    namespace = _document("namespace", NewNamespace)
    association = _document("resource_type_association", NewAssociation)
    obj = _document("object", NewObject)
    prop = _document("property", PropertyDefinition)
    tag = _document("tag", NewTag)
    properties = {"name": "properties", "properties": {
        "properties": {"type": "object", "additionalProperties": prop}}}  # fmt: skip
    return {
        "namespace": namespace,
        "namespaces": _listing("namespaces", "namespaces", namespace),
        "resource_type": association,
        "resource_types": _listing(
            "resource_type_associations", "resource_type_associations", association
        ),
        "object": obj,
        "objects": _listing("objects", "objects", obj),
        "property": prop,
        "properties": properties,
        "tag": tag,
        "tags": _listing("tags", "tags", tag),
    }


SCHEMAS = _schemas()


async def schema(request: web.Request) -> web.Response:
    await caller(request, "image:get_metadef_namespaces", {"project_id": None})
    found = SCHEMAS.get(request.match_info["kind"])
    if found is None:
        raise HTTPFault.not_found(f"No schema metadefs/{request.match_info['kind']}.")
    return json(found)
