"""Image events (Glance v2): images, their data, their members, and per-project usage.

Streams: ``image-<id>`` (one image: its metadata, status, data and members) and
``imagequota-<project id>`` (the project's image usage). Every write that
changes a project's usage (a new image, uploaded data, a deletion) appends an
:class:`ImageUsageChanged` to the project's quota stream at the version its
decision saw, in the same atomic append as the image's own event: two
concurrent uploads cannot both pass the limit.

Events carry metadata, sizes and checksums, never image bytes: those live in
files under the data directory, named by the image id.
"""

from __future__ import annotations

from typing import Any

import msgspec

from cairn.events.registry import DomainEvent, registry


class ImageAttributes(msgspec.Struct, frozen=True, kw_only=True):
    """The user-settable attributes of an image, all of them."""

    name: str | None = None
    disk_format: str | None = None
    container_format: str | None = None
    visibility: str = "shared"
    protected: bool = False
    os_hidden: bool = False
    min_disk: int = 0
    min_ram: int = 0
    tags: list[str] = []
    #: additional properties (Glance's "extra properties"), string values
    properties: dict[str, str] = {}


@registry.event
class ImageCreated(DomainEvent, frozen=True):
    image_id: str
    owner: str | None
    attributes: ImageAttributes


@registry.event
class ImageUpdated(DomainEvent, frozen=True):
    """The image's attributes after the change (all of them)."""

    image_id: str
    attributes: ImageAttributes


@registry.event
class ImageUploadStarted(DomainEvent, frozen=True):
    """Data started to arrive (status ``saving``, or ``uploading`` when staged).
    ``node`` names the image store (data directory) receiving it: only that one
    may declare the upload lost after a restart."""

    image_id: str
    staging: bool = False
    node: str | None = None


@registry.event
class ImageUploadFailed(DomainEvent, frozen=True):
    """An upload or import did not finish; no data was kept (status back to ``queued``)."""

    image_id: str
    reason: str


@registry.event
class ImageDataStaged(DomainEvent, frozen=True):
    """Data was staged for an interoperable import (status ``uploading``)."""

    image_id: str
    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str
    virtual_size: int | None = None


@registry.event
class ImageImportStarted(DomainEvent, frozen=True):
    """An import began (status ``importing``) on image store ``node``."""

    image_id: str
    method: str
    node: str | None = None


@registry.event
class ImageDataUploaded(DomainEvent, frozen=True):
    """The image's data is stored, complete and durable (status ``active``)."""

    image_id: str
    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str
    virtual_size: int | None = None


@registry.event
class ImageDeactivated(DomainEvent, frozen=True):
    image_id: str


@registry.event
class ImageReactivated(DomainEvent, frozen=True):
    image_id: str


@registry.event
class ImageDeleted(DomainEvent, frozen=True):
    image_id: str


@registry.event
class ImageOwnerChanged(DomainEvent, frozen=True):
    """An admin gave the image to another project (``None``: to none); its count
    and bytes move from the old owner's usage to the new one's in the same append."""

    image_id: str
    owner: str | None


@registry.event
class ImageMemberAdded(DomainEvent, frozen=True):
    image_id: str
    member_id: str


@registry.event
class ImageMemberStatusChanged(DomainEvent, frozen=True):
    image_id: str
    member_id: str
    status: str


@registry.event
class ImageMemberRemoved(DomainEvent, frozen=True):
    image_id: str
    member_id: str


@registry.event
class ImageUsageChanged(DomainEvent, frozen=True):
    """A project's image usage after a change: images it owns and bytes they hold."""

    project_id: str
    images: int
    bytes: int


# -- metadata definitions (/v2/metadefs) ---------------------------------------------
#
# One stream a namespace: ``metadef-<digest of its name>``; the events of its
# resource type associations, objects, properties and tags go there too. A
# namespace created twice at once gives one conflict (the same stream at the
# same version); a rename also writes MetadefNameTaken on the new name's stream,
# so a concurrent create of that name conflicts in the same way.


@registry.event
class MetadefNamespaceCreated(DomainEvent, frozen=True):
    namespace: str
    owner: str | None
    display_name: str | None = None
    description: str | None = None
    visibility: str = "private"
    protected: bool = False


@registry.event
class MetadefNamespaceUpdated(DomainEvent, frozen=True):
    """The namespace's attributes after the change; ``new_namespace`` is its name
    from now on (the same as ``namespace`` unless it was renamed)."""

    namespace: str
    new_namespace: str
    owner: str | None
    display_name: str | None = None
    description: str | None = None
    visibility: str = "private"
    protected: bool = False


@registry.event
class MetadefNameTaken(DomainEvent, frozen=True):
    """A rename took this name: written on the name's stream only, to order it."""

    namespace: str


@registry.event
class MetadefNamespaceDeleted(DomainEvent, frozen=True):
    namespace: str


@registry.event
class MetadefResourceTypeAssociated(DomainEvent, frozen=True):
    namespace: str
    name: str
    prefix: str | None = None
    properties_target: str | None = None


@registry.event
class MetadefResourceTypeDissociated(DomainEvent, frozen=True):
    namespace: str
    name: str


@registry.event
class MetadefItemSaved(DomainEvent, frozen=True):
    """An object, property or tag of a namespace (``kind``), created or replaced;
    ``previous_name`` is its name before a rename. ``document`` is its definition
    as the API shows it (a property's JSON schema, an object's properties)."""

    namespace: str
    kind: str
    name: str
    document: dict[str, Any] = {}
    previous_name: str | None = None


@registry.event
class MetadefItemDeleted(DomainEvent, frozen=True):
    namespace: str
    kind: str
    name: str


# -- tasks (/v2/tasks) ---------------------------------------------------------------


@registry.event
class TaskCreated(DomainEvent, frozen=True):
    """An asynchronous task (``task-<id>``), ``pending``; ``input`` as it was given."""

    task_id: str
    owner: str | None
    type: str
    input: dict[str, Any] = {}


@registry.event
class TaskStatusChanged(DomainEvent, frozen=True):
    """``processing``, then ``success`` (with ``result``) or ``failure`` (with
    ``message``); a finished task expires ``expires_at`` (epoch seconds)."""

    task_id: str
    status: str
    result: dict[str, Any] | None = None
    message: str = ""
    expires_at: float | None = None
