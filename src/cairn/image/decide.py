"""Image deciders: each takes the image state and returns the writes to append.

They are pure (the executor may run them again after a conflict) and refuse a
command with a domain error. Who the caller is has been checked by then
(:mod:`cairn.image.service`); deciders check the state: that the image exists,
is in a status that allows the command, and that the project's quota holds.

A change of a project's usage is written to its quota stream in the same
append as the image's own event, at the version the decision saw: a concurrent
change of the same project's usage makes one of the two appends conflict, and
the loser decides again against the winner's usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cairn.app import Decider
from cairn.events import NO_STREAM, DomainEvent, Metadata, registry
from cairn.events import image as ev
from cairn.image.errors import Conflict, Forbidden, Invalid, NotFound, QuotaExceeded
from cairn.projections.image import Image, ImageData, ImageState, Usage, image_stream, quota_stream
from cairn.store.port import StreamWrite

UNLIMITED = -1


@dataclass(frozen=True, slots=True)
class Limits:
    """A project's image quota: how many images, how many bytes (-1: no limit)."""

    images: int = UNLIMITED
    bytes: int = UNLIMITED

    def remaining_bytes(self, usage: Usage) -> int | None:
        """Bytes the project may still store, ``None`` when unlimited."""
        return None if self.bytes < 0 else max(0, self.bytes - usage.bytes)


def existing(state: ImageState, image_id: str) -> Image:
    image = state.images.get(image_id)
    if image is None:
        raise NotFound(f"No image found with ID {image_id}")
    return image


def _image_write(state: ImageState, image_id: str, events: Sequence[DomainEvent],
                 meta: Metadata) -> StreamWrite:  # fmt: skip
    stream = image_stream(image_id)
    return StreamWrite(
        stream, [registry.new(e, meta) for e in events], state.versions.get(stream, NO_STREAM)
    )


def _usage_write(state: ImageState, project: str, images: int, size: int,
                 meta: Metadata) -> StreamWrite:  # fmt: skip
    stream = quota_stream(project)
    event = ev.ImageUsageChanged(project_id=project, images=images, bytes=size)
    return StreamWrite(stream, [registry.new(event, meta)], state.versions.get(stream, NO_STREAM))


def usage(state: ImageState, project: str | None) -> Usage:
    return state.usage.get(project, Usage()) if project is not None else Usage()


def create(image_id: str, owner: str | None, attributes: ev.ImageAttributes, limits: Limits,
           meta: Metadata) -> Decider[ImageState]:  # fmt: skip
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        if image_stream(image_id) in state.versions:
            raise Conflict(f"An image with ID {image_id} already exists.")
        created = ev.ImageCreated(image_id=image_id, owner=owner, attributes=attributes)
        writes = [_image_write(state, image_id, [created], meta)]
        if owner is not None:
            used = usage(state, owner)
            if 0 <= limits.images <= used.images:
                raise QuotaExceeded(
                    f"The project's image quota of {limits.images} images is reached."
                )
            writes.append(_usage_write(state, owner, used.images + 1, used.bytes, meta))
        return writes

    return decide


class Keep:
    """The owner stays as it is (:func:`update`'s default)."""


KEEP = Keep()


def update(image_id: str, attributes: ev.ImageAttributes, meta: Metadata,
           owner: str | Keep | None = KEEP) -> Decider[ImageState]:  # fmt: skip
    """New attributes and, given ``owner``, a new owner (an admin's act: what the
    image counts moves from one usage to the other, the new owner's limits
    unchecked, as in Glance), in one append."""

    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        events: list[DomainEvent] = []
        if image.attributes != attributes:
            for key in ("disk_format", "container_format"):
                changed = getattr(attributes, key) != getattr(image.attributes, key)
                if changed and image.status != "queued":
                    raise Forbidden(f"Attribute {key} can be only replaced for a queued image.")
            events.append(ev.ImageUpdated(image_id=image_id, attributes=attributes))
        writes: list[StreamWrite] = []
        if not isinstance(owner, Keep) and owner != image.owner:
            events.append(ev.ImageOwnerChanged(image_id=image_id, owner=owner))
            writes += _move_usage(state, image, owner, meta)
        return [_image_write(state, image_id, events, meta), *writes] if events else []

    return decide


def _move_usage(state: ImageState, image: Image, owner: str | None,
                meta: Metadata) -> list[StreamWrite]:  # fmt: skip
    size = (image.data.size if image.data else 0) + (image.staged.size if image.staged else 0)
    writes = []
    if image.owner is not None:
        old = usage(state, image.owner)
        writes.append(_usage_write(state, image.owner, max(0, old.images - 1),
                                   max(0, old.bytes - size), meta))  # fmt: skip
    if owner is not None:
        new = usage(state, owner)
        writes.append(_usage_write(state, owner, new.images + 1, new.bytes + size, meta))
    return writes


def start_upload(image_id: str, meta: Metadata, *, staging: bool = False,
                 node: str | None = None) -> Decider[ImageState]:  # fmt: skip
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if image.status != "queued":
            raise Conflict(
                f"Image {image_id} is {image.status}; data can only be uploaded to a queued image."
            )
        if not staging and not (image.attributes.disk_format and image.attributes.container_format):
            raise Invalid(
                "Properties disk_format and container_format must be set prior to saving data."
            )
        started = ev.ImageUploadStarted(image_id=image_id, staging=staging, node=node)
        return [_image_write(state, image_id, [started], meta)]

    return decide


