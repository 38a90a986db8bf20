"""Volume type deciders: the default type, and admins' types with extra specs.

Names are unique among the types the deciding state knows. Types are made by
admins, rarely and one at a time; two concurrent creates of one name are not
guarded by a claim stream (a known gap, recorded in ADR 17).
"""

from __future__ import annotations

from cairn.events import volume as ev
from cairn.projections.volume import VolumeState, type_stream
from cairn.volume.config import DEFAULT_TYPE
from cairn.volume.errors import Conflict, Invalid, NotFound
from cairn.volume.writes import Writes


def create(
    state: VolumeState,
    type_id: str,
    name: str,
    w: Writes,
    *,
    description: str | None = None,
    is_public: bool = True,
    extra_specs: dict[str, str] | None = None,
) -> None:
    if any(t.name == name for t in state.types.values()):
        raise Conflict(f"Volume Type {name} already exists.")
    w.add(
        type_stream(type_id),
        ev.VolumeTypeCreated(
            type_id=type_id,
            name=name,
            description=description,
            is_public=is_public,
            extra_specs=dict(extra_specs or {}),
        ),
        new=True,
    )


def update(state: VolumeState, type_id: str, changes: ev.VolumeTypeUpdated, w: Writes) -> None:
    found = state.types.get(type_id)
    if found is None:
        raise NotFound(f"Volume type {type_id} could not be found.")
    if isinstance(changes.name, str) and changes.name != found.name:
        if any(t.name == changes.name for t in state.types.values()):
            raise Conflict(f"Volume Type {changes.name} already exists.")
        if found.name == DEFAULT_TYPE:
            raise Invalid("The default volume type cannot be renamed.")
    w.add(type_stream(type_id), changes)


def delete(state: VolumeState, type_id: str, w: Writes) -> None:
    found = state.types.get(type_id)
    if found is None:
        raise NotFound(f"Volume type {type_id} could not be found.")
    if found.name == DEFAULT_TYPE:
        raise Invalid("Default volume type can not be deleted.")
    if any(v.volume_type_id == type_id for v in state.volumes.values()):
        raise Invalid(
            f"Target volume type is still in use. Volume Type {type_id} deletion is not "
            "allowed with volumes present with the type."
        )
    w.add(type_stream(type_id), ev.VolumeTypeDeleted(type_id=type_id))


def add_access(state: VolumeState, type_id: str, project_id: str, w: Writes) -> None:
    found = state.types.get(type_id)
    if found is None:
        raise NotFound(f"Volume type {type_id} could not be found.")
    if found.is_public:
        raise Invalid(
            "Invalid volume type: Type access modification is not applicable to public volume type."
        )
    if project_id in found.projects:
        raise Conflict(
            f"Volume type access for {type_id} / {project_id} combination already exists."
        )
    w.add(type_stream(type_id), ev.VolumeTypeAccessAdded(type_id=type_id, project_id=project_id))


def remove_access(state: VolumeState, type_id: str, project_id: str, w: Writes) -> None:
    found = state.types.get(type_id)
    if found is None:
        raise NotFound(f"Volume type {type_id} could not be found.")
    if project_id not in found.projects:
        raise NotFound(f"Volume type access not found for {type_id} / {project_id} combination.")
    w.add(type_stream(type_id), ev.VolumeTypeAccessRemoved(type_id=type_id, project_id=project_id))
