"""The image catalogue: Glance's images, their members and each project's usage.

One state serves the API's reads, the image deciders (with the version of every
stream folded, for their expected versions) and the audit tool's replay
(``cairn audit replay images``). Times come from the events' recorded time, so
the fold stays pure.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from cairn.events import RecordedEvent
from cairn.events import image as ev
from cairn.projections.catalog import Row, catalog
from cairn.projections.fold import Projection, handles


class Member(msgspec.Struct):
    member_id: str
    status: str
    created_at: datetime
    updated_at: datetime


class ImageData(msgspec.Struct, frozen=True):
    """What is known of stored (or staged) data: its size and checksums."""

    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str
    virtual_size: int | None = None


class Image(msgspec.Struct):
    id: str
    owner: str | None
    status: str
    attributes: ev.ImageAttributes
    created_at: datetime
    updated_at: datetime
    data: ImageData | None = None
    staged: ImageData | None = None
    members: dict[str, Member] = {}
    #: the image store that received the last upload, stage or import started
    node: str | None = None

    @property
    def visibility(self) -> str:
        return self.attributes.visibility


class Usage(msgspec.Struct):
    images: int = 0
    bytes: int = 0


class MetadefItem(msgspec.Struct):
    """An object, property or tag of a namespace: its definition as shown."""

    name: str
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class Association(msgspec.Struct):
    name: str
    prefix: str | None
    properties_target: str | None
    created_at: datetime
    updated_at: datetime


class Namespace(msgspec.Struct):
    namespace: str
    owner: str | None
    display_name: str | None
    description: str | None
    visibility: str
    protected: bool
    created_at: datetime
    updated_at: datetime
    resource_types: dict[str, Association] = {}
    #: kind ("object", "property", "tag") -> name -> item
    items: dict[str, dict[str, MetadefItem]] = {}


class Task(msgspec.Struct):
    id: str
    owner: str | None
    type: str
    input: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime
    result: dict[str, Any] | None = None
    message: str = ""
    expires_at: float | None = None


class ImageState(msgspec.Struct):
    images: dict[str, Image] = {}
    #: project id -> its usage, as the last ImageUsageChanged said
    usage: dict[str, Usage] = {}
    #: stream -> its version, for every stream folded here
    versions: dict[str, int] = {}
    #: metadata definition namespaces by name
    namespaces: dict[str, Namespace] = {}
    #: resource type name -> when it was first associated
    resource_types: dict[str, datetime] = {}
    tasks: dict[str, Task] = {}
    #: when the first event of this log was recorded (the built-in resource types' birth)
    began: datetime | None = None


def image_stream(image_id: str) -> str:
    return f"image-{image_id}"


def quota_stream(project_id: str) -> str:
    return f"imagequota-{project_id}"


def metadef_stream(namespace: str) -> str:
    """A namespace's stream, by its name (names are unique, and may be long)."""
    return f"metadef-{hashlib.sha256(namespace.encode()).hexdigest()[:40]}"


