"""Block storage events (Cinder v3): volumes, snapshots, volume types and quotas.

A volume's life is a request and an outcome: the API appends what was asked
(``VolumeCreateRequested``, ``VolumeExtendRequested``, ``VolumeDeleteRequested``)
and the volume agent of the volume's backend appends what really happened on
disk (``VolumeCreated`` once the file exists, ``VolumeCreateFailed``, ...), each
with the request's event id as its causation. A volume is ``available`` only
after its ``VolumeCreated``. Snapshots follow the same pattern.

Streams: ``volume-<id>``, ``volsnapshot-<id>``, ``voltype-<id>`` and
``volquota-<project>``. Every create (and extend) of a project appends
:class:`VolumeQuotaUsed` to its quota stream at the version its check saw, in the
same append as the request, so concurrent creates are decided one after the
other and never pass the project's limits; usage itself is counted from the
volumes and snapshots (a deletion frees its share when it is folded).
"""

from __future__ import annotations

import msgspec

from cairn.events.registry import DomainEvent, registry


class VolumeSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where a new volume's data comes from: nothing (``blank``), an image, a
    snapshot, or another volume (a clone)."""

    kind: str = "blank"
    id: str | None = None
    #: for an image: its disk format (qcow2, raw, ...) as the image service says
    disk_format: str | None = None


# -- volumes --------------------------------------------------------------------------


@registry.event
class VolumeCreateRequested(DomainEvent, frozen=True):
    volume_id: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    size: int
    volume_type_id: str
    volume_type: str
    availability_zone: str
    #: the backend that makes it: Cinder's ``host@backend#pool``
    host: str
    metadata: dict[str, str] = {}
    source: VolumeSource = VolumeSource()
    bootable: bool = False
    multiattach: bool = False
    #: Glance's properties of the image the volume was made from
    image_metadata: dict[str, str] = {}
    #: the volume group it is made in (3.13+)
    group_id: str | None = None


@registry.event
class VolumeCreated(DomainEvent, frozen=True):
    """The agent made the volume's file: it is ``available``."""

    volume_id: str
    host: str
    #: bytes the file takes on disk when it was made (sparse files take little)
    allocated: int = 0


@registry.event
class VolumeCreateFailed(DomainEvent, frozen=True):
    volume_id: str
    reason: str


@registry.event
class VolumeUpdated(DomainEvent, frozen=True):
    """Name, description or metadata changed: only what is set changed."""

    volume_id: str
    name: str | msgspec.UnsetType | None = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    #: the whole metadata after the change
    metadata: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


@registry.event
class VolumeFlagsSet(DomainEvent, frozen=True):
    """``os-set_bootable`` and ``os-update_readonly_flag``."""

    volume_id: str
    bootable: bool | msgspec.UnsetType = msgspec.UNSET
    readonly: bool | msgspec.UnsetType = msgspec.UNSET


@registry.event
class VolumeImageMetadataSet(DomainEvent, frozen=True):
    """The whole ``volume_image_metadata`` after a change."""

    volume_id: str
    image_metadata: dict[str, str]


@registry.event
class VolumeStatusReset(DomainEvent, frozen=True):
    """An admin's ``os-reset_status``: the status is what they said, nothing was done."""

    volume_id: str
    status: str | msgspec.UnsetType = msgspec.UNSET
    attach_status: str | msgspec.UnsetType = msgspec.UNSET
    migration_status: str | msgspec.UnsetType | None = msgspec.UNSET


@registry.event
class VolumeExtendRequested(DomainEvent, frozen=True):
    volume_id: str
    project_id: str
    new_size: int
    previous_size: int
    #: the status to return to once extended (``available``, or ``in-use``)
    return_status: str = "available"


@registry.event
class VolumeExtended(DomainEvent, frozen=True):
    volume_id: str
    size: int


@registry.event
class VolumeExtendFailed(DomainEvent, frozen=True):
    volume_id: str
    reason: str


@registry.event
class VolumeDeleteRequested(DomainEvent, frozen=True):
    volume_id: str
    project_id: str
    #: the volume's snapshots go first (``cascade=true``)
    cascade: bool = False
    force: bool = False


@registry.event
class VolumeDeleted(DomainEvent, frozen=True):
    """The agent removed the volume's file: the volume is gone."""

    volume_id: str
    project_id: str = ""


@registry.event
class VolumeDeleteFailed(DomainEvent, frozen=True):
    volume_id: str
    reason: str


