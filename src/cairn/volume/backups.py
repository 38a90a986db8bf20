"""Backup deciders: full and incremental backups of a volume, kept by its backend
as files; restore into the volume or a new one; update, delete, reset.

An incremental backup holds only what changed since the volume's newest
available backup (its parent); a backup with incrementals on it is not deleted.
Backups outlive their volume. Each backup takes the project's ``backups`` and
``backup_gigabytes`` quota on its quota stream, in the same append.
"""

from __future__ import annotations

from cairn.events import volume as ev
from cairn.projections.volume import Backup, VolumeState, backup_stream, volume_stream
from cairn.volume import access, quota
from cairn.volume.access import Caller
from cairn.volume.config import VolumeConfig
from cairn.volume.errors import Invalid, NotFound
from cairn.volume.writes import Writes

DELETABLE = frozenset({"available", "error"})
RESETTABLE = frozenset({"available", "error", "creating", "deleting", "restoring"})


def find(state: VolumeState, caller: Caller, backup_id: str) -> Backup:
    found = state.backups.get(backup_id)
    if found is None or not (caller.is_admin or found.project_id == caller.project_id):
        raise NotFound(f"Backup {backup_id} could not be found.")
    return found


def create(
    state: VolumeState,
    caller: Caller,
    config: VolumeConfig,
    w: Writes,
    *,
    backup_id: str,
    volume_id: str,
    name: str | None,
    description: str | None,
    incremental: bool,
    force: bool,
    container: str | None,
    metadata: dict[str, str],
    snapshot_id: str | None = None,
) -> None:
    volume = access.volume(state, caller, volume_id)
    allowed = ("available", "in-use") if force else ("available",)
    if snapshot_id is not None:
        snapshot = access.snapshot(state, caller, snapshot_id)
        if snapshot.volume_id != volume_id:
            raise Invalid(f"Invalid snapshot: {snapshot_id} is not a snapshot of {volume_id}.")
        if snapshot.status != "available":
            raise Invalid(f"Invalid snapshot: Snapshot {snapshot_id} is not available.")
        allowed = ("available", "in-use")  # the snapshot is read, not the volume
    if volume.status not in allowed:
        raise Invalid(
            f"Invalid volume: Volume to be backed up must be available or in-use with force, "
            f"but the current status is {volume.status!r}."
        )
    parent = None
    if incremental:
        done = [
            b
            for b in state.backups.values()
            if b.volume_id == volume_id and b.status == "available"
        ]
        if not done:
            raise Invalid("Invalid backup: No backups available to do an incremental backup.")
        parent = max(done, key=lambda b: (b.data_timestamp or b.created_at, b.id))
    quota.take_backup(w, config.quotas, volume.project_id, volume.size)
    w.add(
        backup_stream(backup_id),
        ev.BackupCreateRequested(
            backup_id=backup_id,
            volume_id=volume_id,
            project_id=volume.project_id,
            user_id=caller.user_id,
            name=name,
            description=description,
            size=volume.size,
            host=volume.host,
            availability_zone=volume.availability_zone,
            container=container,
            parent_id=parent.id if parent is not None else None,
            metadata=metadata,
            volume_metadata=dict(volume.metadata),
            snapshot_id=snapshot_id,
        ),
        new=True,
    )
    if snapshot_id is None:  # a snapshot's backup leaves the volume as it is
        w.add(
            volume_stream(volume_id),
            ev.VolumeBackupStarted(
                volume_id=volume_id, backup_id=backup_id, return_status=volume.status
            ),
        )


def delete(state: VolumeState, caller: Caller, backup_id: str, w: Writes, *, force: bool) -> None:
    backup = find(state, caller, backup_id)
    if backup.pending == "delete":
        return
    if not force and backup.status not in DELETABLE:
        raise Invalid(
            f"Invalid backup: Backup status must be available or error, not {backup.status}."
        )
    if state.dependents_of(backup_id):
        raise Invalid("Invalid backup: Incremental backups exist for this backup.")
    w.add(backup_stream(backup_id), ev.BackupDeleteRequested(backup_id=backup_id))


