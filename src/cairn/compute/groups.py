"""Server group deciders: create (within the ``server_groups`` quota) and delete."""

from __future__ import annotations

from cairn.compute import quota
from cairn.compute.decide import Writes, new_stream, write
from cairn.compute.errors import Invalid, NotFound, QuotaExceeded
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, ServerGroup

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def group_stream(group_id: str) -> str:
    return f"servergroup-{group_id}"


def find(state: ComputeState, group_id: str, project_id: str | None) -> ServerGroup:
    group = state.server_groups.get(group_id)
    if group is None or (project_id is not None and group.project_id != project_id):
        raise NotFound(f"Instance group {group_id} could not be found.")
    return group


def create(state: ComputeState, meta: Metadata, d: ev.ServerGroupCreated) -> Writes:
    if d.policy not in POLICIES:
        raise Invalid(f"Invalid input for field/attribute policy. Value: {d.policy}.")
    limit = quota.limits(state, d.project_id)["server_groups"]
    used = quota.in_use(state, d.project_id)["server_groups"]
    if limit != quota.UNLIMITED and used + 1 > limit:
        raise QuotaExceeded("Quota exceeded, too many server groups.", ("server_groups",))
    # Counted from the projection: two groups created at the same instant may
    # both pass a limit that has room for one (Nova's recheck has the same gap).
    return [new_stream(group_stream(d.group_id), [d], meta)]


def delete(state: ComputeState, meta: Metadata, group: ServerGroup) -> Writes:
    event = ev.ServerGroupDeleted(group_id=group.id)
    return [write(state, group_stream(group.id), [event], meta)]