# -- backups (stream ``volbackup-<id>``; the volume's side on the volume's stream) -------


@registry.event
class BackupCreateRequested(DomainEvent, frozen=True):
    backup_id: str
    volume_id: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    size: int
    #: the backend that keeps it (the volume's)
    host: str
    availability_zone: str
    container: str | None = None
    #: an incremental backup holds only what changed since ``parent_id``
    parent_id: str | None = None
    metadata: dict[str, str] = {}
    #: the volume's metadata when it was backed up (a restore brings it back)
    volume_metadata: dict[str, str] = {}
    #: a backup of this snapshot of the volume, not of the volume itself
    snapshot_id: str | None = None


@registry.event
class VolumeBackupStarted(DomainEvent, frozen=True):
    """The volume is ``backing-up`` until its backup's outcome."""

    volume_id: str
    backup_id: str
    return_status: str = "available"


@registry.event
class BackupCreated(DomainEvent, frozen=True):
    backup_id: str


@registry.event
class BackupCreateFailed(DomainEvent, frozen=True):
    backup_id: str
    reason: str


@registry.event
class BackupImported(DomainEvent, frozen=True):
    """An admin imported an exported backup record (Cinder's import_record): a new
    backup whose data is the exported one's (``data_of``), once its backend has it."""

    backup_id: str
    data_of: str
    volume_id: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    size: int
    host: str
    availability_zone: str
    container: str | None = None
    parent_id: str | None = None
    volume_metadata: dict[str, str] = {}
    snapshot_id: str | None = None


@registry.event
class BackupUpdated(DomainEvent, frozen=True):
    backup_id: str
    name: str | msgspec.UnsetType | None = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    metadata: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


@registry.event
class BackupStatusReset(DomainEvent, frozen=True):
    backup_id: str
    status: str


@registry.event
class BackupDeleteRequested(DomainEvent, frozen=True):
    backup_id: str


@registry.event
class BackupDeleted(DomainEvent, frozen=True):
    backup_id: str


@registry.event
class BackupDeleteFailed(DomainEvent, frozen=True):
    backup_id: str
    reason: str


@registry.event
class VolumeRestoreRequested(DomainEvent, frozen=True):
    """A backup's data goes into this (existing) volume: ``restoring-backup``."""

    volume_id: str
    backup_id: str


@registry.event
class VolumeRestored(DomainEvent, frozen=True):
    volume_id: str
    backup_id: str


@registry.event
class VolumeRestoreFailed(DomainEvent, frozen=True):
    volume_id: str
    backup_id: str
    reason: str


# -- upload to an image ------------------------------------------------------------------


@registry.event
class VolumeUploadRequested(DomainEvent, frozen=True):
    """``os-volume_upload_image``: the volume's data goes into the (queued) image."""

    volume_id: str
    image_id: str
    disk_format: str
    return_status: str = "available"


@registry.event
class VolumeUploaded(DomainEvent, frozen=True):
    volume_id: str
    image_id: str


@registry.event
class VolumeUploadFailed(DomainEvent, frozen=True):
    volume_id: str
    image_id: str
    reason: str


# -- Cinder's legacy attach actions (state only: the hypervisor's part is compute's) ---


@registry.event
class VolumeReserved(DomainEvent, frozen=True):
    """``os-reserve``: an attach is coming (``attaching``)."""

    volume_id: str


@registry.event
class VolumeUnreserved(DomainEvent, frozen=True):
    volume_id: str


@registry.event
class VolumeAttached(DomainEvent, frozen=True):
    """``os-attach``: the volume is attached to a server (or a host) at a mountpoint."""

    volume_id: str
    attachment_id: str
    server_id: str | None
    host_name: str | None
    mountpoint: str
    mode: str = "rw"


@registry.event
class VolumeDetachBegun(DomainEvent, frozen=True):
    volume_id: str


@registry.event
class VolumeDetachRolledBack(DomainEvent, frozen=True):
    volume_id: str


@registry.event
class VolumeDetached(DomainEvent, frozen=True):
    """An attachment ended (``os-detach``, ``os-force_detach``); with none left the
    volume is ``available`` again."""

    volume_id: str
    attachment_id: str


@registry.event
class VolumeRetyped(DomainEvent, frozen=True):
    """``os-retype`` without migration: the volume now has this type."""

    volume_id: str
    volume_type_id: str
    volume_type: str


# -- transfers between projects (on the volume's stream) -------------------------------


