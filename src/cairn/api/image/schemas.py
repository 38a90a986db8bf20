"""``/v2/schemas/image(s)`` and ``/v2/schemas/member(s)``: JSON Schemas of what the
API accepts and shows, built from the same rules the API enforces
(:mod:`cairn.image.rules`). Clients (python-glanceclient, the SDK) read them to
know which attributes are base ones and which are additional properties."""

# ruff: noqa: E501  (schema text: one attribute a line reads better than wrapped)

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.image.common import caller, json
from cairn.image import rules

UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _read_only(kind: Any, description: str) -> dict[str, Any]:
    return {"type": kind, "readOnly": True, "description": description}


def image_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the image"},
        "name": _nullable("string", maxLength=rules.MAX_TEXT, description="Descriptive name for the image"),
        "status": {**_read_only("string", "Status of the image"), "enum": list(rules.IMAGE_STATUSES)},
        "visibility": {"type": "string", "enum": list(rules.VISIBILITIES), "description": "Scope of image accessibility"},
        "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
        "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
        "checksum": _read_only(["null", "string"], "md5 hash of image contents."),
        "os_hash_algo": _read_only(["null", "string"], "Algorithm to calculate the os_hash_value"),
        "os_hash_value": _read_only(["null", "string"], "Hexdigest of the image contents"),
        "owner": _nullable("string", maxLength=255, description="Owner of the image"),
        "size": _read_only(["null", "integer"], "Size of image file in bytes"),
        "virtual_size": _read_only(["null", "integer"], "Virtual size of image in bytes"),
        "container_format": _nullable("string", enum=[None, *rules.CONTAINER_FORMATS], description="Format of the container"),
        "disk_format": _nullable("string", enum=[None, *rules.DISK_FORMATS], description="Format of the disk"),
        "created_at": _read_only("string", "Date and time of image registration"),
        "updated_at": _read_only("string", "Date and time of the last image modification"),
        "tags": {"type": "array", "items": {"type": "string", "maxLength": rules.MAX_TEXT}, "description": "List of strings related to the image"},
        "direct_url": _read_only("string", "URL to access the image file kept in external store"),
        "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
        "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
        "self": _read_only("string", "An image self url"),
        "file": _read_only("string", "An image file url"),
        "stores": _read_only("string", "Store in which image data resides."),
        "schema": _read_only("string", "An image schema url"),
        "locations": {"type": "array", "items": {"type": "object"}, "description": "A set of URLs to access the image file kept in external store"},
        "kernel_id": _nullable("string", pattern=UUID_PATTERN, description="ID of image stored in Glance that should be used as the kernel when booting an AMI-style image."),
        "ramdisk_id": _nullable("string", pattern=UUID_PATTERN, description="ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image."),
        "os_distro": {"type": "string", "description": "Common name of operating system distribution"},
        "os_version": {"type": "string", "description": "Operating system version"},
        "architecture": {"type": "string", "description": "Operating system architecture"},
    }  # fmt: skip
    return {
        "name": "image",
        "properties": properties,
        "additionalProperties": {"type": "string"},
        "links": [
            {"href": "{self}", "rel": "self"},
            {"href": "{file}", "rel": "enclosure"},
            {"href": "{schema}", "rel": "describedby"},
        ],
    }


def images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"href": "{first}", "rel": "first"},
            {"href": "{next}", "rel": "next"},
            {"href": "{schema}", "rel": "describedby"},
        ],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "pattern": UUID_PATTERN, "description": "An identifier for the image"},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "status": {"type": "string", "enum": list(rules.MEMBER_STATUSES), "description": "The status of this image member"},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "schema": {"type": "string", "readOnly": True},
        },
    }  # fmt: skip


def members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"href": "{schema}", "rel": "describedby"}],
    }


async def image(request: web.Request) -> web.Response:
    await caller(request, "image:get_images", {"project_id": None})
    return json(image_schema())


async def images(request: web.Request) -> web.Response:
    await caller(request, "image:get_images", {"project_id": None})
    return json(images_schema())


async def member(request: web.Request) -> web.Response:
    await caller(request, "image:get_images", {"project_id": None})
    return json(member_schema())


async def members(request: web.Request) -> web.Response:
    await caller(request, "image:get_images", {"project_id": None})
    return json(members_schema())
