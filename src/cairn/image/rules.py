"""What an image may look like, and who may see it: Glance v2's rules, in one place.

Formats and visibilities are Glance's defaults (``glance-api.conf``'s
``disk_formats``, ``container_formats``). Read-only attributes cannot be set
by anyone (Glance answers 403); additional properties are strings.

Who sees what (Glance's ``ImageRepoProxy`` and its listing filters): admins see
every image; a project sees its own images, public and community images, and
shared images it is a member of. A plain listing shows community images only to
their owner and shared images only once the member accepted them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cairn.events.image import ImageAttributes
from cairn.image.errors import Forbidden, Invalid
from cairn.projections.image import Image

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
MEMBER_STATUSES = ("pending", "accepted", "rejected")
IMAGE_STATUSES = (
    "queued", "saving", "uploading", "importing", "active", "deactivated", "killed", "deleted",
)  # fmt: skip

#: Attributes nobody sets: the server derives them (Glance answers 403).
READ_ONLY = frozenset({
    "id", "status", "created_at", "updated_at", "size", "virtual_size", "checksum",
    "os_hash_algo", "os_hash_value", "direct_url", "locations", "self", "file", "schema",
    "deleted", "deleted_at", "stores", "owner",
})  # fmt: skip
#: Attributes of :class:`ImageAttributes` (settable, with their own types).
BASE = frozenset(
    {"name", "disk_format", "container_format", "visibility", "protected", "os_hidden",
     "min_disk", "min_ram", "tags"}
)  # fmt: skip
RESERVED_PREFIX = "os_glance"
MAX_TEXT = 255
MAX_PROPERTY_VALUE = 65535
MAX_INT = 2**31 - 1
MAX_TAGS = 128
MAX_PROPERTIES = 128


def check_attribute(key: str, value: Any) -> None:
    """Raise :class:`Invalid` (400) or :class:`Forbidden` (403) unless ``key`` may be ``value``."""
    if key in READ_ONLY:
        raise Forbidden(f"Attribute '{key}' is read-only.")
    if key.startswith(RESERVED_PREFIX):
        raise Forbidden(f"Attribute '{key}' is reserved.")
    if not key or len(key) > MAX_TEXT:
        raise Invalid(f"Property names are 1 to {MAX_TEXT} characters long: {key[:40]!r}.")
    if key == "name":
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            raise Invalid(f"Invalid name: a string of at most {MAX_TEXT} characters or null.")
    elif key == "disk_format":
        if value is not None and value not in DISK_FORMATS:
            allowed = ", ".join(DISK_FORMATS)
            raise Invalid(f"Invalid disk_format {value!r}; choose one of {allowed}.")
    elif key == "container_format":
        if value is not None and value not in CONTAINER_FORMATS:
            allowed = ", ".join(CONTAINER_FORMATS)
            raise Invalid(f"Invalid container_format {value!r}; choose one of {allowed}.")
    elif key == "visibility":
        if value not in VISIBILITIES:
            raise Invalid(f"Invalid visibility {value!r}; choose one of {', '.join(VISIBILITIES)}.")
    elif key in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise Invalid(f"Invalid {key}: expected true or false.")
    elif key in ("min_disk", "min_ram"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
            raise Invalid(f"Invalid {key}: expected a whole number from 0 to {MAX_INT}.")
    elif key == "tags":
        if not isinstance(value, list) or len(value) > MAX_TAGS:
            raise Invalid(f"Invalid tags: expected a list of at most {MAX_TAGS} strings.")
        for tag in value:
            check_tag(tag)
    elif not isinstance(value, str) or len(value) > MAX_PROPERTY_VALUE:
        raise Invalid(f"Invalid value for property '{key}': expected a string.")


def check_tag(tag: Any) -> None:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TEXT:
        raise Invalid(f"Invalid tag: a string of 1 to {MAX_TEXT} characters, not {tag!r}.")


def attributes_from(
    fields: Mapping[str, Any], base: ImageAttributes | None = None
) -> ImageAttributes:
    """Attributes built from checked ``fields`` (unknown keys are additional properties),
    starting from ``base`` (or the defaults)."""
    for key, value in fields.items():
        check_attribute(key, value)
    start = base or ImageAttributes()
    values: dict[str, Any] = {key: getattr(start, key) for key in BASE}
    properties = dict(start.properties)
    for key, value in fields.items():
        if key in BASE:
            values[key] = list(dict.fromkeys(value)) if key == "tags" else value
        else:
            properties[key] = value
    if len(properties) > MAX_PROPERTIES:
        raise Invalid(f"An image has at most {MAX_PROPERTIES} additional properties.")
    return ImageAttributes(**values, properties=properties)


def as_fields(attributes: ImageAttributes) -> dict[str, Any]:
    """The attributes as one flat mapping (additional properties at the top level)."""
    fields: dict[str, Any] = {key: getattr(attributes, key) for key in BASE}
    fields.update(attributes.properties)
    return fields


# -- who sees what -------------------------------------------------------------------


def can_see(image: Image, project: str | None, admin: bool) -> bool:
    """Whether a caller of ``project`` may show ``image`` (else it is a 404)."""
    if admin or (project is not None and image.owner == project):
        return True
    if image.visibility in ("public", "community"):
        return True
    return image.visibility == "shared" and project is not None and project in image.members


def listed_by_default(image: Image, project: str | None, admin: bool) -> bool:
    """Whether a plain listing (no visibility filter) shows ``image``."""
    if admin or (project is not None and image.owner == project):
        return True
    if image.visibility == "public":
        return True
    if image.visibility == "shared" and project is not None:
        member = image.members.get(project)
        return member is not None and member.status == "accepted"
    return False


def can_modify(image: Image, project: str | None, admin: bool) -> bool:
    return admin or (project is not None and image.owner == project)
