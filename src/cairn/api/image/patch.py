"""Glance's JSON patch (``application/openstack-images-v2.1-json-patch``).

A body is a list of operations (RFC 6902), each ``add``, ``replace`` or
``remove``, on ``/<attribute>`` or ``/tags/<index>`` (``/tags/-`` appends), as
Glance accepts them. Operations apply in order to the image's attributes as
one flat document (additional properties beside the base ones); the result is
checked as a whole by :func:`cairn.image.rules.attributes_from`.

The older ``application/openstack-images-v2.0-json-patch`` media type (JSON
patch's draft 10, which Tempest's client sends) names the operation by its key,
``{"replace": "/name", "value": "x"}``; :func:`read_patch` turns those into
the RFC 6902 shape, so one function applies both.

Malformed bodies and operations are 400s, patches of read-only attributes 403s,
``replace`` or ``remove`` of a property that is not there 409s, as in Glance.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.image import rules
from cairn.image.errors import Conflict, Forbidden, Invalid

MEDIA_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
OPS = ("add", "replace", "remove")
MAX_BODY = 1024 * 1024
#: Base attributes that always exist: they are set or replaced, never removed.
UNREMOVABLE = rules.BASE - {"name", "disk_format", "container_format"}


async def read_patch(request: web.Request) -> list[dict[str, Any]]:
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise HTTPFault(415, f"Unsupported Content-Type {media!r}; send {MEDIA_TYPES[0]}.")
    raw = await request.read()
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise Invalid(f"The patch is not valid JSON: {exc}") from None
    if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
        raise Invalid("A patch is a JSON list of operations (objects).")
    if media == MEDIA_TYPES[1]:
        return [_from_draft10(op) for op in body]
    return body


def _from_draft10(op: dict[str, Any]) -> dict[str, Any]:
    """``{"add": "/x", "value": 1}`` as ``{"op": "add", "path": "/x", "value": 1}``
    (an operation already in the RFC 6902 shape is taken as it is)."""
    if "op" in op:
        return op
    kinds = [k for k in OPS if k in op]
    if len(kinds) != 1:
        raise Invalid("Each operation names exactly one of add, replace or remove.")
    kind = kinds[0]
    converted = {k: v for k, v in op.items() if k != kind}
    return {"op": kind, "path": op[kind], **converted}


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/") or path == "/":
        raise Invalid(f"Invalid JSON pointer {path!r}: expected /<attribute>.")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "tags") or not parts[0]:
        raise Invalid(f"Invalid path {path!r}: only /<attribute> and /tags/<index> are patchable.")
    return parts


def apply_patch(document: dict[str, Any], operations: list[dict[str, Any]]) -> dict[str, Any]:
    """``document`` (flat attributes) after ``operations``; which keys they touched
    is the set of keys whose values differ."""
    doc = {k: (list(v) if isinstance(v, list) else v) for k, v in document.items()}
    for op in operations:
        kind = op.get("op")
        if kind not in OPS:
            raise Invalid(f"Invalid operation {kind!r}: use add, replace or remove.")
        unknown = set(op) - {"op", "path", "value"}
        if unknown:
            raise Invalid(f"Unexpected members in a patch operation: {', '.join(sorted(unknown))}.")
        parts = _pointer(op.get("path"))
        if kind != "remove" and "value" not in op:
            raise Invalid(f"The {kind} operation needs a value.")
        key = parts[0]
        if key in rules.READ_ONLY:
            raise Forbidden(f"Attribute '{key}' is read-only.")
        if len(parts) == 2:
            _patch_tag(doc, kind, parts[1], op.get("value"))
        elif kind == "remove":
            if key in UNREMOVABLE:
                raise Forbidden(f"Attribute '{key}' cannot be removed.")
            if key not in doc or (key in rules.BASE and doc[key] is None):
                raise Conflict(f"Property {key} does not exist.")
            if key in rules.BASE:
                doc[key] = None
            else:
                del doc[key]
        elif kind == "replace" and key not in doc:
            raise Conflict(f"Property {key} does not exist.")
        else:
            doc[key] = op["value"]
    return doc


def _patch_tag(doc: dict[str, Any], kind: str, index_text: str, value: Any) -> None:
    tags = doc.setdefault("tags", [])
    if not isinstance(tags, list):  # an earlier operation of this patch replaced them
        raise Invalid("Invalid tags: expected a list of strings.")
    if index_text == "-" and kind == "add":
        tags.append(value)
        return
    # isdecimal, not isdigit: int() refuses digits such as "²"
    index = int(index_text) if index_text.isascii() and index_text.isdecimal() else -1
    if index < 0 or index > len(tags) or (kind != "add" and index >= len(tags)):
        raise Invalid(f"Invalid tag index {index_text!r}.")
    if kind == "add":
        tags.insert(index, value)
    elif kind == "replace":
        tags[index] = value
    else:
        del tags[index]


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What a patch changed: keys added or given another value (removals excluded)."""
    return {k: v for k, v in after.items() if k not in before or before[k] != v}
