"""Reclaiming soft-deleted servers once ``reclaim_interval`` has passed.

With a reclaim interval (Nova's ``reclaim_instance_interval``), deleting a
server stops its guest and keeps it SOFT_DELETED, so ``restore`` can bring it
back; its quota and its host's resources stay taken meanwhile, as in Nova. The
reclaimer follows the compute read model and asks for the real delete of each
server soft-deleted longer than the interval (a force delete: the same path a
user's ``forceDelete`` takes). Asking twice is harmless: the delete decider
does nothing for a server already deleting, so several API processes may run
it side by side.
"""

from __future__ import annotations

from collections.abc import Callable

from cairn.compute import servers
from cairn.compute.decide import Writes
from cairn.events import Metadata
from cairn.projections.compute import ComputeState

RECLAIMER = Metadata(user_id="cairn-reclaimer", request_id="cairn-reclaim")


def due(state: ComputeState, interval: float, now: float) -> list[str]:
    """The servers soft-deleted more than ``interval`` seconds ago, not yet deleting."""
    return [
        s.id
        for s in state.servers.values()
        if s.vm_state == "soft-delete"
        and not s.deleted
        and s.task_state is None
        and now - s.soft_deleted_at >= interval
    ]


def reclaim(server_id: str, now: float, deleted_at: str) -> Callable[[ComputeState], Writes]:
    def decide(state: ComputeState) -> Writes:
        server = state.servers.get(server_id)
        if server is None or server.deleted or server.vm_state != "soft-delete":
            return []
        return servers.delete(
            state, RECLAIMER, server, is_admin=True, force=True, now=now, deleted_at=deleted_at
        )

    return decide
