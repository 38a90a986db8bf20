"""Block storage as Cinder sees it: volumes, snapshots, volume types and quotas.

One state serves the API's reads, the volume deciders (with the version of every
stream folded, for their expected versions), the volume agent (which volumes and
snapshots its backend owes work) and the audit tool's replay. Statuses follow
Cinder's: a request moves a volume to ``creating``, ``extending`` or ``deleting``,
and only the agent's outcome moves it on. Times come from the events' recorded
time, so the fold stays pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

from cairn.events import RecordedEvent
from cairn.events import volume as ev
from cairn.projections.catalog import Row, catalog
from cairn.projections.fold import Projection, handles


class Attachment(msgspec.Struct):
    id: str
    server_id: str | None
    host_name: str | None
    device: str
    mode: str
    attached_at: datetime


class Volume(msgspec.Struct):
    id: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    size: int
    status: str
    volume_type_id: str
    volume_type: str
    availability_zone: str
    host: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, str] = {}
    source: ev.VolumeSource = ev.VolumeSource()
    bootable: bool = False
    #: set by os-update_readonly_flag (None: never set, so not shown in metadata)
    readonly: bool | None = None
    multiattach: bool = False
    image_metadata: dict[str, str] = {}
    attach_status: str = "detached"
    attachments: list[Attachment] = []
    migration_status: str | None = None
    #: what the pending request asked: the size an extend goes to, the status
    #: it returns to, whether a delete takes the snapshots
    new_size: int = 0
    return_status: str = "available"
    cascade: bool = False
    #: why the last operation failed (shown to admins in logs, not in the API)
    reason: str = ""
    #: the work the backend owes: "create", "extend", "delete" or "" (a status an
    #: admin reset to is only a status: the agent acts on requests, not on words)
    pending: str = ""
    #: the image an upload fills, and the format it is written in
    upload_image_id: str | None = None
    upload_format: str = "raw"
    group_id: str | None = None
    #: the backup a restore writes into this volume
    restore_backup_id: str | None = None

    @property
    def snapshot_id(self) -> str | None:
        return self.source.id if self.source.kind == "snapshot" else None

    @property
    def source_volid(self) -> str | None:
        return self.source.id if self.source.kind == "volume" else None


class Snapshot(msgspec.Struct):
    id: str
    volume_id: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    size: int
    status: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, str] = {}
    reason: str = ""
    #: the work the backend owes: "create", "delete" or ""
    pending: str = ""
    #: what os-update_snapshot_status last said
    progress: str | None = None
    group_snapshot_id: str | None = None


class VolumeType(msgspec.Struct):
    id: str
    name: str
    description: str | None
    is_public: bool
    created_at: datetime
    extra_specs: dict[str, str] = {}
    #: the projects a private type is shared with
    projects: list[str] = []
    qos_specs_id: str | None = None

    def usable_by(self, project_id: str, is_admin: bool) -> bool:
        return self.is_public or is_admin or project_id in self.projects


class Backup(msgspec.Struct):
    id: str
    volume_id: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    size: int
    host: str
    availability_zone: str
    container: str | None
    parent_id: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, str] = {}
    #: "create", "delete" or "" (what the backend owes)
    pending: str = ""
    fail_reason: str | None = None
    #: when its data was read from the volume
    data_timestamp: datetime | None = None
    volume_metadata: dict[str, str] = {}
    snapshot_id: str | None = None
    #: an imported record's data is the exported backup's
    data_of: str | None = None

    @property
    def data_id(self) -> str:
        """Whose files hold this backup's data."""
        return self.data_of or self.id


class GroupType(msgspec.Struct):
    id: str
    name: str
    description: str | None
    is_public: bool
    created_at: datetime
    group_specs: dict[str, str] = {}


class Group(msgspec.Struct):
    id: str
    project_id: str
    name: str | None
    description: str | None
    group_type_id: str
    volume_type_ids: list[str]
    availability_zone: str
    status: str
    created_at: datetime


class GroupSnapshot(msgspec.Struct):
    id: str
    group_id: str
    project_id: str
    name: str | None
    description: str | None
    group_type_id: str
    created_at: datetime
    deleting: bool = False
    #: an admin's reset, shown instead of the status the members give
    reset_to: str | None = None


