"""Block storage quotas: limits (defaults, overridden per project by admins) and usage.

Usage is counted from the project's volumes and snapshots in the deciding state
(a volume counts from its request until its deletion is folded; an extending
volume counts at its new size; snapshots count towards ``gigabytes`` as in
Cinder). A create or extend checks the limits with what it adds and appends the
new usage (:class:`~cairn.events.volume.VolumeQuotaUsed`) to the project's
``volquota-<project>`` stream at the version it saw, in the same append as its
request: two concurrent creates decided on the same usage cannot both commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.events import volume as ev
from cairn.projections.volume import VolumeState, quota_class_stream, quota_stream
from cairn.volume.errors import QuotaExceeded
from cairn.volume.writes import Writes

UNLIMITED = -1


@dataclass(frozen=True, slots=True)
class Usage:
    volumes: int = 0
    gigabytes: int = 0
    snapshots: int = 0


def backup_usage(state: VolumeState, project_id: str) -> tuple[int, int]:
    """The project's backups and their gigabytes."""
    mine = [b for b in state.backups.values() if b.project_id == project_id]
    return len(mine), sum(b.size for b in mine)


def take_backup(writes: Writes, defaults: dict[str, int], project_id: str, size: int) -> None:
    """One more backup of ``size`` GB, or :class:`QuotaExceeded` as Cinder words it; the
    check is on the project's quota stream, as a create's."""
    state = writes.state
    count, gigabytes = backup_usage(state, project_id)
    added = writes.taken.setdefault((project_id, "backups"), [0, 0, 0])
    count, gigabytes = count + added[0], gigabytes + added[1]
    limit = limits(state, defaults, project_id)
    if _over(limit["backup_gigabytes"], gigabytes + size):
        raise QuotaExceeded(
            "Requested backup exceeds allowed Backup gigabytes quota. Requested "
            f"{size}G, quota is {limit['backup_gigabytes']}G and {gigabytes}G has been consumed."
        )
    if _over(limit["backups"], count + 1):
        raise QuotaExceeded(f"Maximum number of backups allowed ({limit['backups']}) exceeded")
    added[0] += 1
    added[1] += size
    have = usage(state, project_id)
    writes.add(
        quota_stream(project_id),
        ev.VolumeQuotaUsed(
            project_id=project_id,
            volumes=have.volumes,
            gigabytes=have.gigabytes,
            snapshots=have.snapshots,
        ),
    )


def defaults_of(state: VolumeState, defaults: dict[str, int]) -> dict[str, int]:
    """Every project's defaults: the configured ones, as the ``default`` class changed them."""
    return {**defaults, **state.quota_classes.get("default", {})}


def limits(state: VolumeState, defaults: dict[str, int], project_id: str) -> dict[str, int]:
    return {**defaults_of(state, defaults), **state.quotas.get(project_id, {})}


def usage(state: VolumeState, project_id: str, volume_type: str | None = None) -> Usage:
    """The project's usage, or (``volume_type``: a type's name) its usage of that type."""
    volumes = [
        v
        for v in state.volumes.values()
        if v.project_id == project_id and volume_type in (None, v.volume_type)
    ]
    types = {v.id: v.volume_type for v in state.volumes.values()}
    snapshots = [
        s
        for s in state.snapshots.values()
        if s.project_id == project_id and volume_type in (None, types.get(s.volume_id))
    ]
    gigabytes = sum(max(v.size, v.new_size) for v in volumes) + sum(s.size for s in snapshots)
    return Usage(len(volumes), gigabytes, len(snapshots))


def take(
    writes: Writes,
    defaults: dict[str, int],
    project_id: str,
    *,
    volumes: int = 0,
    gigabytes: int = 0,
    snapshots: int = 0,
    volume_type: str | None = None,
) -> None:
    """Check that the project may add these (of ``volume_type``, against its
    per-type limits too), or raise :class:`QuotaExceeded` as Cinder words it;
    then record the usage after them on the quota stream."""
    state = writes.state
    have = _with(_counted(writes, project_id, None), writes.taken.get((project_id, "")))
    limit = limits(state, defaults, project_id)
    if volume_type is not None:
        typed = _with(
            _counted(writes, project_id, volume_type), writes.taken.get((project_id, volume_type))
        )
        for name, used, adding in (
            ("volumes", typed.volumes, volumes),
            ("gigabytes", typed.gigabytes, gigabytes),
            ("snapshots", typed.snapshots, snapshots),
        ):
            key = f"{name}_{volume_type}"
            if adding and _over(limit.get(key, UNLIMITED), used + adding):
                raise QuotaExceeded(
                    f"Requested {name} of type {volume_type} exceed the quota {key} "
                    f"({limit[key]}): {used} in use, {adding} more asked for."
                )
    per_volume = limit.get("per_volume_gigabytes", UNLIMITED)
    if volumes and per_volume != UNLIMITED and gigabytes > per_volume:
        raise QuotaExceeded(
            f"Requested volume size {gigabytes}G is larger than "
            f"maximum allowed limit {per_volume}G."
        )
    if gigabytes and _over(limit["gigabytes"], have.gigabytes + gigabytes):
        raise QuotaExceeded(
            "Requested volume or snapshot exceeds allowed "
            f"gigabytes quota. Requested {gigabytes}G, quota is {limit['gigabytes']}G and "
            f"{have.gigabytes}G has been consumed."
        )
    if volumes and _over(limit["volumes"], have.volumes + volumes):
        raise QuotaExceeded(
            f"Maximum number of volumes allowed ({limit['volumes']}) exceeded for quota 'volumes'."
        )
    if snapshots and _over(limit["snapshots"], have.snapshots + snapshots):
        raise QuotaExceeded(f"Maximum number of snapshots allowed ({limit['snapshots']}) exceeded")
    # what this append adds, for the decisions taken after this one in the same batch
    scopes = [(project_id, "")] + ([(project_id, volume_type)] if volume_type else [])
    for scope in scopes:
        added = writes.taken.setdefault(scope, [0, 0, 0])
        added[0] += volumes
        added[1] += gigabytes
        added[2] += snapshots
    writes.add(
        quota_stream(project_id),
        ev.VolumeQuotaUsed(
            project_id=project_id,
            volumes=have.volumes + volumes,
            gigabytes=have.gigabytes + gigabytes,
            snapshots=have.snapshots + snapshots,
        ),
    )


def _counted(writes: Writes, project_id: str, volume_type: str | None) -> Usage:
    """The state's usage, counted once per decision (a batch of creates asks often)."""
    key = (project_id, volume_type or "")
    found = writes.counted.get(key)
    if not isinstance(found, Usage):
        found = writes.counted[key] = usage(writes.state, project_id, volume_type)
    return found


def _with(used: Usage, added: list[int] | None) -> Usage:
    if not added:
        return used
    return Usage(used.volumes + added[0], used.gigabytes + added[1], used.snapshots + added[2])


def _over(limit: int, wanted: int) -> bool:
    return limit != UNLIMITED and wanted > limit


def set_limits(writes: Writes, project_id: str, changes: dict[str, int]) -> None:
    writes.add(quota_stream(project_id), ev.VolumeQuotaSet(project_id=project_id, limits=changes))


def set_class(writes: Writes, name: str, changes: dict[str, int]) -> None:
    writes.add(quota_class_stream(name), ev.VolumeQuotaClassSet(class_name=name, limits=changes))


def reset(writes: Writes, project_id: str) -> None:
    writes.add(quota_stream(project_id), ev.VolumeQuotaReset(project_id=project_id))