@registry.event
class VolumeTransferCreated(DomainEvent, frozen=True):
    """The volume awaits its transfer; whoever presents the key takes it. Only a
    salted hash of the key is recorded, never the key itself."""

    transfer_id: str
    volume_id: str
    project_id: str
    name: str | None
    salt: str
    key_hash: str
    no_snapshots: bool = False


@registry.event
class VolumeTransferAccepted(DomainEvent, frozen=True):
    """The volume (and, unless ``no_snapshots``, its snapshots) now belong to
    ``to_project``."""

    transfer_id: str
    volume_id: str
    from_project: str
    to_project: str
    user_id: str


@registry.event
class VolumeTransferDeleted(DomainEvent, frozen=True):
    transfer_id: str
    volume_id: str


# -- snapshots ------------------------------------------------------------------------


@registry.event
class SnapshotCreateRequested(DomainEvent, frozen=True):
    snapshot_id: str
    volume_id: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    size: int
    metadata: dict[str, str] = {}
    force: bool = False
    #: the group snapshot it is part of (3.14+)
    group_snapshot_id: str | None = None


@registry.event
class SnapshotCreated(DomainEvent, frozen=True):
    snapshot_id: str


@registry.event
class SnapshotCreateFailed(DomainEvent, frozen=True):
    snapshot_id: str
    reason: str


@registry.event
class SnapshotUpdated(DomainEvent, frozen=True):
    snapshot_id: str
    name: str | msgspec.UnsetType | None = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    metadata: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


@registry.event
class SnapshotStatusReset(DomainEvent, frozen=True):
    snapshot_id: str
    status: str


@registry.event
class SnapshotStatusUpdated(DomainEvent, frozen=True):
    """``os-update_snapshot_status``: what a hypervisor making the snapshot itself
    (Nova's assisted snapshots) reports, with its progress."""

    snapshot_id: str
    status: str
    progress: str | None = None


@registry.event
class SnapshotDeleteRequested(DomainEvent, frozen=True):
    snapshot_id: str
    project_id: str


@registry.event
class SnapshotDeleted(DomainEvent, frozen=True):
    snapshot_id: str
    project_id: str = ""


@registry.event
class SnapshotDeleteFailed(DomainEvent, frozen=True):
    snapshot_id: str
    reason: str


# -- volume types ---------------------------------------------------------------------


@registry.event
class VolumeTypeCreated(DomainEvent, frozen=True):
    type_id: str
    name: str
    description: str | None = None
    is_public: bool = True
    extra_specs: dict[str, str] = {}


@registry.event
class VolumeTypeUpdated(DomainEvent, frozen=True):
    type_id: str
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    is_public: bool | msgspec.UnsetType = msgspec.UNSET
    #: the whole extra specs after the change
    extra_specs: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


@registry.event
class VolumeTypeDeleted(DomainEvent, frozen=True):
    type_id: str


@registry.event
class VolumeTypeAccessAdded(DomainEvent, frozen=True):
    """A private type may now be used by this project."""

    type_id: str
    project_id: str


@registry.event
class VolumeTypeAccessRemoved(DomainEvent, frozen=True):
    type_id: str
    project_id: str


# -- backends -------------------------------------------------------------------------


@registry.event
class VolumeBackendRegistered(DomainEvent, frozen=True):
    """A volume agent started for its backend (Cinder's cinder-volume service),
    with what its pool holds. Stream: ``volbackend-<host>``."""

    host: str
    availability_zone: str
    driver: str
    driver_version: str
    volume_format: str
    total_capacity_gb: float
    free_capacity_gb: float
    heartbeat_interval: float
    #: where hosts that share the backend's files find its pool (the file driver's
    #: directory); "" for a backend that exports volumes otherwise
    export_path: str = ""


@registry.event
class VolumeBackendHeartbeat(DomainEvent, frozen=True):
    host: str
    free_capacity_gb: float


@registry.event
class VolumeBackendStopped(DomainEvent, frozen=True):
    host: str


@registry.event
class VolumeBackendStatusSet(DomainEvent, frozen=True):
    """An admin enabled or disabled a backend's service (``os-services``); a disabled
    backend takes no new volumes."""

    host: str
    disabled: bool
    reason: str | None = None


@registry.event
class VolumeBackendFreezeSet(DomainEvent, frozen=True):
    """``os-services/freeze`` and ``thaw``: a frozen backend takes no new volumes."""

    host: str
    frozen: bool