class QosSpecs(msgspec.Struct):
    id: str
    name: str
    consumer: str
    specs: dict[str, str]
    created_at: datetime


class UserMessage(msgspec.Struct):
    id: str
    project_id: str
    resource_type: str
    resource_uuid: str
    event_id: str
    message: str
    request_id: str
    level: str
    created_at: datetime


class Transfer(msgspec.Struct):
    id: str
    volume_id: str
    project_id: str
    name: str | None
    salt: str
    key_hash: str
    no_snapshots: bool
    created_at: datetime


class Backend(msgspec.Struct):
    """A volume agent's backend as its last events described it."""

    host: str
    availability_zone: str
    driver: str
    driver_version: str
    volume_format: str
    total_capacity_gb: float
    free_capacity_gb: float
    heartbeat_interval: float
    registered_at: datetime
    last_seen: datetime
    #: where hosts sharing the backend's files find its pool ("" if unknown)
    export_path: str = ""
    running: bool = True
    disabled: bool = False
    disabled_reason: str | None = None
    frozen: bool = False


class VolumeState(msgspec.Struct):
    volumes: dict[str, Volume] = {}
    snapshots: dict[str, Snapshot] = {}
    types: dict[str, VolumeType] = {}
    #: project id -> the limits an admin set (the rest are the defaults)
    quotas: dict[str, dict[str, int]] = {}
    #: stream -> its version, for every stream folded here
    versions: dict[str, int] = {}
    backends: dict[str, Backend] = {}
    #: transfers not yet accepted or deleted
    transfers: dict[str, Transfer] = {}
    qos_specs: dict[str, QosSpecs] = {}
    group_types: dict[str, GroupType] = {}
    groups: dict[str, Group] = {}
    backups: dict[str, Backup] = {}
    group_snapshots: dict[str, GroupSnapshot] = {}
    messages: dict[str, UserMessage] = {}
    #: quota class -> the limits an admin set for it (``default``: every project's)
    quota_classes: dict[str, dict[str, int]] = {}

    def type_named(self, name_or_id: str) -> VolumeType | None:
        found = self.types.get(name_or_id)
        if found is not None:
            return found
        return next((t for t in self.types.values() if t.name == name_or_id), None)

    def snapshots_of(self, volume_id: str) -> list[Snapshot]:
        return [s for s in self.snapshots.values() if s.volume_id == volume_id]

    def dependents_of(self, backup_id: str) -> list[Backup]:
        return [b for b in self.backups.values() if b.parent_id == backup_id]

    def members_of(self, group_snapshot_id: str) -> list[Snapshot]:
        return [s for s in self.snapshots.values() if s.group_snapshot_id == group_snapshot_id]

    def group_snapshot_status(self, group_snapshot: GroupSnapshot) -> str:
        """Its members' status, as Cinder's group snapshot reports it."""
        if group_snapshot.reset_to is not None:
            return group_snapshot.reset_to
        if group_snapshot.deleting:
            return "deleting"
        statuses = {s.status for s in self.members_of(group_snapshot.id)}
        if any(status.startswith("error") for status in statuses):
            return "error"
        if "creating" in statuses:
            return "creating"
        return "available"


def volume_stream(volume_id: str) -> str:
    return f"volume-{volume_id}"


def snapshot_stream(snapshot_id: str) -> str:
    return f"volsnapshot-{snapshot_id}"


def type_stream(type_id: str) -> str:
    return f"voltype-{type_id}"


def quota_stream(project_id: str) -> str:
    return f"volquota-{project_id}"


def quota_class_stream(name: str) -> str:
    return f"volquotaclass-{name}"


def group_type_stream(type_id: str) -> str:
    return f"volgrouptype-{type_id}"


def group_stream(group_id: str) -> str:
    return f"volgroup-{group_id}"


def group_snapshot_stream(group_snapshot_id: str) -> str:
    return f"volgroupsnap-{group_snapshot_id}"


def backup_stream(backup_id: str) -> str:
    return f"volbackup-{backup_id}"


def qos_stream(qos_id: str) -> str:
    return f"volqos-{qos_id}"


def message_stream(message_id: str) -> str:
    return f"volmessage-{message_id}"


def backend_stream(host: str) -> str:
    return f"volbackend-{host}"


