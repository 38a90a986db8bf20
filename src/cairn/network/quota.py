"""Networking quotas: limits (defaults, overridden per project by admins) and usage.

Usage is counted from the resources a project owns, as the deciders' plan sees
them (the state plus what the same command creates); a create checks the limit
and records the new usage on the project's ``netquota-<project>`` stream at the
version it saw (:meth:`cairn.network.plan.Plan.record_usage`), so concurrent
creates of one project are decided one after the other and never overbook.
"""

from __future__ import annotations

from cairn.events import network as ev
from cairn.network.errors import QuotaExceeded
from cairn.network.plan import Plan
from cairn.projections.network import NetworkState, quota_stream

UNLIMITED = -1
#: the quota names Neutron's API uses, and the resource kind each counts
RESOURCES = {
    "network": "network",
    "subnet": "subnet",
    "port": "port",
    "router": "router",
    "floatingip": "floatingip",
    "security_group": "security_group",
    "security_group_rule": "security_group_rule",
    "subnetpool": "subnetpool",
}


def limits(state: NetworkState, defaults: dict[str, int], project_id: str) -> dict[str, int]:
    return {**defaults, **state.quotas.get(project_id, {})}


def used(state: NetworkState, project_id: str) -> dict[str, int]:
    counts = dict.fromkeys(RESOURCES, 0)
    for name, kind in RESOURCES.items():
        counts[name] = sum(1 for r in state.of(kind).values() if r.project_id == project_id)
    return counts


def take(plan: Plan, defaults: dict[str, int], project_id: str, kind: str) -> None:
    """Count the project's ``kind`` with what ``plan`` created, or raise
    :class:`QuotaExceeded` as Neutron words it."""
    if not project_id or kind not in RESOURCES:
        return
    limit = limits(plan.state, defaults, project_id).get(kind, UNLIMITED)
    have = plan.count(project_id, kind)
    if limit != UNLIMITED and have > limit:
        raise QuotaExceeded(f"Quota exceeded for resources: ['{kind}'].")
    plan.record_usage(project_id, kind)


def admit(plan: Plan, defaults: dict[str, int], project_id: str, kind: str) -> None:
    """Raise :class:`QuotaExceeded` unless the project may have one more ``kind``
    (checked before the create, so a refusal changes nothing)."""
    if not project_id or kind not in RESOURCES:
        return
    limit = limits(plan.state, defaults, project_id).get(kind, UNLIMITED)
    if limit != UNLIMITED and plan.count(project_id, kind) + 1 > limit:
        raise QuotaExceeded(f"Quota exceeded for resources: ['{kind}'].")


def set_limits(plan: Plan, project_id: str, changes: dict[str, int]) -> None:
    plan.add(quota_stream(project_id), ev.NetworkQuotaSet(project_id=project_id, limits=changes))


def reset(plan: Plan, project_id: str) -> None:
    plan.add(quota_stream(project_id), ev.NetworkQuotaReset(project_id=project_id))
