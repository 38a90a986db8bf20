"""Who sees and changes which volume (Cinder's default policy).

Volumes and snapshots belong to a project. Members of the project see and
change them; readers only see them; admins see and change everything (a listing
shows only their own project's unless they ask for ``all_tenants``). A volume
of another project is answered as not found, never as forbidden, so its
existence is not disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.projections.volume import Snapshot, Volume, VolumeState
from cairn.volume.errors import NotFound


@dataclass(frozen=True, slots=True)
class Caller:
    project_id: str
    user_id: str
    is_admin: bool = False


def visible(caller: Caller, owned: Volume | Snapshot) -> bool:
    return caller.is_admin or owned.project_id == caller.project_id


def volume(state: VolumeState, caller: Caller, volume_id: str) -> Volume:
    found = state.volumes.get(volume_id)
    if found is None or not visible(caller, found):
        raise NotFound(f"Volume {volume_id} could not be found.")
    return found


def snapshot(state: VolumeState, caller: Caller, snapshot_id: str) -> Snapshot:
    found = state.snapshots.get(snapshot_id)
    if found is None or not visible(caller, found):
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    return found