# -- group types (stream ``volgrouptype-<id>``) -----------------------------------------


@registry.event
class GroupTypeCreated(DomainEvent, frozen=True):
    type_id: str
    name: str
    description: str | None = None
    is_public: bool = True
    group_specs: dict[str, str] = {}


@registry.event
class GroupTypeUpdated(DomainEvent, frozen=True):
    type_id: str
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    is_public: bool | msgspec.UnsetType = msgspec.UNSET
    #: the whole group specs after the change
    group_specs: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


@registry.event
class GroupTypeDeleted(DomainEvent, frozen=True):
    type_id: str


# -- generic volume groups (3.13+; stream ``volgroup-<id>``) ---------------------------


@registry.event
class VolumeGroupCreated(DomainEvent, frozen=True):
    """A group of volumes. The file backend keeps no storage for a group (as
    Cinder's generic group driver), so it is ``available`` at once."""

    group_id: str
    project_id: str
    name: str | None
    description: str | None
    group_type_id: str
    volume_type_ids: list[str]
    availability_zone: str


@registry.event
class VolumeGroupUpdated(DomainEvent, frozen=True):
    group_id: str
    name: str | msgspec.UnsetType | None = msgspec.UNSET
    description: str | msgspec.UnsetType | None = msgspec.UNSET


@registry.event
class VolumeGroupStatusReset(DomainEvent, frozen=True):
    group_id: str
    status: str


@registry.event
class VolumeGroupDeleted(DomainEvent, frozen=True):
    group_id: str


@registry.event
class GroupSnapshotCreated(DomainEvent, frozen=True):
    """A snapshot of every volume of a group (each its own ``SnapshotCreateRequested``
    in the same append). Stream: ``volgroupsnap-<id>``."""

    group_snapshot_id: str
    group_id: str
    project_id: str
    name: str | None
    description: str | None
    group_type_id: str


@registry.event
class GroupSnapshotDeleteRequested(DomainEvent, frozen=True):
    group_snapshot_id: str


@registry.event
class GroupSnapshotStatusReset(DomainEvent, frozen=True):
    group_snapshot_id: str
    status: str


@registry.event
class VolumeGroupSet(DomainEvent, frozen=True):
    """A volume joined a group (``group_id``) or left it (None)."""

    volume_id: str
    group_id: str | None


# -- QoS specs (stream ``volqos-<id>``) --------------------------------------------------


@registry.event
class QosSpecsCreated(DomainEvent, frozen=True):
    qos_id: str
    name: str
    consumer: str
    specs: dict[str, str] = {}


@registry.event
class QosSpecsUpdated(DomainEvent, frozen=True):
    """The whole specs after a change."""

    qos_id: str
    specs: dict[str, str]


@registry.event
class QosSpecsDeleted(DomainEvent, frozen=True):
    qos_id: str


@registry.event
class QosSpecsAssociated(DomainEvent, frozen=True):
    qos_id: str
    type_id: str


@registry.event
class QosSpecsDisassociated(DomainEvent, frozen=True):
    qos_id: str
    type_id: str


# -- user messages (3.3+; stream ``volmessage-<id>``) -----------------------------------


@registry.event
class UserMessageCreated(DomainEvent, frozen=True):
    """What Cinder tells a project about a failure it can act on (Cinder's messages)."""

    message_id: str
    project_id: str
    resource_type: str
    resource_uuid: str
    event_id: str
    message: str
    request_id: str
    level: str = "ERROR"


@registry.event
class UserMessageDeleted(DomainEvent, frozen=True):
    message_id: str


# -- quotas ---------------------------------------------------------------------------


@registry.event
class VolumeQuotaUsed(DomainEvent, frozen=True):
    """A project's usage after a create or extend, checked against its limits."""

    project_id: str
    volumes: int
    gigabytes: int
    snapshots: int


@registry.event
class VolumeQuotaSet(DomainEvent, frozen=True):
    """An admin set some of a project's limits (the others stay as they were)."""

    project_id: str
    limits: dict[str, int]


@registry.event
class VolumeQuotaClassSet(DomainEvent, frozen=True):
    """An admin changed a quota class's limits; the ``default`` class's are every
    project's defaults. Stream: ``volquotaclass-<name>``."""

    class_name: str
    limits: dict[str, int]


@registry.event
class VolumeQuotaReset(DomainEvent, frozen=True):
    """The project's limits are the defaults again."""

    project_id: str