def _set(target: Any, event: Any, *names: str) -> None:
    for name in names:
        value = getattr(event, name)
        if value is not msgspec.UNSET:
            setattr(target, name, value)


class VolumeProjection(Projection[VolumeState]):
    name = "volumes"
    version = 6
    state_type: ClassVar[Any] = VolumeState

    def initial(self) -> VolumeState:
        return VolumeState()

    def apply(self, state: VolumeState, event: RecordedEvent) -> VolumeState:
        if event.type in self.event_types:
            state.versions[event.stream] = event.version
        return super().apply(state, event)

    # -- volumes ----------------------------------------------------------------------

    @handles("VolumeCreateRequested")
    def _requested(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeCreateRequested) -> Any:
        s.volumes[d.volume_id] = Volume(
            id=d.volume_id,
            project_id=d.project_id,
            user_id=d.user_id,
            name=d.name,
            description=d.description,
            size=d.size,
            status="creating",
            pending="create",
            volume_type_id=d.volume_type_id,
            volume_type=d.volume_type,
            availability_zone=d.availability_zone,
            host=d.host,
            created_at=e.recorded_at,
            updated_at=e.recorded_at,
            metadata=dict(d.metadata),
            source=d.source,
            bootable=d.bootable,
            multiattach=d.multiattach,
            image_metadata=dict(d.image_metadata),
            group_id=d.group_id,
        )
        if d.source.kind == "backup" and (backup := s.backups.get(d.source.id or "")):
            backup.status = "restoring"
        return s

    def _volume(self, s: VolumeState, volume_id: str, e: RecordedEvent) -> Volume | None:
        volume = s.volumes.get(volume_id)
        if volume is not None:
            volume.updated_at = e.recorded_at
        return volume

    @handles("VolumeCreated")
    def _created(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeCreated) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.pending = "available", ""
            _restore_ended(s, volume.source, e)
        return s

    @handles("VolumeCreateFailed")
    def _create_failed(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeCreateFailed) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.reason, volume.pending = "error", d.reason, ""
            _restore_ended(s, volume.source, e)
        return s

    @handles("VolumeUpdated")
    def _updated(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeUpdated) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            _set(volume, d, "name", "description", "metadata")
        return s

    @handles("VolumeFlagsSet")
    def _flags(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeFlagsSet) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            _set(volume, d, "bootable", "readonly")
        return s

    @handles("VolumeImageMetadataSet")
    def _image_meta(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeImageMetadataSet) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.image_metadata = dict(d.image_metadata)
        return s

    @handles("VolumeStatusReset")
    def _reset(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeStatusReset) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            _set(volume, d, "status", "attach_status", "migration_status")
            volume.pending = ""
        return s

    @handles("VolumeExtendRequested")
    def _extend(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeExtendRequested) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.new_size, volume.pending = "extending", d.new_size, "extend"
            volume.return_status = d.return_status
        return s

    @handles("VolumeExtended")
    def _extended(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeExtended) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.size, volume.status, volume.pending = d.size, volume.return_status, ""
        return s

    @handles("VolumeExtendFailed")
    def _extend_failed(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeExtendFailed) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.reason, volume.pending = "error_extending", d.reason, ""
        return s

    @handles("VolumeDeleteRequested")
    def _delete(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeDeleteRequested) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.cascade, volume.pending = "deleting", d.cascade, "delete"
        return s

    @handles("VolumeDeleted")
    def _deleted(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeDeleted) -> Any:
        s.volumes.pop(d.volume_id, None)
        return s

    @handles("VolumeDeleteFailed")
    def _delete_failed(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeDeleteFailed) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.reason, volume.pending = "error_deleting", d.reason, ""
        return s

    # -- backups ----------------------------------------------------------------------

    @handles("BackupCreateRequested")
    def _backup(self, s: VolumeState, e: RecordedEvent, d: ev.BackupCreateRequested) -> Any:
        s.backups[d.backup_id] = Backup(
            id=d.backup_id,
            volume_id=d.volume_id,
            project_id=d.project_id,
            user_id=d.user_id,
            name=d.name,
            description=d.description,
            size=d.size,
            host=d.host,
            availability_zone=d.availability_zone,
            container=d.container,
            parent_id=d.parent_id,
            status="creating",
            created_at=e.recorded_at,
            updated_at=e.recorded_at,
            metadata=dict(d.metadata),
            pending="create",
            volume_metadata=dict(d.volume_metadata),
            snapshot_id=d.snapshot_id,
        )
        return s

    def _backup_of(self, s: VolumeState, backup_id: str, e: RecordedEvent) -> Backup | None:
        backup = s.backups.get(backup_id)
        if backup is not None:
            backup.updated_at = e.recorded_at
        return backup

    @handles("VolumeBackupStarted")
    def _backing_up(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeBackupStarted) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.return_status = "backing-up", d.return_status
        return s

    @handles("BackupCreated", "BackupCreateFailed")
    def _backup_done(self, s: VolumeState, e: RecordedEvent, d: ev.BackupCreated) -> Any:
        if (backup := self._backup_of(s, d.backup_id, e)) is not None:
            backup.pending = ""
            if isinstance(d, ev.BackupCreateFailed):
                backup.status, backup.fail_reason = "error", d.reason
            else:
                backup.status, backup.data_timestamp = "available", e.recorded_at
            volume = s.volumes.get(backup.volume_id)
            if volume is not None and volume.status == "backing-up":
                volume.status, volume.updated_at = volume.return_status, e.recorded_at
        return s

    @handles("BackupImported")
    def _imported(self, s: VolumeState, e: RecordedEvent, d: ev.BackupImported) -> Any:
        s.backups[d.backup_id] = Backup(
            id=d.backup_id,
            volume_id=d.volume_id,
            project_id=d.project_id,
            user_id=d.user_id,
            name=d.name,
            description=d.description,
            size=d.size,
            host=d.host,
            availability_zone=d.availability_zone,
            container=d.container,
            parent_id=d.parent_id,
            status="creating",
            created_at=e.recorded_at,
            updated_at=e.recorded_at,
            pending="import",
            volume_metadata=dict(d.volume_metadata),
            snapshot_id=d.snapshot_id,
            data_of=d.data_of,
        )
        return s

    @handles("BackupUpdated")
    def _backup_updated(self, s: VolumeState, e: RecordedEvent, d: ev.BackupUpdated) -> Any:
        if (backup := self._backup_of(s, d.backup_id, e)) is not None:
            _set(backup, d, "name", "description", "metadata")
        return s

    @handles("BackupStatusReset")
    def _backup_reset(self, s: VolumeState, e: RecordedEvent, d: ev.BackupStatusReset) -> Any:
        if (backup := self._backup_of(s, d.backup_id, e)) is not None:
            backup.status, backup.pending = d.status, ""
        return s

    @handles("BackupDeleteRequested")
    def _backup_delete(self, s: VolumeState, e: RecordedEvent, d: ev.BackupDeleteRequested) -> Any:
        if (backup := self._backup_of(s, d.backup_id, e)) is not None:
            backup.status, backup.pending = "deleting", "delete"
        return s

    @handles("BackupDeleted")
    def _backup_deleted(self, s: VolumeState, e: RecordedEvent, d: ev.BackupDeleted) -> Any:
        s.backups.pop(d.backup_id, None)
        return s

    @handles("BackupDeleteFailed")
    def _backup_delete_failed(
        self, s: VolumeState, e: RecordedEvent, d: ev.BackupDeleteFailed
    ) -> Any:
        if (backup := self._backup_of(s, d.backup_id, e)) is not None:
            backup.status, backup.pending, backup.fail_reason = "error_deleting", "", d.reason
        return s

    @handles("VolumeRestoreRequested")
    def _restore(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeRestoreRequested) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.pending = "restoring-backup", "restore"
            volume.restore_backup_id = d.backup_id
        if (backup := self._backup_of(s, d.backup_id, e)) is not None:
            backup.status = "restoring"
        return s

    @handles("VolumeRestored", "VolumeRestoreFailed")
    def _restored(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeRestored) -> Any:
        backup = s.backups.get(d.backup_id)
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            failed = isinstance(d, ev.VolumeRestoreFailed)
            volume.status = "error_restoring" if failed else "available"
            volume.pending, volume.restore_backup_id = "", None
            if not failed and backup is not None:  # the backed-up metadata comes back
                volume.metadata = {**volume.metadata, **backup.volume_metadata}
        if backup is not None and backup.status == "restoring":
            backup.status, backup.updated_at = "available", e.recorded_at
        return s

    # -- upload to an image -----------------------------------------------------------

    @handles("VolumeUploadRequested")
    def _upload(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeUploadRequested) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.pending = "uploading", "upload"
            volume.upload_image_id, volume.upload_format = d.image_id, d.disk_format
            volume.return_status = d.return_status
        return s

    @handles("VolumeUploaded", "VolumeUploadFailed")
    def _uploaded(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeUploaded) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.pending = volume.return_status, ""
            volume.upload_image_id = None
            if isinstance(d, ev.VolumeUploadFailed):
                volume.reason = d.reason
        return s

    # -- legacy attach actions --------------------------------------------------------

    @handles("VolumeReserved")
    def _reserved(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeReserved) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status = "attaching"
        return s

    @handles("VolumeUnreserved")
    def _unreserved(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeUnreserved) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status = "in-use" if volume.attachments else "available"
        return s

    @handles("VolumeAttached")
    def _attached(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeAttached) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            attachment = Attachment(
                d.attachment_id, d.server_id, d.host_name, d.mountpoint, d.mode, e.recorded_at
            )
            volume.attachments = [*volume.attachments, attachment]
            volume.status, volume.attach_status = "in-use", "attached"
        return s

    @handles("VolumeDetachBegun")
    def _detaching(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeDetachBegun) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status = "detaching"
        return s

    @handles("VolumeDetachRolledBack")
    def _rolled_back(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeDetachRolledBack) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status = "in-use"
        return s

    @handles("VolumeDetached")
    def _detached(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeDetached) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.attachments = [a for a in volume.attachments if a.id != d.attachment_id]
            if not volume.attachments:
                volume.status, volume.attach_status = "available", "detached"
        return s

    @handles("VolumeRetyped")
    def _retyped(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeRetyped) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.volume_type_id, volume.volume_type = d.volume_type_id, d.volume_type
        return s

    # -- transfers --------------------------------------------------------------------

    @handles("VolumeTransferCreated")
    def _transfer(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeTransferCreated) -> Any:
        s.transfers[d.transfer_id] = Transfer(
            id=d.transfer_id,
            volume_id=d.volume_id,
            project_id=d.project_id,
            name=d.name,
            salt=d.salt,
            key_hash=d.key_hash,
            no_snapshots=d.no_snapshots,
            created_at=e.recorded_at,
        )
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status = "awaiting-transfer"
        return s

    @handles("VolumeTransferDeleted")
    def _untransfer(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeTransferDeleted) -> Any:
        s.transfers.pop(d.transfer_id, None)
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status = "available"
        return s

    @handles("VolumeTransferAccepted")
    def _accepted(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeTransferAccepted) -> Any:
        transfer = s.transfers.pop(d.transfer_id, None)
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.status, volume.project_id, volume.user_id = "available", d.to_project, d.user_id
            if transfer is None or not transfer.no_snapshots:
                for snapshot in s.snapshots_of(d.volume_id):
                    snapshot.project_id = d.to_project
        return s

    # -- snapshots --------------------------------------------------------------------

    @handles("SnapshotCreateRequested")
    def _snap(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotCreateRequested) -> Any:
        s.snapshots[d.snapshot_id] = Snapshot(
            id=d.snapshot_id,
            volume_id=d.volume_id,
            project_id=d.project_id,
            user_id=d.user_id,
            name=d.name,
            description=d.description,
            size=d.size,
            status="creating",
            pending="create",
            created_at=e.recorded_at,
            updated_at=e.recorded_at,
            metadata=dict(d.metadata),
            group_snapshot_id=d.group_snapshot_id,
        )
        return s

    def _snapshot(self, s: VolumeState, snapshot_id: str, e: RecordedEvent) -> Snapshot | None:
        snapshot = s.snapshots.get(snapshot_id)
        if snapshot is not None:
            snapshot.updated_at = e.recorded_at
        return snapshot

    @handles("SnapshotCreated")
    def _snap_created(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotCreated) -> Any:
        if (snapshot := self._snapshot(s, d.snapshot_id, e)) is not None:
            snapshot.status, snapshot.pending = "available", ""
        return s

    @handles("SnapshotCreateFailed")
    def _snap_failed(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotCreateFailed) -> Any:
        if (snapshot := self._snapshot(s, d.snapshot_id, e)) is not None:
            snapshot.status, snapshot.reason, snapshot.pending = "error", d.reason, ""
        return s

    @handles("SnapshotUpdated")
    def _snap_updated(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotUpdated) -> Any:
        if (snapshot := self._snapshot(s, d.snapshot_id, e)) is not None:
            _set(snapshot, d, "name", "description", "metadata")
        return s

    @handles("SnapshotStatusReset")
    def _snap_reset(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotStatusReset) -> Any:
        if (snapshot := self._snapshot(s, d.snapshot_id, e)) is not None:
            snapshot.status, snapshot.pending = d.status, ""
        return s

    @handles("SnapshotStatusUpdated")
    def _snap_status(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotStatusUpdated) -> Any:
        if (snapshot := self._snapshot(s, d.snapshot_id, e)) is not None:
            snapshot.status, snapshot.progress = d.status, d.progress
            if d.status not in ("creating", "deleting"):
                snapshot.pending = ""
        return s

    @handles("SnapshotDeleteRequested")
    def _snap_delete(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotDeleteRequested) -> Any:
        if (snapshot := self._snapshot(s, d.snapshot_id, e)) is not None:
            snapshot.status, snapshot.pending = "deleting", "delete"
        return s

    @handles("SnapshotDeleted")
    def _snap_deleted(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotDeleted) -> Any:
        gone = s.snapshots.pop(d.snapshot_id, None)
        if gone is not None and gone.group_snapshot_id is not None:
            _forget_group_snapshot(s, gone.group_snapshot_id)
        return s

    @handles("SnapshotDeleteFailed")
    def _snap_del_failed(self, s: VolumeState, e: RecordedEvent, d: ev.SnapshotDeleteFailed) -> Any:
        if (snapshot := self._snapshot(s, d.snapshot_id, e)) is not None:
            snapshot.status, snapshot.reason, snapshot.pending = "error_deleting", d.reason, ""
        return s

    # -- types and quotas -------------------------------------------------------------

    @handles("VolumeTypeCreated")
    def _type(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeTypeCreated) -> Any:
        s.types[d.type_id] = VolumeType(
            d.type_id, d.name, d.description, d.is_public, e.recorded_at, dict(d.extra_specs)
        )
        return s

    @handles("VolumeTypeUpdated")
    def _type_updated(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeTypeUpdated) -> Any:
        found = s.types.get(d.type_id)
        if found is not None:
            _set(found, d, "name", "description", "is_public", "extra_specs")
        return s

    @handles("VolumeTypeDeleted")
    def _type_deleted(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeTypeDeleted) -> Any:
        s.types.pop(d.type_id, None)
        return s

    @handles("VolumeBackendRegistered")
    def _backend(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeBackendRegistered) -> Any:
        before = s.backends.get(d.host)
        s.backends[d.host] = Backend(
            host=d.host,
            availability_zone=d.availability_zone,
            driver=d.driver,
            driver_version=d.driver_version,
            volume_format=d.volume_format,
            total_capacity_gb=d.total_capacity_gb,
            free_capacity_gb=d.free_capacity_gb,
            heartbeat_interval=d.heartbeat_interval,
            registered_at=e.recorded_at,
            last_seen=e.recorded_at,
            export_path=d.export_path,
        )
        if before is not None:  # an admin's choices outlive a restart of the agent
            backend = s.backends[d.host]
            backend.disabled, backend.disabled_reason = before.disabled, before.disabled_reason
            backend.frozen = before.frozen
        return s

    @handles("VolumeBackendHeartbeat")
    def _heartbeat(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeBackendHeartbeat) -> Any:
        backend = s.backends.get(d.host)
        if backend is not None:
            backend.free_capacity_gb, backend.last_seen = d.free_capacity_gb, e.recorded_at
            backend.running = True
        return s

    @handles("VolumeBackendStatusSet")
    def _service_status(
        self, s: VolumeState, e: RecordedEvent, d: ev.VolumeBackendStatusSet
    ) -> Any:
        if (backend := s.backends.get(d.host)) is not None:
            backend.disabled, backend.disabled_reason = d.disabled, d.reason
        return s

    @handles("VolumeBackendFreezeSet")
    def _frozen(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeBackendFreezeSet) -> Any:
        if (backend := s.backends.get(d.host)) is not None:
            backend.frozen = d.frozen
        return s

    @handles("VolumeBackendStopped")
    def _stopped(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeBackendStopped) -> Any:
        backend = s.backends.get(d.host)
        if backend is not None:
            backend.running, backend.last_seen = False, e.recorded_at
        return s

    @handles("VolumeTypeAccessAdded")
    def _access(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeTypeAccessAdded) -> Any:
        found = s.types.get(d.type_id)
        if found is not None and d.project_id not in found.projects:
            found.projects = [*found.projects, d.project_id]
        return s

    @handles("VolumeTypeAccessRemoved")
    def _unaccess(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeTypeAccessRemoved) -> Any:
        found = s.types.get(d.type_id)
        if found is not None:
            found.projects = [p for p in found.projects if p != d.project_id]
        return s

    @handles("GroupTypeCreated")
    def _group_type(self, s: VolumeState, e: RecordedEvent, d: ev.GroupTypeCreated) -> Any:
        s.group_types[d.type_id] = GroupType(
            d.type_id, d.name, d.description, d.is_public, e.recorded_at, dict(d.group_specs)
        )
        return s

    @handles("GroupTypeUpdated")
    def _group_type_updated(self, s: VolumeState, e: RecordedEvent, d: ev.GroupTypeUpdated) -> Any:
        if (found := s.group_types.get(d.type_id)) is not None:
            _set(found, d, "name", "description", "is_public", "group_specs")
        return s

    @handles("GroupTypeDeleted")
    def _group_type_deleted(self, s: VolumeState, e: RecordedEvent, d: ev.GroupTypeDeleted) -> Any:
        s.group_types.pop(d.type_id, None)
        return s

    @handles("VolumeGroupCreated")
    def _group(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeGroupCreated) -> Any:
        s.groups[d.group_id] = Group(
            id=d.group_id,
            project_id=d.project_id,
            name=d.name,
            description=d.description,
            group_type_id=d.group_type_id,
            volume_type_ids=list(d.volume_type_ids),
            availability_zone=d.availability_zone,
            status="available",
            created_at=e.recorded_at,
        )
        return s

    @handles("VolumeGroupUpdated")
    def _group_updated(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeGroupUpdated) -> Any:
        if (group := s.groups.get(d.group_id)) is not None:
            _set(group, d, "name", "description")
        return s

    @handles("VolumeGroupStatusReset")
    def _group_reset(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeGroupStatusReset) -> Any:
        if (group := s.groups.get(d.group_id)) is not None:
            group.status = d.status
        return s

    @handles("VolumeGroupDeleted")
    def _group_deleted(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeGroupDeleted) -> Any:
        s.groups.pop(d.group_id, None)
        return s

    @handles("GroupSnapshotCreated")
    def _group_snap(self, s: VolumeState, e: RecordedEvent, d: ev.GroupSnapshotCreated) -> Any:
        s.group_snapshots[d.group_snapshot_id] = GroupSnapshot(
            id=d.group_snapshot_id,
            group_id=d.group_id,
            project_id=d.project_id,
            name=d.name,
            description=d.description,
            group_type_id=d.group_type_id,
            created_at=e.recorded_at,
        )
        return s

    @handles("GroupSnapshotDeleteRequested")
    def _group_snap_delete(
        self, s: VolumeState, e: RecordedEvent, d: ev.GroupSnapshotDeleteRequested
    ) -> Any:
        if (found := s.group_snapshots.get(d.group_snapshot_id)) is not None:
            found.deleting, found.reset_to = True, None
            _forget_group_snapshot(s, found.id)
        return s

    @handles("GroupSnapshotStatusReset")
    def _group_snap_reset(
        self, s: VolumeState, e: RecordedEvent, d: ev.GroupSnapshotStatusReset
    ) -> Any:
        if (found := s.group_snapshots.get(d.group_snapshot_id)) is not None:
            found.reset_to = d.status
        return s

    @handles("VolumeGroupSet")
    def _volume_group(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeGroupSet) -> Any:
        if (volume := self._volume(s, d.volume_id, e)) is not None:
            volume.group_id = d.group_id
        return s

    @handles("QosSpecsCreated")
    def _qos(self, s: VolumeState, e: RecordedEvent, d: ev.QosSpecsCreated) -> Any:
        s.qos_specs[d.qos_id] = QosSpecs(d.qos_id, d.name, d.consumer, dict(d.specs), e.recorded_at)
        return s

    @handles("QosSpecsUpdated")
    def _qos_updated(self, s: VolumeState, e: RecordedEvent, d: ev.QosSpecsUpdated) -> Any:
        if (found := s.qos_specs.get(d.qos_id)) is not None:
            found.specs = dict(d.specs)
        return s

    @handles("QosSpecsDeleted")
    def _qos_deleted(self, s: VolumeState, e: RecordedEvent, d: ev.QosSpecsDeleted) -> Any:
        s.qos_specs.pop(d.qos_id, None)
        for volume_type in s.types.values():
            if volume_type.qos_specs_id == d.qos_id:
                volume_type.qos_specs_id = None
        return s

    @handles("QosSpecsAssociated")
    def _qos_associated(self, s: VolumeState, e: RecordedEvent, d: ev.QosSpecsAssociated) -> Any:
        if (volume_type := s.types.get(d.type_id)) is not None:
            volume_type.qos_specs_id = d.qos_id
        return s

    @handles("QosSpecsDisassociated")
    def _qos_disassociated(
        self, s: VolumeState, e: RecordedEvent, d: ev.QosSpecsDisassociated
    ) -> Any:
        volume_type = s.types.get(d.type_id)
        if volume_type is not None and volume_type.qos_specs_id == d.qos_id:
            volume_type.qos_specs_id = None
        return s

    @handles("UserMessageCreated")
    def _message(self, s: VolumeState, e: RecordedEvent, d: ev.UserMessageCreated) -> Any:
        s.messages[d.message_id] = UserMessage(
            id=d.message_id,
            project_id=d.project_id,
            resource_type=d.resource_type,
            resource_uuid=d.resource_uuid,
            event_id=d.event_id,
            message=d.message,
            request_id=d.request_id,
            level=d.level,
            created_at=e.recorded_at,
        )
        return s

    @handles("UserMessageDeleted")
    def _message_deleted(self, s: VolumeState, e: RecordedEvent, d: ev.UserMessageDeleted) -> Any:
        s.messages.pop(d.message_id, None)
        return s

    @handles("VolumeQuotaUsed")
    def _used(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeQuotaUsed) -> Any:
        return s  # only its stream's version matters: usage is counted from the volumes

    @handles("VolumeQuotaSet")
    def _quota(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeQuotaSet) -> Any:
        s.quotas.setdefault(d.project_id, {}).update(d.limits)
        return s

    @handles("VolumeQuotaClassSet")
    def _quota_class(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeQuotaClassSet) -> Any:
        s.quota_classes.setdefault(d.class_name, {}).update(d.limits)
        return s

    @handles("VolumeQuotaReset")
    def _quota_reset(self, s: VolumeState, e: RecordedEvent, d: ev.VolumeQuotaReset) -> Any:
        s.quotas.pop(d.project_id, None)
        return s


def _restore_ended(s: VolumeState, source: ev.VolumeSource, e: RecordedEvent) -> None:
    """A volume made from a backup is made (or failed): the backup is available again."""
    if source.kind == "backup" and source.id is not None:
        backup = s.backups.get(source.id)
        if backup is not None and backup.status == "restoring":
            backup.status, backup.updated_at = "available", e.recorded_at


def _forget_group_snapshot(s: VolumeState, group_snapshot_id: str) -> None:
    """A group snapshot being deleted goes with its last member."""
    found = s.group_snapshots.get(group_snapshot_id)
    if found is not None and found.deleting and not s.members_of(group_snapshot_id):
        del s.group_snapshots[group_snapshot_id]


def _volume_rows(state: VolumeState, project: str | None) -> list[Row]:
    return [
        {
            "id": v.id,
            "name": v.name,
            "project_id": v.project_id,
            "size": v.size,
            "status": v.status,
            "volume_type": v.volume_type,
        }
        for v in state.volumes.values()
        if project is None or v.project_id == project
    ]


catalog.register(
    "volumes",
    VolumeProjection,
    rows=_volume_rows,
    columns=("id", "name", "project_id", "size", "status", "volume_type"),
    description="block storage volumes",
)
