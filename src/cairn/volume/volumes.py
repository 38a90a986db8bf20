"""Volume deciders: create (empty, from an image, a snapshot or a volume), update,
flags, extend, delete and an admin's status reset.

Each is a pure function of the state: it checks the request against the volume's
status as Cinder does (the same words in its refusals) and puts the request's
events on the writes. The agent's outcome moves a transitional status on.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field

from cairn.events import volume as ev
from cairn.projections.volume import (
    Volume,
    VolumeState,
    message_stream,
    snapshot_stream,
    volume_stream,
)
from cairn.volume import access, groups, quota, scheduler
from cairn.volume.access import Caller
from cairn.volume.config import DEFAULT_TYPE, VolumeConfig
from cairn.volume.errors import Invalid, NotFound
from cairn.volume.writes import Writes

GIB = 1024**3
#: statuses a volume may be deleted from (Cinder's volume API)
DELETABLE = frozenset(
    {"available", "error", "error_restoring", "error_extending", "error_managing"}
)
#: statuses a snapshot of a volume being deleted with cascade may be in
CASCADABLE = frozenset({"available", "error", "error_deleting"})
#: what an admin may reset a volume to (Cinder's os-reset_status)
RESETTABLE = frozenset(
    {
        "creating",
        "available",
        "deleting",
        "error",
        "error_deleting",
        "error_managing",
        "managing",
        "attaching",
        "in-use",
        "detaching",
        "maintenance",
        "reserved",
        "extending",
        "error_extending",
        "downloading",
        "uploading",
        "retyping",
        "backing-up",
        "restoring-backup",
        "error_restoring",
        "awaiting-transfer",
    }
)
ATTACH_STATUSES = frozenset({"attached", "detached", "attaching", "detaching", "reserved"})


@dataclass(frozen=True, slots=True)
class ImageRef:
    """What the volume API learnt of an ``imageRef`` from the image service."""

    id: str
    disk_format: str
    #: bytes of the image's data, and the disk size it unpacks to (when known)
    size: int = 0
    virtual_size: int | None = None
    min_disk: int = 0
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def min_gigabytes(self) -> int:
        need = self.virtual_size or self.size
        return max(self.min_disk, math.ceil(need / GIB) if need else 0)


@dataclass(frozen=True, slots=True)
class CreateVolume:
    volume_id: str
    size: int | None
    name: str | None = None
    description: str | None = None
    volume_type: str | None = None
    availability_zone: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    snapshot_id: str | None = None
    source_volid: str | None = None
    image: ImageRef | None = None
    multiattach: bool = False
    group_id: str | None = None
    backup_id: str | None = None


def create(
    state: VolumeState, caller: Caller, config: VolumeConfig, wanted: CreateVolume, w: Writes
) -> None:
    sources = [
        x for x in (wanted.snapshot_id, wanted.source_volid, wanted.image, wanted.backup_id) if x
    ]
    if len(sources) > 1:
        raise Invalid(
            "Invalid input received: only one of snapshot_id, source_volid, imageRef and "
            "backup_id may be given."
        )
    size = wanted.size
    source = ev.VolumeSource()
    backed_up_metadata: dict[str, str] = {}
    bootable, image_metadata = False, {}
    volume_type = None
    if wanted.snapshot_id is not None:
        snap = access.snapshot(state, caller, wanted.snapshot_id)
        if snap.status != "available":
            raise Invalid(
                f"Invalid snapshot: Originating snapshot status must be one of 'available' "
                f"values (snapshot {snap.id} is {snap.status})."
            )
        size = snap.size if size is None else size
        if size < snap.size:
            raise Invalid(
                f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                f"snapshot size {snap.size}GB. They must be >= original snapshot size."
            )
        parent = state.volumes.get(snap.volume_id)
        if parent is not None:
            bootable, image_metadata = parent.bootable, dict(parent.image_metadata)
            volume_type = state.types.get(parent.volume_type_id)
        source = ev.VolumeSource(kind="snapshot", id=snap.id)
    elif wanted.source_volid is not None:
        parent = access.volume(state, caller, wanted.source_volid)
        if parent.status not in ("available", "in-use"):
            raise Invalid(
                f"Invalid volume: Volume {parent.id} status must be available or in-use, "
                f"but current status is: {parent.status}."
            )
        size = parent.size if size is None else size
        if size < parent.size:
            raise Invalid(
                f"Invalid input received: Clones currently must be >= original volume size "
                f"({size}GB < {parent.size}GB)."
            )
        bootable, image_metadata = parent.bootable, dict(parent.image_metadata)
        volume_type = state.types.get(parent.volume_type_id)
        source = ev.VolumeSource(kind="volume", id=parent.id)
    elif wanted.backup_id is not None:
        backup = state.backups.get(wanted.backup_id)
        if backup is None or not (caller.is_admin or backup.project_id == caller.project_id):
            raise NotFound(f"Backup {wanted.backup_id} could not be found.")
        if backup.status != "available":
            raise Invalid(f"Invalid backup: Backup status must be available, not {backup.status}.")
        size = backup.size if size is None else size
        if size < backup.size:
            raise Invalid(
                f"Invalid input received: volume size {size}GB is smaller than the backup's "
                f"{backup.size}GB."
            )
        source = ev.VolumeSource(kind="backup", id=backup.id)
        backed_up_metadata = dict(backup.volume_metadata)
    elif wanted.image is not None:
        image = wanted.image
        if size is None:
            raise Invalid("Invalid input received: size is required for a volume from an image.")
        if size < image.min_gigabytes:
            raise Invalid(
                f"Invalid input received: Size of specified image {image.min_gigabytes}GB is "
                f"larger than volume size {size}GB."
            )
        bootable = True
        image_metadata = {
            **image.properties,
            "image_id": image.id,
            "disk_format": image.disk_format,
            "size": str(image.size),
        }
        source = ev.VolumeSource(kind="image", id=image.id, disk_format=image.disk_format)
    if size is None:
        raise Invalid("Invalid input received: size is a required property.")
    if wanted.volume_type is not None:
        volume_type = state.type_named(wanted.volume_type)
        if volume_type is None or not volume_type.usable_by(caller.project_id, caller.is_admin):
            raise NotFound(f"Volume type with name {wanted.volume_type} could not be found.")
    if volume_type is None:
        volume_type = state.type_named(DEFAULT_TYPE)
    if volume_type is None:
        raise NotFound(f"Volume type with name {DEFAULT_TYPE} could not be found.")
    zone = wanted.availability_zone or config.availability_zone
    if zone != config.availability_zone:
        raise Invalid(f"Invalid input received: Availability zone '{zone}' is invalid.")
    if wanted.group_id is not None:
        groups.check_member(state, groups.find(state, caller, wanted.group_id), volume_type.id)
    quota.take(
        w, config.quotas, caller.project_id, volumes=1, gigabytes=size, volume_type=volume_type.name
    )
    backend = scheduler.place(state, volume_type, zone)
    if source.kind == "backup" and source.id is not None:
        # the backup's files are its backend's: the new volume is made there
        keeper = state.backups[source.id].host
        backend = state.backends.get(keeper) if backend is not None else None
    stream = volume_stream(wanted.volume_id)
    w.add(
        stream,
        ev.VolumeCreateRequested(
            volume_id=wanted.volume_id,
            project_id=caller.project_id,
            user_id=caller.user_id,
            name=wanted.name,
            description=wanted.description,
            size=size,
            volume_type_id=volume_type.id,
            volume_type=volume_type.name,
            availability_zone=zone,
            host=backend.host if backend is not None else "",
            metadata={**backed_up_metadata, **wanted.metadata},
            source=source,
            bootable=bootable,
            multiattach=wanted.multiattach,
            image_metadata=image_metadata,
            group_id=wanted.group_id,
        ),
        new=True,
    )
    if backend is None:
        # Cinder's "no valid backend": the volume exists, in error, and its project
        # is told why (the volume still counts towards its quota until deleted).
        reason = "No valid backend was found. No weighed backends available."
        w.add(stream, ev.VolumeCreateFailed(volume_id=wanted.volume_id, reason=reason))
        message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "cairn:volume-message:" + wanted.volume_id))
        w.add(
            message_stream(message_id),
            ev.UserMessageCreated(
                message_id=message_id,
                project_id=caller.project_id,
                resource_type="VOLUME",
                resource_uuid=wanted.volume_id,
                event_id="VOLUME_000002",
                message="schedule allocate volume:Could not find any available weighted backend.",
                request_id=w.meta.request_id or "",
            ),
            new=True,
        )


def update(
    state: VolumeState, caller: Caller, volume_id: str, changes: ev.VolumeUpdated, w: Writes
) -> None:
    access.volume(state, caller, volume_id)
    w.add(volume_stream(volume_id), changes)


def set_flags(
    state: VolumeState, caller: Caller, volume_id: str, flags: ev.VolumeFlagsSet, w: Writes
) -> None:
    access.volume(state, caller, volume_id)
    w.add(volume_stream(volume_id), flags)


def set_image_metadata(
    state: VolumeState, caller: Caller, volume_id: str, metadata: dict[str, str], w: Writes
) -> None:
    access.volume(state, caller, volume_id)
    w.add(
        volume_stream(volume_id),
        ev.VolumeImageMetadataSet(volume_id=volume_id, image_metadata=metadata),
    )


def extend(
    state: VolumeState,
    caller: Caller,
    config: VolumeConfig,
    volume_id: str,
    new_size: int,
    w: Writes,
) -> None:
    volume = access.volume(state, caller, volume_id)
    if volume.status not in ("available", "in-use"):
        raise Invalid(
            f"Invalid volume: Volume {volume_id} status must be 'available' or 'in-use' to "
            f"extend, currently {volume.status}."
        )
    if new_size <= volume.size:
        raise Invalid(
            "Invalid input received: New size for extend must be greater than current size. "
            f"(current: {volume.size}, extended: {new_size})."
        )
    quota.take(
        w,
        config.quotas,
        volume.project_id,
        gigabytes=new_size - volume.size,
        volume_type=volume.volume_type,
    )
    w.add(
        volume_stream(volume_id),
        ev.VolumeExtendRequested(
            volume_id=volume_id,
            project_id=volume.project_id,
            new_size=new_size,
            previous_size=volume.size,
            return_status=volume.status,
        ),
    )


def delete(
    state: VolumeState, caller: Caller, volume_id: str, w: Writes, *, cascade: bool, force: bool
) -> None:
    volume = access.volume(state, caller, volume_id)
    if volume.pending == "delete":
        return  # already on its way: deleting twice is one delete
    if volume.attach_status == "attached" or (volume.status == "in-use" and not force):
        raise Invalid(
            f"Invalid volume: Volume {volume_id} status must be available or error or "
            "error_restoring or error_extending or error_managing and must not be migrating, "
            "attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated "
            "from snapshots after volume transfer."
        )
    if not force and volume.status not in DELETABLE:
        raise Invalid(
            f"Invalid volume: Volume status must be available or error or error_restoring or "
            f"error_extending or error_managing and must not be migrating, attached, belong to a "
            f"group, have snapshots, awaiting a transfer, or be disassociated from snapshots "
            f"after volume transfer (volume {volume_id} is {volume.status})."
        )
    if volume.group_id is not None and volume.group_id in state.groups:
        raise Invalid(
            f"Invalid volume: Volume {volume_id} belongs to group {volume.group_id}: remove it "
            "from the group, or delete the group with its volumes."
        )
    snapshots = state.snapshots_of(volume_id)
    if snapshots and not cascade:
        raise Invalid(
            f"Invalid volume: Volume {volume_id} still has {len(snapshots)} dependent snapshots."
        )
    for snap in snapshots:
        if snap.status not in CASCADABLE and snap.pending != "delete":
            raise Invalid(
                f"Invalid volume: Snapshot {snap.id} of volume {volume_id} is {snap.status}; "
                "a cascade delete needs every snapshot available or in error."
            )
    for snap in snapshots:
        if snap.pending != "delete":
            w.add(
                snapshot_stream(snap.id),
                ev.SnapshotDeleteRequested(snapshot_id=snap.id, project_id=snap.project_id),
            )
    w.add(
        volume_stream(volume_id),
        ev.VolumeDeleteRequested(
            volume_id=volume_id, project_id=volume.project_id, cascade=cascade, force=force
        ),
    )
    if not volume.host:
        # Never placed on a backend (no valid one was found): there is no file, so the
        # delete is done here, as Cinder's API deletes a volume without a host.
        w.add(
            volume_stream(volume_id),
            ev.VolumeDeleted(volume_id=volume_id, project_id=volume.project_id),
        )


def reset_status(
    state: VolumeState, caller: Caller, volume_id: str, reset: ev.VolumeStatusReset, w: Writes
) -> Volume:
    volume = access.volume(state, caller, volume_id)
    if isinstance(reset.status, str) and reset.status not in RESETTABLE:
        raise Invalid(f"Invalid input received: Invalid status {reset.status!r}.")
    if isinstance(reset.attach_status, str) and reset.attach_status not in ATTACH_STATUSES:
        raise Invalid(f"Invalid input received: Invalid attach status {reset.attach_status!r}.")
    w.add(volume_stream(volume_id), reset)
    return volume


def retype(state: VolumeState, caller: Caller, volume_id: str, new_type: str, w: Writes) -> None:
    """``os-retype`` without a migration: one backend holds every type, so the
    volume's data stays where it is and only its type changes."""
    volume = access.volume(state, caller, volume_id)
    if volume.status not in ("available", "in-use"):
        raise Invalid(
            f"Invalid volume: Volume {volume_id} status must be available or in-use to "
            f"retype, currently {volume.status}."
        )
    found = state.type_named(new_type)
    if found is None or not found.usable_by(caller.project_id, caller.is_admin):
        raise NotFound(f"Volume type with name {new_type} could not be found.")
    if found.id == volume.volume_type_id:
        raise Invalid(f"Invalid input received: New volume_type same as original: {new_type}.")
    w.add(
        volume_stream(volume_id),
        ev.VolumeRetyped(volume_id=volume_id, volume_type_id=found.id, volume_type=found.name),
    )


#: disk formats an upload may be written in (what qemu-img writes)
UPLOAD_FORMATS = frozenset({"raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx"})


def check_upload(state: VolumeState, caller: Caller, volume_id: str, force: bool) -> Volume:
    """The volume, if it may be uploaded now (``available``; ``in-use`` with force)."""
    volume = access.volume(state, caller, volume_id)
    allowed = ("available", "in-use") if force else ("available",)
    if volume.status not in allowed:
        raise Invalid(
            f"Invalid volume: Volume {volume_id} status must be available or in-use with "
            f"force, but current status is: {volume.status}."
        )
    return volume


def upload(
    state: VolumeState,
    caller: Caller,
    volume_id: str,
    image_id: str,
    disk_format: str,
    w: Writes,
    *,
    force: bool,
) -> None:
    volume = check_upload(state, caller, volume_id, force)
    w.add(
        volume_stream(volume_id),
        ev.VolumeUploadRequested(
            volume_id=volume_id,
            image_id=image_id,
            disk_format=disk_format,
            return_status=volume.status,
        ),
    )
