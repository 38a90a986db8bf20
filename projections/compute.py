"""The compute projection: Nova's state folded from compute events.

One state (:mod:`.compute_state`) serves the compute API's reads, the deciders
(with the version of every compute stream it folded, for their expected
versions), the scheduler (hosts with their claims) and the deadline sweeper.
Times come from the events' ``recorded_at``, never from a clock, so a replay
rebuilds exactly this state. Servers are folded here; flavors, hosts, quota,
keypairs and groups in :mod:`.compute_resources`; host aggregates (and the
zone each host is in) in :mod:`.compute_aggregates`; resizes and migrations in
:mod:`.compute_migrations`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cairn.events import RecordedEvent
from cairn.events import compute as ev
from cairn.projections.compute_aggregates import AggregateFolds
from cairn.projections.compute_migrations import MigrationFolds
from cairn.projections.compute_resources import ResourceFolds
from cairn.projections.compute_shelve import ShelveFolds, unshelve_unplaced
from cairn.projections.compute_state import (
    ACTION_EVENT_NAMES,
    ACTION_TASK_STATES,
    DEFAULT_QUOTA,
    FLAVOR_STREAM,
    INSTANCE_ACTION_NAMES,
    ActionEvent,
    ComputeState,
    Fault,
    Flavor,
    Host,
    InstanceAction,
    Keypair,
    Server,
    ServerGroup,
    Usage,
)
from cairn.projections.compute_state import epoch as _epoch
from cairn.projections.compute_state import iso as _iso
from cairn.projections.compute_volumes import VolumeFolds
from cairn.projections.fold import Projection, handles

__all__ = [
    "ACTION_EVENT_NAMES", "ACTION_TASK_STATES", "DEFAULT_QUOTA", "FLAVOR_STREAM", "ActionEvent",
    "ComputeProjection", "ComputeState", "Fault", "Flavor", "Host", "InstanceAction", "Keypair",
    "Server", "ServerGroup", "Usage",
]  # fmt: skip


class ComputeProjection(
    ResourceFolds,
    AggregateFolds,
    VolumeFolds,
    ShelveFolds,
    MigrationFolds,
    Projection[ComputeState],
):
    name: ClassVar[str] = "compute"
    version: ClassVar[int] = 1
    state_type: ClassVar[Any] = ComputeState

    def initial(self) -> ComputeState:
        return ComputeState()

    def apply(self, state: ComputeState, event: RecordedEvent) -> ComputeState:
        state.versions[event.stream] = event.version
        return super().apply(state, event)

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _touch(server: Server, event: RecordedEvent) -> None:
        server.updated_at = _iso(event)
        server.position = event.position

    @staticmethod
    def _transition(
        s: ComputeState, server: Server, event: RecordedEvent, restart: bool = False
    ) -> None:
        """Track whether ``server`` is in a transitional state, and since when
        (``restart``: a new request starts its own deadline)."""
        if server.task_state is None or server.deleted:
            s.transitional.pop(server.id, None)
            server.pending_action = None
        else:
            if restart or server.id not in s.transitional:
                server.transition_since = _epoch(event)
            s.transitional[server.id] = None

    @staticmethod
    def _start_action(server: Server, event: RecordedEvent, action: str) -> None:
        meta = event.metadata
        when = _iso(event)
        step = ACTION_EVENT_NAMES.get(action)
        server.actions.append(
            InstanceAction(
                action=INSTANCE_ACTION_NAMES.get(action, action),
                request_id=meta.request_id or f"req-{event.id}",
                user_id=meta.user_id,
                project_id=meta.project_id,
                start_time=when,
                updated_at=when,
                events=[ActionEvent(event=step, start_time=when)] if step else [],
            )
        )

    @staticmethod
    def _finish_action(
        server: Server,
        event: RecordedEvent,
        action: str,
        result: str,
        host: str | None = None,
        details: str | None = None,
    ) -> None:
        shown = INSTANCE_ACTION_NAMES.get(action, action)
        for found in reversed(server.actions):
            if found.action == shown:
                when = _iso(event)
                found.updated_at = when
                if result == "Error":
                    found.message = "Error"
                for step in found.events:
                    if step.finish_time is None:
                        step.finish_time, step.result = when, result
                        step.host, step.details = host, details
                return

    # -- servers -------------------------------------------------------------------

    @handles("ServerCreateRequested")
    def _requested(self, s: ComputeState, e: RecordedEvent, d: ev.ServerCreateRequested) -> Any:
        when = _iso(e)
        server = Server(
            id=d.server_id, project_id=d.project_id, user_id=d.user_id, name=d.name,
            flavor=d.flavor, image=d.image, created_at=d.created_at or when, updated_at=when,
            description=d.description, key_name=d.key_name, user_data=d.user_data,
            metadata=dict(d.metadata), availability_zone=d.availability_zone,
            networks=list(d.networks), scheduler_hints=dict(d.scheduler_hints),
            reservation_id=d.reservation_id, launch_index=d.launch_index,
            requested_host=d.requested_host, position=e.position,
            security_groups=list(d.security_groups), config_drive=d.config_drive,
            access_ip_v4=d.access_ip_v4, access_ip_v6=d.access_ip_v6, tags=list(d.tags),
            boot_volumes=[dict(b) for b in d.block_devices],
        )  # fmt: skip
        s.servers[d.server_id] = server
        s.pending[d.server_id] = None
        for group_id in d.scheduler_hints.get("group", []):
            group = s.server_groups.get(group_id)
            if group is not None and d.server_id not in group.members:
                group.members.append(d.server_id)
        self._start_action(server, e, "create")
        self._transition(s, server, e)
        return s

    @handles("ServerScheduled")
    def _scheduled(self, s: ComputeState, e: RecordedEvent, d: ev.ServerScheduled) -> Any:
        server = s.servers.get(d.server_id)
        if server is None:
            return s
        s.pending.pop(d.server_id, None)
        server.host, server.attempt = d.host, d.attempt
        host = s.hosts.get(d.host)
        server.host_zone = host.availability_zone if host is not None else None
        server.tried_hosts = [*server.tried_hosts, d.host]
        server.task_state = "spawning"
        self._touch(server, e)
        return s

    @handles("ServerScheduleFailed")
    def _schedule_failed(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerScheduleFailed
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None:
            return s
        s.pending.pop(d.server_id, None)
        fault = Fault(d.fault_code, d.fault_message, d.fault_details, _iso(e))
        if unshelve_unplaced(server, e, fault):
            self._finish_action(server, e, "unshelve", "Error", details=d.fault_message)
            self._touch(server, e)
            self._transition(s, server, e)
            return s
        server.vm_state, server.task_state, server.host = "error", None, None
        server.fault = fault
        self._finish_action(server, e, "create", "Error", details=d.fault_message)
        self._touch(server, e)
        self._transition(s, server, e)
        return s

    @handles("ServerSpawnStarted")
    def _spawn_started(self, s: ComputeState, e: RecordedEvent, d: ev.ServerSpawnStarted) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None and server.vm_state == "building":
            server.task_state = "spawning"
            self._touch(server, e)
        return s

    @handles("ServerSpawned")
    def _spawned(self, s: ComputeState, e: RecordedEvent, d: ev.ServerSpawned) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        if server.task_state != "deleting":
            server.vm_state, server.task_state = "active", None
        server.power_state = 1
        server.host, server.launched_at = d.host, d.launched_at
        server.instance_name, server.console_log = d.instance_name, d.console_log
        server.addresses = dict(d.addresses)
        self._finish_action(server, e, "create", "Success", host=d.host)
        self._touch(server, e)
        self._transition(s, server, e)
        return s

    @handles("ServerSpawnFailed")
    def _spawn_failed(self, s: ComputeState, e: RecordedEvent, d: ev.ServerSpawnFailed) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted or server.host != d.host:
            return s
        server.host, server.host_zone = None, None
        server.last_failure, server.retryable = d.reason, d.retryable
        if server.task_state != "deleting":
            # Back to the scheduler, which tries another host or gives up.
            server.task_state = "scheduling"
            s.pending[d.server_id] = None
        self._touch(server, e)
        return s

    @handles("ServerUpdated")
    def _updated(self, s: ComputeState, e: RecordedEvent, d: ev.ServerUpdated) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None:
            server.name, server.description = d.name, d.description
            server.access_ip_v4, server.access_ip_v6 = d.access_ip_v4, d.access_ip_v6
            self._touch(server, e)
        return s

    @handles("ServerMetadataChanged")
    def _metadata(self, s: ComputeState, e: RecordedEvent, d: ev.ServerMetadataChanged) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None:
            server.metadata = dict(d.metadata)
            self._touch(server, e)
        return s

    @handles("ServerTagsChanged")
    def _tags(self, s: ComputeState, e: RecordedEvent, d: ev.ServerTagsChanged) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None:
            server.tags = list(d.tags)
            self._touch(server, e)
        return s

    @handles("ServerLocked")
    def _locked(self, s: ComputeState, e: RecordedEvent, d: ev.ServerLocked) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None:
            server.locked, server.locked_by, server.locked_reason = True, d.locked_by, d.reason
            self._start_action(server, e, "lock")
            self._touch(server, e)
        return s

    @handles("ServerStateReset")
    def _state_reset(self, s: ComputeState, e: RecordedEvent, d: ev.ServerStateReset) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        server.vm_state, server.task_state = d.vm_state, None
        s.pending.pop(d.server_id, None)  # a reset ends a wait for a host too
        self._end_migration(s, server, e, reset=True)  # and a resize
        self._touch(server, e)
        self._transition(s, server, e)
        return s

    @handles("ServerUnlocked")
    def _unlocked(self, s: ComputeState, e: RecordedEvent, d: ev.ServerUnlocked) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None:
            server.locked, server.locked_by, server.locked_reason = False, None, None
            self._start_action(server, e, "unlock")
            self._touch(server, e)
        return s

    @handles("ServerActionRequested")
    def _action(self, s: ComputeState, e: RecordedEvent, d: ev.ServerActionRequested) -> Any:
        server = s.servers.get(d.server_id)
        if server is None:
            return s
        key = "reboot_hard" if d.action == "reboot" and d.reboot_type == "HARD" else d.action
        server.task_state = ACTION_TASK_STATES.get(key, d.action)
        self._start_action(server, e, d.action)
        self._touch(server, e)
        self._transition(s, server, e, restart=True)
        server.pending_action = d.action
        if d.action == "attach_interface":
            server.pending_nic = dict(d.nic)
        server.pending_volume = dict(d.volume)
        return s

    @handles("ServerActionCompleted")
    def _action_done(self, s: ComputeState, e: RecordedEvent, d: ev.ServerActionCompleted) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        server.vm_state, server.power_state = d.vm_state, d.power_state
        if server.task_state != "deleting":
            server.task_state = None
        server.pending_nic, server.pending_volume = {}, {}
        if d.vm_state == "soft-delete":
            server.soft_deleted_at = _epoch(e)
        if d.action == "unshelve":  # a SHELVED server powered on: its image is gone
            server.shelved_image_id, server.shelved_at = None, 0.0
        self._finish_action(server, e, d.action, "Success", host=d.host)
        self._touch(server, e)
        self._transition(s, server, e)
        return s

    @handles("ServerActionFailed")
    def _action_failed(self, s: ComputeState, e: RecordedEvent, d: ev.ServerActionFailed) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        if server.task_state != "deleting":
            server.task_state = None
        if d.action == "attach_interface" and server.pending_nic:
            # The port made (or taken) for the hot-plug is let go again.
            server.dropped_nics = [*server.dropped_nics, server.pending_nic]
        server.pending_nic, server.pending_volume = {}, {}
        server.fault = Fault(500, d.reason, "", _iso(e))
        self._finish_action(server, e, d.action, "Error", host=d.host, details=d.reason)
        self._touch(server, e)
        self._transition(s, server, e)
        return s

    @handles("ServerRebuildRequested")
    def _rebuild_requested(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerRebuildRequested
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        # What the rebuild changes is the server's at once, as in Nova.
        server.image, server.name, server.metadata = d.image, d.name, dict(d.metadata)
        server.key_name, server.user_data = d.key_name, d.user_data
        server.description = d.description
        server.task_state = "rebuilding"
        self._start_action(server, e, "rebuild")
        self._touch(server, e)
        self._transition(s, server, e, restart=True)
        server.pending_action = "rebuild"
        return s

    @handles("ServerRebuilt")
    def _rebuilt(self, s: ComputeState, e: RecordedEvent, d: ev.ServerRebuilt) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        server.vm_state, server.power_state = d.vm_state, d.power_state
        if server.task_state != "deleting":
            server.task_state = None
        server.console_log = d.console_log or server.console_log
        self._finish_action(server, e, "rebuild", "Success", host=d.host)
        self._touch(server, e)
        self._transition(s, server, e)
        return s

    @handles("ServerInterfaceAttached")
    def _nic_attached(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerInterfaceAttached
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        port = d.nic.get("port")
        server.networks = [*(n for n in server.networks if n.get("port") != port), dict(d.nic)]
        addresses = {name: list(listed) for name, listed in server.addresses.items()}
        for name, listed in d.addresses.items():
            addresses.setdefault(name, []).extend(listed)
        server.addresses = addresses
        self._touch(server, e)
        return s

    @handles("ServerInterfaceDetached")
    def _nic_detached(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerInterfaceDetached
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        gone = [n for n in server.networks if n.get("port") == d.port_id]
        server.networks = [n for n in server.networks if n.get("port") != d.port_id]
        server.dropped_nics = [*server.dropped_nics, *gone]
        if d.mac:
            mac_key = "OS-EXT-IPS-MAC:mac_addr"
            kept = {
                name: [a for a in listed if a.get(mac_key) != d.mac]
                for name, listed in server.addresses.items()
            }
            server.addresses = {name: listed for name, listed in kept.items() if listed}
        self._touch(server, e)
        return s

    @handles("ServerPowerStateChanged")
    def _power(self, s: ComputeState, e: RecordedEvent, d: ev.ServerPowerStateChanged) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None and not server.deleted:
            server.vm_state, server.power_state = d.vm_state, d.power_state
            self._touch(server, e)
        return s

    @handles("ServerDeleteRequested")
    def _delete_requested(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerDeleteRequested
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        s.pending.pop(d.server_id, None)
        self._end_migration(s, server, e, reset=False)
        server.task_state = "deleting"
        self._start_action(server, e, "delete")
        self._touch(server, e)
        self._transition(s, server, e, restart=True)
        server.pending_action = "delete"
        return s

    @handles("ServerDeleted")
    def _deleted(self, s: ComputeState, e: RecordedEvent, d: ev.ServerDeleted) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        if not any(a.action == "delete" for a in server.actions):
            self._start_action(server, e, "delete")
        s.pending.pop(d.server_id, None)
        server.deleted, server.vm_state, server.task_state = True, "deleted", None
        server.power_state, server.terminated_at = 0, d.deleted_at
        self._finish_action(server, e, "delete", "Success", host=server.host)
        for group in s.server_groups.values():
            if d.server_id in group.members:
                group.members.remove(d.server_id)
        self._touch(server, e)
        self._transition(s, server, e)
        return s

    @handles("ServerErrored")
    def _errored(self, s: ComputeState, e: RecordedEvent, d: ev.ServerErrored) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        s.pending.pop(d.server_id, None)
        action = server.pending_action or ("create" if server.vm_state == "building" else None)
        server.vm_state, server.task_state = "error", None
        server.fault = Fault(d.fault_code, d.fault_message, d.fault_details, _iso(e))
        if action is not None:
            self._finish_action(server, e, action, "Error", details=d.fault_message)
        self._touch(server, e)
        self._transition(s, server, e)
        return s