class ImageProjection(Projection[ImageState]):
    name = "images"
    state_type: ClassVar[Any] = ImageState

    def initial(self) -> ImageState:
        return ImageState()

    def apply(self, state: ImageState, event: RecordedEvent) -> ImageState:
        state.versions[event.stream] = event.version
        if state.began is None:
            state.began = event.recorded_at
        return super().apply(state, event)

    @handles("ImageCreated")
    def _created(self, s: ImageState, e: RecordedEvent, d: ev.ImageCreated) -> Any:
        s.images[d.image_id] = Image(
            d.image_id, d.owner, "queued", d.attributes, e.recorded_at, e.recorded_at
        )
        return s

    @handles("ImageUpdated")
    def _updated(self, s: ImageState, e: RecordedEvent, d: ev.ImageUpdated) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.attributes = d.attributes
            image.updated_at = e.recorded_at
        return s

    @handles("ImageOwnerChanged")
    def _owner(self, s: ImageState, e: RecordedEvent, d: ev.ImageOwnerChanged) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.owner = d.owner
            image.updated_at = e.recorded_at
        return s

    @handles("ImageUploadStarted")
    def _started(self, s: ImageState, e: RecordedEvent, d: ev.ImageUploadStarted) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.node = d.node
        return _status(s, d.image_id, "uploading" if d.staging else "saving", e)

    @handles("ImageUploadFailed")
    def _failed(self, s: ImageState, e: RecordedEvent, d: ev.ImageUploadFailed) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.staged = None
        return _status(s, d.image_id, "queued", e)

    @handles("ImageDataStaged")
    def _staged(self, s: ImageState, e: RecordedEvent, d: ev.ImageDataStaged) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.staged = _data(d)
        return _status(s, d.image_id, "uploading", e)

    @handles("ImageImportStarted")
    def _importing(self, s: ImageState, e: RecordedEvent, d: ev.ImageImportStarted) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.node = d.node
        return _status(s, d.image_id, "importing", e)

    @handles("ImageDataUploaded")
    def _uploaded(self, s: ImageState, e: RecordedEvent, d: ev.ImageDataUploaded) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.data = _data(d)
            image.staged = None
        return _status(s, d.image_id, "active", e)

    @handles("ImageDeactivated")
    def _deactivated(self, s: ImageState, e: RecordedEvent, d: ev.ImageDeactivated) -> Any:
        return _status(s, d.image_id, "deactivated", e)

    @handles("ImageReactivated")
    def _reactivated(self, s: ImageState, e: RecordedEvent, d: ev.ImageReactivated) -> Any:
        return _status(s, d.image_id, "active", e)

    @handles("ImageDeleted")
    def _deleted(self, s: ImageState, e: RecordedEvent, d: ev.ImageDeleted) -> Any:
        s.images.pop(d.image_id, None)
        return s

    @handles("ImageMemberAdded")
    def _member(self, s: ImageState, e: RecordedEvent, d: ev.ImageMemberAdded) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.members[d.member_id] = Member(
                d.member_id, "pending", e.recorded_at, e.recorded_at
            )
        return s

    @handles("ImageMemberStatusChanged")
    def _member_status(
        self, s: ImageState, e: RecordedEvent, d: ev.ImageMemberStatusChanged
    ) -> Any:
        image = s.images.get(d.image_id)
        member = image.members.get(d.member_id) if image is not None else None
        if member is not None:
            member.status = d.status
            member.updated_at = e.recorded_at
        return s

    @handles("ImageMemberRemoved")
    def _member_removed(self, s: ImageState, e: RecordedEvent, d: ev.ImageMemberRemoved) -> Any:
        image = s.images.get(d.image_id)
        if image is not None:
            image.members.pop(d.member_id, None)
        return s

    @handles("ImageUsageChanged")
    def _usage(self, s: ImageState, e: RecordedEvent, d: ev.ImageUsageChanged) -> Any:
        s.usage[d.project_id] = Usage(d.images, d.bytes)
        return s

    # -- tasks -------------------------------------------------------------------------

    @handles("TaskCreated")
    def _task(self, s: ImageState, e: RecordedEvent, d: ev.TaskCreated) -> Any:
        s.tasks[d.task_id] = Task(
            d.task_id, d.owner, d.type, dict(d.input), "pending", e.recorded_at, e.recorded_at
        )
        return s

    @handles("TaskStatusChanged")
    def _task_status(self, s: ImageState, e: RecordedEvent, d: ev.TaskStatusChanged) -> Any:
        task = s.tasks.get(d.task_id)
        if task is not None:
            task.status, task.result, task.message = d.status, d.result, d.message
            task.expires_at, task.updated_at = d.expires_at, e.recorded_at
        return s

    # -- metadata definitions ----------------------------------------------------------

    @handles("MetadefNamespaceCreated")
    def _ns_created(self, s: ImageState, e: RecordedEvent, d: ev.MetadefNamespaceCreated) -> Any:
        s.namespaces[d.namespace] = Namespace(
            d.namespace, d.owner, d.display_name, d.description, d.visibility, d.protected,
            e.recorded_at, e.recorded_at,
        )  # fmt: skip
        return s

    @handles("MetadefNamespaceUpdated")
    def _ns_updated(self, s: ImageState, e: RecordedEvent, d: ev.MetadefNamespaceUpdated) -> Any:
        ns = s.namespaces.pop(d.namespace, None)
        if ns is not None:
            ns.namespace, ns.owner, ns.display_name = d.new_namespace, d.owner, d.display_name
            ns.description, ns.visibility, ns.protected = d.description, d.visibility, d.protected
            ns.updated_at = e.recorded_at
            s.namespaces[d.new_namespace] = ns
        return s

    @handles("MetadefNamespaceDeleted")
    def _ns_deleted(self, s: ImageState, e: RecordedEvent, d: ev.MetadefNamespaceDeleted) -> Any:
        s.namespaces.pop(d.namespace, None)
        return s

    @handles("MetadefResourceTypeAssociated")
    def _associated(
        self, s: ImageState, e: RecordedEvent, d: ev.MetadefResourceTypeAssociated
    ) -> Any:
        s.resource_types.setdefault(d.name, e.recorded_at)
        ns = s.namespaces.get(d.namespace)
        if ns is not None:
            ns.resource_types[d.name] = Association(
                d.name, d.prefix, d.properties_target, e.recorded_at, e.recorded_at
            )
        return s

    @handles("MetadefResourceTypeDissociated")
    def _dissociated(
        self, s: ImageState, e: RecordedEvent, d: ev.MetadefResourceTypeDissociated
    ) -> Any:
        ns = s.namespaces.get(d.namespace)
        if ns is not None:
            ns.resource_types.pop(d.name, None)
        return s

    @handles("MetadefItemSaved")
    def _item_saved(self, s: ImageState, e: RecordedEvent, d: ev.MetadefItemSaved) -> Any:
        ns = s.namespaces.get(d.namespace)
        if ns is None:
            return s
        items = ns.items.setdefault(d.kind, {})
        old = items.pop(d.previous_name or d.name, None)
        created = old.created_at if old is not None else e.recorded_at
        items[d.name] = MetadefItem(d.name, dict(d.document), created, e.recorded_at)
        return s

    @handles("MetadefItemDeleted")
    def _item_deleted(self, s: ImageState, e: RecordedEvent, d: ev.MetadefItemDeleted) -> Any:
        ns = s.namespaces.get(d.namespace)
        if ns is not None:
            ns.items.get(d.kind, {}).pop(d.name, None)
        return s


