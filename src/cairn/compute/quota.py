"""Compute quota: limits (Nova's defaults, overridable per project) and usage.

A project's limit for a resource is, in order: its own quota set, the
``default`` quota set an admin changed, Nova's default (:data:`DEFAULT_LIMITS`).
-1 means unlimited. Usage of ``instances``, ``cores`` and ``ram`` is what the
project's ``computequota-<project>`` stream consumed and did not release; the
others (``key_pairs``, ``server_groups``, ...) are counted from the state.
"""

from __future__ import annotations

from collections.abc import Mapping

from cairn.compute.errors import QuotaExceeded
from cairn.events.compute import quota_stream as quota_stream  # one definition, re-exported
from cairn.projections.compute import DEFAULT_QUOTA, ComputeState, Usage

UNLIMITED = -1

#: Nova's defaults ([quota] section of nova.conf).
DEFAULT_LIMITS: Mapping[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "metadata_items": 128,
    "key_pairs": 100,
    "server_groups": 10,
    "server_group_members": 10,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
}
#: Resources a quota set may name.
RESOURCES = tuple(DEFAULT_LIMITS)


def quota_set_stream(project_id: str) -> str:
    return f"computequotaset-{project_id}"


def defaults(state: ComputeState) -> dict[str, int]:
    return {**DEFAULT_LIMITS, **state.quota_sets.get(DEFAULT_QUOTA, {})}


def limits(state: ComputeState, project_id: str) -> dict[str, int]:
    """Every resource's limit for ``project_id``."""
    return {**defaults(state), **state.quota_sets.get(project_id, {})}


def usage(state: ComputeState, project_id: str, pending: Usage | None = None) -> Usage:
    """What ``project_id`` consumed, plus ``pending`` (boots decided in the same
    append but not yet folded)."""
    found = state.usage.get(project_id) or Usage()
    if pending is None:
        return found
    return Usage(
        instances=found.instances + pending.instances,
        cores=found.cores + pending.cores,
        ram_mb=found.ram_mb + pending.ram_mb,
    )


def in_use(state: ComputeState, project_id: str, user_id: str | None = None) -> dict[str, int]:
    """What ``project_id`` uses of each resource (key pairs: ``user_id``'s)."""
    used = usage(state, project_id)
    groups = sum(1 for g in state.server_groups.values() if g.project_id == project_id)
    return {
        "instances": used.instances,
        "cores": used.cores,
        "ram": used.ram_mb,
        "key_pairs": len(state.keypairs.get(user_id or "", {})),
        "server_groups": groups,
        "metadata_items": 0,
        "server_group_members": 0,
        "injected_files": 0,
        "injected_file_content_bytes": 0,
        "injected_file_path_bytes": 0,
    }


def headroom(
    state: ComputeState, project_id: str, cores: int, ram_mb: int, pending: Usage | None = None
) -> int:
    """How many more servers of ``cores`` and ``ram_mb`` the project may have
    (a large number when unlimited)."""
    limit, used = limits(state, project_id), usage(state, project_id, pending)
    room = 1 << 30
    for resource, have, each in (
        ("instances", used.instances, 1),
        ("cores", used.cores, cores),
        ("ram", used.ram_mb, ram_mb),
    ):
        if limit[resource] == UNLIMITED or each == 0:
            continue
        room = min(room, max(0, (limit[resource] - have) // each))
    return room


def check_servers(
    state: ComputeState,
    project_id: str,
    wanted: int,
    cores: int,
    ram_mb: int,
    pending: Usage | None = None,
) -> None:
    """Raise :class:`QuotaExceeded`, worded as Nova words it, when ``wanted``
    servers of this size do not fit."""
    limit, used = limits(state, project_id), usage(state, project_id, pending)
    over = [
        resource
        for resource, have, each in (
            ("instances", used.instances, 1),
            ("cores", used.cores, cores),
            ("ram", used.ram_mb, ram_mb),
        )
        if limit[resource] != UNLIMITED and have + wanted * each > limit[resource]
    ]
    if over:
        names = ", ".join(over)
        requested = {"instances": wanted, "cores": wanted * cores, "ram": wanted * ram_mb}
        used_now = {"instances": used.instances, "cores": used.cores, "ram": used.ram_mb}
        first = over[0]
        raise QuotaExceeded(
            f"Quota exceeded for {names}: Requested {requested[first]}, but already used "
            f"{used_now[first]} of {limit[first]} {first}",
            tuple(over),
        )
