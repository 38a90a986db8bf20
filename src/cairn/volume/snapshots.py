"""Snapshot deciders: create (of an available volume, or an in-use one with
``force``), update, delete and an admin's status reset."""

from __future__ import annotations

from cairn.events import volume as ev
from cairn.projections.volume import VolumeState, snapshot_stream
from cairn.volume import access, quota
from cairn.volume.access import Caller
from cairn.volume.config import VolumeConfig
from cairn.volume.errors import Invalid
from cairn.volume.writes import Writes

#: statuses a snapshot may be deleted from (Cinder's snapshot API)
DELETABLE = frozenset({"available", "error", "error_deleting"})
RESETTABLE = frozenset(
    {"creating", "available", "deleting", "error", "error_deleting", "backing-up", "restoring"}
)


def create(
    state: VolumeState,
    caller: Caller,
    config: VolumeConfig,
    snapshot_id: str,
    volume_id: str,
    w: Writes,
    *,
    name: str | None,
    description: str | None,
    metadata: dict[str, str],
    force: bool,
    group_snapshot_id: str | None = None,
) -> None:
    volume = access.volume(state, caller, volume_id)
    allowed = ("available", "in-use") if force else ("available",)
    if volume.status not in allowed:
        raise Invalid(
            f"Invalid volume: Volume {volume_id} status must be available, but current "
            f"status is: {volume.status}."
        )
    quota.take(
        w,
        config.quotas,
        volume.project_id,
        snapshots=1,
        gigabytes=volume.size,
        volume_type=volume.volume_type,
    )
    w.add(
        snapshot_stream(snapshot_id),
        ev.SnapshotCreateRequested(
            snapshot_id=snapshot_id,
            volume_id=volume_id,
            project_id=volume.project_id,
            user_id=caller.user_id,
            name=name,
            description=description,
            size=volume.size,
            metadata=dict(metadata),
            force=force,
            group_snapshot_id=group_snapshot_id,
        ),
        new=True,
    )


def update(
    state: VolumeState, caller: Caller, snapshot_id: str, changes: ev.SnapshotUpdated, w: Writes
) -> None:
    access.snapshot(state, caller, snapshot_id)
    w.add(snapshot_stream(snapshot_id), changes)


def delete(state: VolumeState, caller: Caller, snapshot_id: str, w: Writes, *, force: bool) -> None:
    snap = access.snapshot(state, caller, snapshot_id)
    if snap.pending == "delete":
        return
    if snap.group_snapshot_id in state.group_snapshots and not force:
        raise Invalid(
            f"Invalid snapshot: Snapshot {snapshot_id} is part of group snapshot "
            f"{snap.group_snapshot_id}: delete the group snapshot."
        )
    if not force and snap.status not in DELETABLE:
        raise Invalid(
            f"Invalid snapshot: Volume Snapshot status must be available or error or "
            f"error_deleting (snapshot {snapshot_id} is {snap.status})."
        )
    w.add(
        snapshot_stream(snapshot_id),
        ev.SnapshotDeleteRequested(snapshot_id=snapshot_id, project_id=snap.project_id),
    )


def reset_status(
    state: VolumeState, caller: Caller, snapshot_id: str, status: str, w: Writes
) -> None:
    access.snapshot(state, caller, snapshot_id)
    if status not in RESETTABLE:
        raise Invalid(f"Invalid input received: Invalid status {status!r}.")
    w.add(
        snapshot_stream(snapshot_id), ev.SnapshotStatusReset(snapshot_id=snapshot_id, status=status)
    )


#: what os-update_snapshot_status may change a status to (Cinder's status map)
UPDATES = {
    "creating": ("creating", "available", "error"),
    "deleting": ("deleting", "error_deleting"),
}


def update_status(
    state: VolumeState,
    caller: Caller,
    snapshot_id: str,
    status: str,
    progress: str | None,
    w: Writes,
) -> None:
    snap = access.snapshot(state, caller, snapshot_id)
    if status not in UPDATES.get(snap.status, ()):
        raise Invalid(
            f"Invalid snapshot: Provided snapshot status {status} not allowed for snapshot "
            f"with status {snap.status}."
        )
    w.add(
        snapshot_stream(snapshot_id),
        ev.SnapshotStatusUpdated(snapshot_id=snapshot_id, status=status, progress=progress),
    )
