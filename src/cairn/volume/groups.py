"""Generic volume group deciders (3.13+): create, update (name, description,
volumes in and out), an admin's status reset, delete (with its volumes).

A group names a group type and the volume types its volumes may have; a volume
is made in a group or added later, one group at a time, and is deleted with its
group (``delete-volumes``), not on its own, as Cinder has it.
"""

from __future__ import annotations

from cairn.events import volume as ev
from cairn.projections.volume import Group, VolumeState, group_stream, volume_stream
from cairn.volume import access
from cairn.volume.access import Caller
from cairn.volume.errors import Invalid, NotFound
from cairn.volume.writes import Writes

RESETTABLE = frozenset({"creating", "available", "error", "deleting", "updating", "in-use"})
MEMBER_STATUSES = frozenset({"available", "in-use"})


def find(state: VolumeState, caller: Caller, group_id: str) -> Group:
    found = state.groups.get(group_id)
    if found is None or not (caller.is_admin or found.project_id == caller.project_id):
        raise NotFound(f"Group {group_id} could not be found.")
    return found


def members(state: VolumeState, group_id: str) -> list[str]:
    return sorted(v.id for v in state.volumes.values() if v.group_id == group_id)


def create(
    state: VolumeState,
    caller: Caller,
    w: Writes,
    *,
    group_id: str,
    name: str | None,
    description: str | None,
    group_type: str,
    volume_types: list[str],
    zone: str,
) -> None:
    found_type = state.group_types.get(group_type) or next(
        (t for t in state.group_types.values() if t.name == group_type), None
    )
    if found_type is None or not (found_type.is_public or caller.is_admin):
        raise NotFound(f"Group type {group_type} could not be found.")
    if not volume_types:
        raise Invalid("Invalid input received: volume_types must be provided to create a group.")
    type_ids = []
    for wanted in volume_types:
        volume_type = state.type_named(wanted)
        if volume_type is None or not volume_type.usable_by(caller.project_id, caller.is_admin):
            raise NotFound(f"Volume type {wanted} could not be found.")
        type_ids.append(volume_type.id)
    w.add(
        group_stream(group_id),
        ev.VolumeGroupCreated(
            group_id=group_id,
            project_id=caller.project_id,
            name=name,
            description=description,
            group_type_id=found_type.id,
            volume_type_ids=type_ids,
            availability_zone=zone,
        ),
        new=True,
    )


def check_member(state: VolumeState, group: Group, volume_type_id: str) -> None:
    """A new volume may be made in ``group`` with this type (or a 400 saying why)."""
    if group.status != "available":
        raise Invalid(
            f"Invalid group: Group {group.id} status must be available, not {group.status}."
        )
    if volume_type_id not in group.volume_type_ids:
        raise Invalid(
            f"Invalid volume type: Volume type {volume_type_id} is not supported by group "
            f"{group.id}."
        )


def update(
    state: VolumeState,
    caller: Caller,
    group_id: str,
    w: Writes,
    *,
    changes: ev.VolumeGroupUpdated,
    add: list[str],
    remove: list[str],
) -> None:
    group = find(state, caller, group_id)
    if group.status != "available":
        raise Invalid(f"Invalid group: Group {group_id} status must be available to update.")
    for volume_id in add:
        volume = access.volume(state, caller, volume_id)
        if volume.group_id == group_id:
            continue
        if volume.group_id is not None:
            raise Invalid(f"Invalid volume: Volume {volume_id} is already in a group.")
        if volume.project_id != group.project_id:
            raise Invalid(f"Invalid volume: Volume {volume_id} is not in the group's project.")
        if volume.status not in MEMBER_STATUSES:
            raise Invalid(
                f"Invalid volume: Volume {volume_id} must be available or in-use to be added "
                "to a group."
            )
        if volume.volume_type_id not in group.volume_type_ids:
            raise Invalid(
                f"Invalid volume: the type of volume {volume_id} is not supported by group "
                f"{group_id}."
            )
        w.add(volume_stream(volume_id), ev.VolumeGroupSet(volume_id=volume_id, group_id=group_id))
    for volume_id in remove:
        volume = access.volume(state, caller, volume_id)
        if volume.group_id != group_id:
            raise Invalid(f"Invalid volume: Volume {volume_id} is not in group {group_id}.")
        w.add(volume_stream(volume_id), ev.VolumeGroupSet(volume_id=volume_id, group_id=None))
    w.add(group_stream(group_id), changes)


def reset_status(state: VolumeState, caller: Caller, group_id: str, status: str, w: Writes) -> None:
    find(state, caller, group_id)
    if status not in RESETTABLE:
        raise Invalid(f"Invalid input received: Invalid group status {status!r}.")
    w.add(group_stream(group_id), ev.VolumeGroupStatusReset(group_id=group_id, status=status))


def delete(
    state: VolumeState, caller: Caller, group_id: str, w: Writes, *, with_volumes: bool
) -> None:
    group = find(state, caller, group_id)
    volume_ids = members(state, group_id)
    if volume_ids and not with_volumes:
        raise Invalid(
            f"Invalid group: Group {group_id} still contains volumes. The delete-volumes flag "
            "is required to delete it."
        )
    for volume_id in volume_ids:
        volume = state.volumes[volume_id]
        if volume.attach_status == "attached" or state.snapshots_of(volume_id):
            raise Invalid(
                f"Invalid volume: Volume {volume_id} of group {group_id} is attached or has "
                "snapshots."
            )
        if volume.pending != "delete":
            w.add(
                volume_stream(volume_id),
                ev.VolumeDeleteRequested(volume_id=volume_id, project_id=volume.project_id),
            )
    w.add(group_stream(group.id), ev.VolumeGroupDeleted(group_id=group.id))
