"""The compute projection's folds of resizes and cold migrations.

A mixin of :class:`~cairn.projections.compute.ComputeProjection`, as
:mod:`.compute_resources`: the server's status and task state as Nova shows
them through a resize (RESIZE with ``resize_prep`` .. ``resize_finish``, then
VERIFY_RESIZE; REVERT_RESIZE while reverting), its flavor (the new one from
VERIFY_RESIZE on, the old one again after a revert), the migration records of
``os-migrations``, the host's two claims while a resize is unsettled, and the
project's quota as the resize counts it.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from cairn.events import RecordedEvent
from cairn.events import compute_migration as mev
from cairn.projections.compute_state import ComputeState, Fault, Migration, Server
from cairn.projections.compute_state import epoch as _epoch
from cairn.projections.compute_state import iso as _iso
from cairn.projections.fold import handles

#: migration status once the agent reports each task state (Nova's)
_STATUS_BY_TASK = {
    "resize_migrating": "migrating",
    "resize_migrated": "post-migrating",
    "resize_finish": "post-migrating",
}


#: migration statuses of a resize that is over
_SETTLED = frozenset({"confirmed", "reverted", "error"})


class _ServerOps(Protocol):
    """The server helpers of the projection this mixin is part of."""

    def _touch(self, server: Server, event: RecordedEvent) -> None: ...

    def _transition(
        self, s: ComputeState, server: Server, event: RecordedEvent, restart: bool = False
    ) -> None: ...

    def _start_action(self, server: Server, event: RecordedEvent, action: str) -> None: ...

    def _finish_action(
        self,
        server: Server,
        event: RecordedEvent,
        action: str,
        result: str,
        host: str | None = None,
        details: str | None = None,
    ) -> None: ...


class MigrationFolds:
    def _ops(self) -> _ServerOps:
        return cast(_ServerOps, self)

    def _migration(
        self, s: ComputeState, e: RecordedEvent, server_id: str, migration_id: str
    ) -> tuple[Server, Migration] | None:
        server = s.servers.get(server_id)
        migration = s.migrations.get(migration_id)
        if server is None or server.deleted or migration is None:
            return None
        migration.updated_at = _iso(e)
        return server, migration

    def _end_migration(
        self, s: ComputeState, server: Server, e: RecordedEvent, reset: bool
    ) -> None:
        """A delete or an admin's reset ends the server's unsettled resize. A delete
        confirms one in VERIFY_RESIZE (Nova's ``_confirm_resize_on_deleting``); any
        other it ends leaves nothing to finish it: ``error``. A reset also ends the
        server's part in it (its claim and quota are settled in the same append)."""
        migration = s.migrations.get(server.migration_id) if server.migration_id else None
        if migration is None or migration.status in _SETTLED:
            return
        confirms = not reset and migration.status in ("finished", "confirming")
        migration.status, migration.updated_at = "confirmed" if confirms else "error", _iso(e)
        if reset:
            server.migration_id = None

    # -- the host's claims and the quota -------------------------------------------------

    @handles("HostClaimResized")
    def _claim_resized(self, s: ComputeState, e: RecordedEvent, d: mev.HostClaimResized) -> Any:
        host = s.hosts.get(d.host)
        if host is None or d.server_id in host.resize_held:
            return s
        old = host.claims.get(d.server_id)
        if old is not None:
            host.resize_held[d.server_id] = old
        host.claims[d.server_id] = d.amounts
        host.used_vcpus += d.amounts.vcpus
        host.used_memory_mb += d.amounts.memory_mb
        host.used_disk_gb += d.amounts.disk_gb
        return s

    @handles("HostClaimResizeSettled")
    def _claim_settled(
        self, s: ComputeState, e: RecordedEvent, d: mev.HostClaimResizeSettled
    ) -> Any:
        host = s.hosts.get(d.host)
        if host is None or d.server_id not in host.resize_held:
            return s
        old = host.resize_held.pop(d.server_id)
        dropped = old
        if d.kept == "old":
            dropped = host.claims.get(d.server_id, old)
            host.claims[d.server_id] = old
        host.used_vcpus -= dropped.vcpus
        host.used_memory_mb -= dropped.memory_mb
        host.used_disk_gb -= dropped.disk_gb
        return s

    @handles("ComputeQuotaResized")
    def _quota_resized(self, s: ComputeState, e: RecordedEvent, d: mev.ComputeQuotaResized) -> Any:
        usage = s.usage.get(d.project_id)
        if usage is None or d.server_id not in usage.servers:
            return s  # released already (deleted): nothing to count
        cores, ram_mb = usage.servers[d.server_id]
        usage.servers[d.server_id] = (d.cores, d.ram_mb)
        usage.cores += d.cores - cores
        usage.ram_mb += d.ram_mb - ram_mb
        return s

    # -- the server ----------------------------------------------------------------------

    @handles("ServerResizeRequested")
    def _resize_requested(
        self, s: ComputeState, e: RecordedEvent, d: mev.ServerResizeRequested
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        when = _iso(e)
        s.migrations[d.migration_id] = Migration(
            uuid=d.migration_id, id=e.position, server_id=d.server_id,
            project_id=server.project_id, user_id=e.metadata.user_id,
            migration_type=d.migration_type, source_host=d.host, dest_host=d.dest_host,
            old_flavor=d.old_flavor, new_flavor=d.new_flavor, status="pre-migrating",
            created_at=when, updated_at=when, vm_state=d.vm_state, position=e.position,
        )  # fmt: skip
        action = "migrate" if d.migration_type == "migration" else "resize"
        ops = self._ops()
        server.task_state, server.migration_id = "resize_prep", d.migration_id
        ops._start_action(server, e, action)
        ops._touch(server, e)
        ops._transition(s, server, e, restart=True)
        server.pending_action = action
        return s

    @handles("ServerResizeProgressed")
    def _resize_progressed(
        self, s: ComputeState, e: RecordedEvent, d: mev.ServerResizeProgressed
    ) -> Any:
        found = self._migration(s, e, d.server_id, d.migration_id)
        if found is None or found[0].migration_id != d.migration_id:
            return s
        server, migration = found
        server.task_state = d.task_state
        migration.status = _STATUS_BY_TASK.get(d.task_state, migration.status)
        self._ops()._touch(server, e)
        return s

    @handles("ServerResized")
    def _resized(self, s: ComputeState, e: RecordedEvent, d: mev.ServerResized) -> Any:
        found = self._migration(s, e, d.server_id, d.migration_id)
        if found is None or found[0].migration_id != d.migration_id:
            return s
        server, migration = found
        ops = self._ops()
        server.vm_state, server.task_state, server.power_state = "resized", None, d.power_state
        server.flavor = migration.new_flavor
        migration.status, migration.finished_at = "finished", _epoch(e)
        ops._finish_action(server, e, server.pending_action or "resize", "Success", host=d.host)
        ops._touch(server, e)
        ops._transition(s, server, e)
        return s

    @handles("ServerResizeFailed")
    def _resize_failed(self, s: ComputeState, e: RecordedEvent, d: mev.ServerResizeFailed) -> Any:
        found = self._migration(s, e, d.server_id, d.migration_id)
        if found is None or found[0].migration_id != d.migration_id:
            return s
        server, migration = found
        ops = self._ops()
        action = "migrate" if migration.migration_type == "migration" else "resize"
        server.vm_state, server.task_state, server.power_state = d.vm_state, None, d.power_state
        server.flavor, server.migration_id = migration.old_flavor, None
        server.fault = Fault(500, d.reason, "", _iso(e))
        migration.status = "error"
        ops._finish_action(server, e, action, "Error", host=d.host, details=d.reason)
        ops._touch(server, e)
        ops._transition(s, server, e)
        return s

    @handles("ServerResizeConfirmRequested")
    def _confirm_requested(
        self, s: ComputeState, e: RecordedEvent, d: mev.ServerResizeConfirmRequested
    ) -> Any:
        found = self._migration(s, e, d.server_id, d.migration_id)
        if found is None:
            return s
        server, migration = found
        # As Nova: the server stays VERIFY_RESIZE (no task state) while its
        # migration is "confirming".
        migration.status = "confirming"
        self._ops()._start_action(server, e, "confirmResize")
        self._ops()._touch(server, e)
        return s

    @handles("ServerResizeConfirmed")
    def _confirmed(self, s: ComputeState, e: RecordedEvent, d: mev.ServerResizeConfirmed) -> Any:
        found = self._migration(s, e, d.server_id, d.migration_id)
        if found is None:
            return s
        server, migration = found
        ops = self._ops()
        migration.status = "confirmed"
        if server.migration_id == d.migration_id:
            server.vm_state, server.power_state = d.vm_state, d.power_state
            server.task_state, server.migration_id = None, None
        ops._finish_action(server, e, "confirmResize", "Success", host=d.host)
        ops._touch(server, e)
        ops._transition(s, server, e)
        return s

    @handles("ServerResizeRevertRequested")
    def _revert_requested(
        self, s: ComputeState, e: RecordedEvent, d: mev.ServerResizeRevertRequested
    ) -> Any:
        found = self._migration(s, e, d.server_id, d.migration_id)
        if found is None:
            return s
        server, migration = found
        ops = self._ops()
        migration.status = "reverting"
        server.task_state = "resize_reverting"
        ops._start_action(server, e, "revertResize")
        ops._touch(server, e)
        ops._transition(s, server, e, restart=True)
        server.pending_action = "revertResize"
        return s

    @handles("ServerResizeReverted")
    def _reverted(self, s: ComputeState, e: RecordedEvent, d: mev.ServerResizeReverted) -> Any:
        found = self._migration(s, e, d.server_id, d.migration_id)
        if found is None:
            return s
        server, migration = found
        ops = self._ops()
        migration.status = "reverted"
        server.vm_state, server.power_state = d.vm_state, d.power_state
        server.task_state, server.migration_id = None, None
        server.flavor = migration.old_flavor
        ops._finish_action(server, e, "revertResize", "Success", host=d.host)
        ops._touch(server, e)
        ops._transition(s, server, e)
        return s