def fail_upload(image_id: str, reason: str, meta: Metadata) -> Decider[ImageState]:
    """Back to ``queued`` after an upload, stage or import that did not finish."""

    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = state.images.get(image_id)
        if image is None or image.status not in ("saving", "uploading", "importing"):
            return []
        failed = ev.ImageUploadFailed(image_id=image_id, reason=reason)
        writes = [_image_write(state, image_id, [failed], meta)]
        if image.owner is not None and image.staged is not None:
            # the staged data goes with the failure: its bytes are freed
            used = usage(state, image.owner)
            refund = max(0, used.bytes - image.staged.size)
            writes.append(_usage_write(state, image.owner, used.images, refund, meta))
        return writes

    return decide


def _charge(state: ImageState, image: Image, size: int, limits: Limits,
            meta: Metadata) -> list[StreamWrite]:  # fmt: skip
    """The quota stream's write for ``size`` more bytes of ``image``'s owner."""
    if image.owner is None:
        return []
    used = usage(state, image.owner)
    if 0 <= limits.bytes < used.bytes + size:
        raise QuotaExceeded(
            f"Storing {size} bytes would pass the project's image quota of {limits.bytes} bytes "
            f"({used.bytes} used)."
        )
    return [_usage_write(state, image.owner, used.images, used.bytes + size, meta)]


def finish_upload(image_id: str, data: ImageData, limits: Limits,
                  meta: Metadata) -> Decider[ImageState]:  # fmt: skip
    """The data is on disk: the image becomes active, and the bytes count on the quota
    (an import's were counted when they were staged)."""

    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if image.status not in ("saving", "importing"):
            raise Conflict(f"Image {image_id} is {image.status}; its upload was cancelled.")
        # an import's bytes were charged when they were staged (the same bytes)
        staged = image.status == "importing" and image.staged is not None
        uploaded = ev.ImageDataUploaded(
            image_id=image_id, size=data.size, checksum=data.checksum,
            os_hash_algo=data.os_hash_algo, os_hash_value=data.os_hash_value,
            virtual_size=data.virtual_size,
        )  # fmt: skip
        return [
            _image_write(state, image_id, [uploaded], meta),
            *([] if staged else _charge(state, image, data.size, limits, meta)),
        ]

    return decide


def finish_staging(image_id: str, data: ImageData, limits: Limits,
                   meta: Metadata) -> Decider[ImageState]:  # fmt: skip
    """The data is staged: its bytes count on the quota from now on, as an upload's."""

    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if image.status != "uploading":
            raise Conflict(f"Image {image_id} is {image.status}; its staging was cancelled.")
        staged = ev.ImageDataStaged(
            image_id=image_id, size=data.size, checksum=data.checksum,
            os_hash_algo=data.os_hash_algo, os_hash_value=data.os_hash_value,
            virtual_size=data.virtual_size,
        )  # fmt: skip
        return [
            _image_write(state, image_id, [staged], meta),
            *_charge(state, image, data.size, limits, meta),
        ]

    return decide


def start_import(image_id: str, method: str, meta: Metadata,
                 node: str | None = None) -> Decider[ImageState]:  # fmt: skip
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if image.status != "uploading" or image.staged is None:
            raise Conflict(f"Image {image_id} is {image.status}; it has no staged data to import.")
        if not (image.attributes.disk_format and image.attributes.container_format):
            raise Invalid("Properties disk_format and container_format must be set to import.")
        started = ev.ImageImportStarted(image_id=image_id, method=method, node=node)
        return [_image_write(state, image_id, [started], meta)]

    return decide


def delete(image_id: str, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if image.attributes.protected:
            raise Forbidden(f"Image {image_id} is protected and cannot be deleted.")
        writes = [_image_write(state, image_id, [ev.ImageDeleted(image_id=image_id)], meta)]
        if image.owner is not None:
            used = usage(state, image.owner)
            size = (image.data.size if image.data else 0) + (
                image.staged.size if image.staged else 0
            )
            writes.append(
                _usage_write(
                    state, image.owner, max(0, used.images - 1), max(0, used.bytes - size), meta
                )
            )
        return writes

    return decide


def deactivate(image_id: str, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if image.status == "deactivated":
            return []
        if image.status != "active":
            raise Forbidden(f"Not allowed to deactivate image in status '{image.status}'.")
        return [_image_write(state, image_id, [ev.ImageDeactivated(image_id=image_id)], meta)]

    return decide


def reactivate(image_id: str, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if image.status == "active":
            return []
        if image.status != "deactivated":
            raise Forbidden(f"Not allowed to reactivate image in status '{image.status}'.")
        return [_image_write(state, image_id, [ev.ImageReactivated(image_id=image_id)], meta)]

    return decide


# -- members -------------------------------------------------------------------------


def add_member(image_id: str, member_id: str, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if image.visibility != "shared":
            raise Forbidden(
                f"Image {image_id} is {image.visibility}; only shared images have members."
            )
        if member_id in image.members:
            raise Conflict(f"Project {member_id} is already a member of image {image_id}.")
        added = ev.ImageMemberAdded(image_id=image_id, member_id=member_id)
        return [_image_write(state, image_id, [added], meta)]

    return decide


def set_member_status(image_id: str, member_id: str, status: str,
                      meta: Metadata) -> Decider[ImageState]:  # fmt: skip
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        member = image.members.get(member_id)
        if member is None:
            raise NotFound(f"Project {member_id} is not a member of image {image_id}.")
        if member.status == status:
            return []
        changed = ev.ImageMemberStatusChanged(image_id=image_id, member_id=member_id, status=status)
        return [_image_write(state, image_id, [changed], meta)]

    return decide


def remove_member(image_id: str, member_id: str, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        image = existing(state, image_id)
        if member_id not in image.members:
            raise NotFound(f"Project {member_id} is not a member of image {image_id}.")
        removed = ev.ImageMemberRemoved(image_id=image_id, member_id=member_id)
        return [_image_write(state, image_id, [removed], meta)]

    return decide
