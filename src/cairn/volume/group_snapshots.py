"""Group snapshot deciders (3.14+): a snapshot of every volume of a group in one
append (each taking its quota), deleted together, reset by admins; and groups
made from a group snapshot or another group (a volume per member, in one append).

A group snapshot's status is its members' (``creating`` until the agent has made
every copy, ``error`` if one failed), unless an admin reset it.
"""

from __future__ import annotations

import uuid

from cairn.events import volume as ev
from cairn.projections.volume import (
    GroupSnapshot,
    VolumeState,
    group_snapshot_stream,
    group_stream,
    snapshot_stream,
    volume_stream,
)
from cairn.volume import groups, snapshots, volumes
from cairn.volume.access import Caller
from cairn.volume.config import VolumeConfig
from cairn.volume.errors import Invalid, NotFound
from cairn.volume.writes import Writes

RESETTABLE = frozenset({"creating", "available", "error", "deleting", "error_deleting"})


def find(state: VolumeState, caller: Caller, group_snapshot_id: str) -> GroupSnapshot:
    found = state.group_snapshots.get(group_snapshot_id)
    if found is None or not (caller.is_admin or found.project_id == caller.project_id):
        raise NotFound(f"GroupSnapshot {group_snapshot_id} could not be found.")
    return found


def create(
    state: VolumeState,
    caller: Caller,
    config: VolumeConfig,
    w: Writes,
    *,
    group_snapshot_id: str,
    group_id: str,
    name: str | None,
    description: str | None,
) -> None:
    group = groups.find(state, caller, group_id)
    if group.status != "available":
        raise Invalid(f"Invalid group: Group {group_id} status must be available.")
    members = groups.members(state, group_id)
    if not members:
        raise Invalid(f"Invalid group: Group {group_id} has no volumes to snapshot.")
    w.add(
        group_snapshot_stream(group_snapshot_id),
        ev.GroupSnapshotCreated(
            group_snapshot_id=group_snapshot_id,
            group_id=group_id,
            project_id=group.project_id,
            name=name,
            description=description,
            group_type_id=group.group_type_id,
        ),
        new=True,
    )
    for volume_id in members:
        snapshot_id = str(uuid.uuid5(uuid.UUID(group_snapshot_id), volume_id))
        snapshots.create(
            state,
            caller,
            config,
            snapshot_id,
            volume_id,
            w,
            name=f"snapshot-{snapshot_id}",
            description=None,
            metadata={},
            force=False,
            group_snapshot_id=group_snapshot_id,
        )


def delete(state: VolumeState, caller: Caller, group_snapshot_id: str, w: Writes) -> None:
    found = find(state, caller, group_snapshot_id)
    if found.deleting:
        return
    members = state.members_of(group_snapshot_id)
    for snapshot in members:
        if snapshot.status not in snapshots.DELETABLE and snapshot.pending != "delete":
            raise Invalid(
                f"Invalid group snapshot: snapshot {snapshot.id} is {snapshot.status}; every "
                "snapshot must be available or in error to delete the group snapshot."
            )
    for snapshot in members:
        if snapshot.pending != "delete":
            w.add(
                snapshot_stream(snapshot.id),
                ev.SnapshotDeleteRequested(snapshot_id=snapshot.id, project_id=snapshot.project_id),
            )
    w.add(
        group_snapshot_stream(group_snapshot_id),
        ev.GroupSnapshotDeleteRequested(group_snapshot_id=group_snapshot_id),
    )


def reset_status(
    state: VolumeState, caller: Caller, group_snapshot_id: str, status: str, w: Writes
) -> None:
    find(state, caller, group_snapshot_id)
    if status not in RESETTABLE:
        raise Invalid(f"Invalid input received: Invalid group snapshot status {status!r}.")
    w.add(
        group_snapshot_stream(group_snapshot_id),
        ev.GroupSnapshotStatusReset(group_snapshot_id=group_snapshot_id, status=status),
    )


def create_group_from_source(
    state: VolumeState,
    caller: Caller,
    config: VolumeConfig,
    w: Writes,
    *,
    group_id: str,
    name: str | None,
    description: str | None,
    group_snapshot_id: str | None,
    source_group_id: str | None,
) -> None:
    """A new group with the source's types, and a volume for each of its members
    (from each snapshot of the group snapshot, or a clone of each volume)."""
    if (group_snapshot_id is None) == (source_group_id is None):
        raise Invalid(
            "Invalid input received: either group_snapshot_id or source_group_id must be given."
        )
    if group_snapshot_id is not None:
        source = find(state, caller, group_snapshot_id)
        if state.group_snapshot_status(source) != "available":
            raise Invalid(f"Invalid group snapshot: {group_snapshot_id} is not available.")
        parent = groups.find(state, caller, source.group_id)
        sources = [("snapshot", s.id) for s in state.members_of(source.id)]
    else:
        assert source_group_id is not None
        parent = groups.find(state, caller, source_group_id)
        if parent.status != "available":
            raise Invalid(f"Invalid group: Source group {source_group_id} is not available.")
        sources = [("volume", v) for v in groups.members(state, source_group_id)]
    w.add(
        group_stream(group_id),
        ev.VolumeGroupCreated(
            group_id=group_id,
            project_id=caller.project_id,
            name=name,
            description=description,
            group_type_id=parent.group_type_id,
            volume_type_ids=list(parent.volume_type_ids),
            availability_zone=parent.availability_zone,
        ),
        new=True,
    )
    for kind, ident in sources:
        volume_id = str(uuid.uuid5(uuid.UUID(group_id), ident))
        wanted = volumes.CreateVolume(
            volume_id=volume_id,
            size=None,
            snapshot_id=ident if kind == "snapshot" else None,
            source_volid=ident if kind == "volume" else None,
        )
        volumes.create(state, caller, config, wanted, w)
        # the new group is in this append, not yet in the state: join it here
        w.add(volume_stream(volume_id), ev.VolumeGroupSet(volume_id=volume_id, group_id=group_id))
