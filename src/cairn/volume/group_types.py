"""Group type deciders (Cinder's generic volume groups, 3.11+): admins' named
sets of group specs that groups of volumes are made with."""

from __future__ import annotations

from cairn.events import volume as ev
from cairn.projections.volume import GroupType, VolumeState, group_type_stream
from cairn.volume.errors import Conflict, NotFound
from cairn.volume.writes import Writes


def find(state: VolumeState, type_id: str) -> GroupType:
    found = state.group_types.get(type_id)
    if found is None:
        raise NotFound(f"Group type {type_id} could not be found.")
    return found


def create(
    state: VolumeState,
    type_id: str,
    name: str,
    w: Writes,
    *,
    description: str | None,
    is_public: bool,
    group_specs: dict[str, str],
) -> None:
    if any(t.name == name for t in state.group_types.values()):
        raise Conflict(f"Group Type {name} already exists.")
    w.add(
        group_type_stream(type_id),
        ev.GroupTypeCreated(
            type_id=type_id,
            name=name,
            description=description,
            is_public=is_public,
            group_specs=group_specs,
        ),
        new=True,
    )


def update(state: VolumeState, type_id: str, changes: ev.GroupTypeUpdated, w: Writes) -> None:
    found = find(state, type_id)
    renamed = isinstance(changes.name, str) and changes.name != found.name
    if renamed and any(t.name == changes.name for t in state.group_types.values()):
        raise Conflict(f"Group Type {changes.name} already exists.")
    w.add(group_type_stream(type_id), changes)


def delete(state: VolumeState, type_id: str, w: Writes) -> None:
    find(state, type_id)
    w.add(group_type_stream(type_id), ev.GroupTypeDeleted(type_id=type_id))