def _status(s: ImageState, image_id: str, status: str, e: RecordedEvent) -> ImageState:
    image = s.images.get(image_id)
    if image is not None:
        image.status = status
        image.updated_at = e.recorded_at
    return s


def _data(d: ev.ImageDataUploaded | ev.ImageDataStaged) -> ImageData:
    return ImageData(d.size, d.checksum, d.os_hash_algo, d.os_hash_value, d.virtual_size)


def image_rows(state: ImageState, project: str | None) -> list[Row]:
    return [
        {
            "id": image.id,
            "name": image.attributes.name,
            "status": image.status,
            "visibility": image.visibility,
            "owner": image.owner,
            "size": image.data.size if image.data else None,
            "disk_format": image.attributes.disk_format,
            "updated": image.updated_at.isoformat(),
        }
        for image in sorted(state.images.values(), key=lambda i: (i.created_at, i.id))
        if project is None or image.owner == project
    ]


catalog.register(
    "images",
    ImageProjection,
    rows=image_rows,
    columns=("id", "name", "status", "visibility", "owner", "size", "disk_format", "updated"),
    description="Glance images: name, status, visibility, owner, size",
)


def namespace_rows(state: ImageState, project: str | None) -> list[Row]:
    return [
        {
            "namespace": ns.namespace,
            "owner": ns.owner,
            "visibility": ns.visibility,
            "protected": ns.protected,
            "resource_types": ",".join(sorted(ns.resource_types)),
            "objects": len(ns.items.get("object", {})),
            "properties": len(ns.items.get("property", {})),
            "tags": len(ns.items.get("tag", {})),
        }
        for ns in sorted(state.namespaces.values(), key=lambda n: n.namespace)
        if project is None or ns.owner == project
    ]


catalog.register(
    "metadefs",
    ImageProjection,
    rows=namespace_rows,
    columns=("namespace", "owner", "visibility", "protected", "resource_types", "objects",
             "properties", "tags"),
    description="Glance metadata definition namespaces: owner, visibility, what they hold",
)  # fmt: skip