def restore(
    state: VolumeState, caller: Caller, backup_id: str, volume_id: str, w: Writes
) -> Backup:
    """Into an existing volume (a new one is a create with ``backup_id``)."""
    backup = find(state, caller, backup_id)
    if backup.status != "available":
        raise Invalid(f"Invalid backup: Backup status must be available, not {backup.status}.")
    volume = access.volume(state, caller, volume_id)
    if volume.status != "available":
        raise Invalid(
            f"Invalid volume: Volume to be restored to must be available, not {volume.status}."
        )
    if volume.size < backup.size:
        raise Invalid(
            f"Invalid volume: volume size {volume.size}GB is too small to restore backup of "
            f"size {backup.size}GB."
        )
    if volume.host != backup.host:
        raise Invalid("Invalid volume: the volume is not on the backend that keeps the backup.")
    w.add(
        volume_stream(volume_id),
        ev.VolumeRestoreRequested(volume_id=volume_id, backup_id=backup_id),
    )
    return backup


def update(
    state: VolumeState, caller: Caller, backup_id: str, changes: ev.BackupUpdated, w: Writes
) -> None:
    find(state, caller, backup_id)
    w.add(backup_stream(backup_id), changes)


def reset_status(
    state: VolumeState, caller: Caller, backup_id: str, status: str, w: Writes
) -> None:
    find(state, caller, backup_id)
    if status not in RESETTABLE:
        raise Invalid(f"Invalid input received: Invalid backup status {status!r}.")
    w.add(backup_stream(backup_id), ev.BackupStatusReset(backup_id=backup_id, status=status))


#: the backup service an exported record names (Cinder's module path, as Tempest checks)
BACKUP_SERVICE = "cinder.backup.drivers.posix"


def export_record(state: VolumeState, caller: Caller, backup_id: str) -> dict[str, object]:
    """What import_record needs to make this backup again (its data stays where it is)."""
    backup = find(state, caller, backup_id)
    if backup.status != "available":
        raise Invalid(f"Invalid backup: Backup status must be available, not {backup.status}.")
    return {
        "id": backup.id,
        "data_of": backup.data_id,
        "volume_id": backup.volume_id,
        "size": backup.size,
        "name": backup.name,
        "description": backup.description,
        "host": backup.host,
        "availability_zone": backup.availability_zone,
        "container": backup.container,
        "parent_id": backup.parent_id,
        "volume_metadata": dict(backup.volume_metadata),
        "snapshot_id": backup.snapshot_id,
    }


def import_record(state: VolumeState, caller: Caller, record: dict[str, object], w: Writes) -> str:
    """A backup made from an exported record (its id may be a new one)."""
    try:
        backup_id = str(record["id"])
        imported = ev.BackupImported(
            backup_id=backup_id,
            data_of=str(record["data_of"]),
            volume_id=str(record["volume_id"]),
            project_id=caller.project_id,
            user_id=caller.user_id,
            name=_text_or_none(record.get("name")),
            description=_text_or_none(record.get("description")),
            size=int(str(record["size"])),
            host=str(record["host"]),
            availability_zone=str(record["availability_zone"]),
            container=_text_or_none(record.get("container")),
            parent_id=_text_or_none(record.get("parent_id")),
            volume_metadata=_strings(record.get("volume_metadata")),
            snapshot_id=_text_or_none(record.get("snapshot_id")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"Invalid input received: the backup record is incomplete: {exc}") from None
    if backup_id in state.backups:
        raise Invalid(f"Invalid backup: Backup {backup_id} already exists.")
    w.add(backup_stream(backup_id), imported, new=True)
    return backup_id


def _strings(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("volume_metadata must be an object")
    return {str(k): str(v) for k, v in value.items()}


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)
