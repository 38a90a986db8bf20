"""The compute projection: Nova's state folded from compute events.

One state serves the compute API's reads, the deciders (with the version of
every compute stream it folded, for their expected versions), the scheduler
(hosts with their claims) and the deadline sweeper. Times come from the events'
``recorded_at``, never from a clock, so a replay rebuilds exactly this state.

Server states follow Nova's names: ``vm_state`` (building, active, stopped,
paused, suspended, error, deleted), ``task_state`` (scheduling, spawning,
powering-off, ..., deleting, or ``None``) and ``power_state`` codes (0 no state,
1 running, 3 paused, 4 shutdown, 7 suspended).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from cairn.events import RecordedEvent
from cairn.events import compute as ev
from cairn.projections.fold import Projection, handles

FLAVOR_STREAM = "computeflavors-catalog"
DEFAULT_QUOTA = "default"

#: task state while an action is in flight, by action (Nova's names)
ACTION_TASK_STATES: dict[str, str] = {
    "start": "powering-on",
    "stop": "powering-off",
    "reboot": "rebooting",
    "reboot_hard": "rebooting_hard",
    "pause": "pausing",
    "unpause": "unpausing",
    "suspend": "suspending",
    "resume": "resuming",
}
#: what os-instance-actions calls the compute step of each action
ACTION_EVENT_NAMES: dict[str, str] = {
    "create": "compute__do_build_and_run_instance",
    "delete": "compute_terminate_instance",
    "start": "compute_start_instance",
    "stop": "compute_stop_instance",
    "reboot": "compute_reboot_instance",
    "pause": "compute_pause_instance",
    "unpause": "compute_unpause_instance",
    "suspend": "compute_suspend_instance",
    "resume": "compute_resume_instance",
}


class Flavor(msgspec.Struct):
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None
    extra_specs: dict[str, str] = {}
    #: projects a private flavor is shared with
    projects: list[str] = []
    created_position: int = 0

    def snapshot(self) -> ev.FlavorSnapshot:
        return ev.FlavorSnapshot(
            flavor_id=self.id, name=self.name, vcpus=self.vcpus, ram_mb=self.ram_mb,
            disk_gb=self.disk_gb, ephemeral_gb=self.ephemeral_gb, swap_mb=self.swap_mb,
            extra_specs=dict(self.extra_specs),
        )  # fmt: skip


class Host(msgspec.Struct):
    host: str
    hypervisor_type: str
    hypervisor_version: int
    hypervisor_uri: str
    availability_zone: str
    capacity: ev.ResourceAmounts
    reserved: ev.ResourceAmounts
    cpu_allocation_ratio: float
    ram_allocation_ratio: float
    disk_allocation_ratio: float
    architecture: str
    heartbeat_interval: float
    #: when the agent last spoke (registration or heartbeat), epoch seconds
    last_seen: float
    stopped: bool = False
    enabled: bool = True
    disabled_reason: str | None = None
    #: server id -> what it holds on this host
    claims: dict[str, ev.ResourceAmounts] = {}
    used_vcpus: int = 0
    used_memory_mb: int = 0
    used_disk_gb: int = 0
    updated_at: str = ""

    def limit(self, resource: str) -> int:
        """What may be allocated of ``resource``: capacity x ratio - reserved."""
        capacity, reserved = self.capacity, self.reserved
        if resource == "vcpus":
            return int(capacity.vcpus * self.cpu_allocation_ratio) - reserved.vcpus
        if resource == "memory_mb":
            return int(capacity.memory_mb * self.ram_allocation_ratio) - reserved.memory_mb
        return int(capacity.disk_gb * self.disk_allocation_ratio) - reserved.disk_gb

    def is_up(self, now: float) -> bool:
        """Nova's service "up": heard from within three heartbeat periods."""
        return not self.stopped and now - self.last_seen <= 3 * self.heartbeat_interval


class Fault(msgspec.Struct):
    code: int
    message: str
    details: str
    created: str


class ActionEvent(msgspec.Struct):
    event: str
    start_time: str
    finish_time: str | None = None
    result: str | None = None
    host: str | None = None
    details: str | None = None


class InstanceAction(msgspec.Struct):
    action: str
    request_id: str
    user_id: str | None
    project_id: str | None
    start_time: str
    updated_at: str
    message: str | None = None
    events: list[ActionEvent] = []


class Server(msgspec.Struct):
    id: str
    project_id: str
    user_id: str
    name: str
    flavor: ev.FlavorSnapshot
    image: ev.ImageSnapshot
    created_at: str
    updated_at: str
    description: str | None = None
    key_name: str | None = None
    user_data: str | None = None
    metadata: dict[str, str] = {}
    availability_zone: str | None = None
    networks: list[dict[str, str]] = []
    scheduler_hints: dict[str, list[str]] = {}
    reservation_id: str = ""
    launch_index: int = 0
    requested_host: str | None = None
    vm_state: str = "building"
    task_state: str | None = "scheduling"
    power_state: int = 0
    host: str | None = None
    #: the availability zone of the host it runs on
    host_zone: str | None = None
    instance_name: str = ""
    launched_at: str | None = None
    terminated_at: str | None = None
    addresses: dict[str, list[dict[str, str | int]]] = {}
    console_log: str = ""
    locked: bool = False
    locked_by: str | None = None
    locked_reason: str | None = None
    fault: Fault | None = None
    #: the scheduling attempt in progress (1-based) and the hosts tried so far
    attempt: int = 1
    tried_hosts: list[str] = []
    #: why the last spawn failed, and whether another host might do better
    last_failure: str | None = None
    retryable: bool = True
    #: the action in flight (``reboot_hard``, ``delete``, ...), and since when
    pending_action: str | None = None
    #: epoch seconds the current transitional state began (deadline sweeper)
    transition_since: float = 0.0
    deleted: bool = False
    #: the position of the event that last changed the server
    position: int = 0
    actions: list[InstanceAction] = []

    @property
    def in_transition(self) -> bool:
        return self.task_state is not None


class Keypair(msgspec.Struct):
    user_id: str
    name: str
    public_key: str
    fingerprint: str
    key_type: str
    created_at: str


class ServerGroup(msgspec.Struct):
    id: str
    project_id: str
    user_id: str
    name: str
    policy: str
    rules: dict[str, int] = {}
    members: list[str] = []


class Usage(msgspec.Struct):
    """A project's consumed compute quota; ``servers`` maps each server to (cores, ram)."""

    instances: int = 0
    cores: int = 0
    ram_mb: int = 0
    servers: dict[str, tuple[int, int]] = {}


class ComputeState(msgspec.Struct):
    flavors: dict[str, Flavor] = {}
    hosts: dict[str, Host] = {}
    servers: dict[str, Server] = {}
    #: ids of servers waiting for the scheduler, in request order
    pending: dict[str, None] = {}
    #: ids of servers in a transitional state (for the deadline sweeper)
    transitional: dict[str, None] = {}
    usage: dict[str, Usage] = {}
    #: project id (or "default") -> resource -> limit
    quota_sets: dict[str, dict[str, int]] = {}
    #: user id -> name -> keypair
    keypairs: dict[str, dict[str, Keypair]] = {}
    server_groups: dict[str, ServerGroup] = {}
    #: stream -> version, for every stream this projection folded
    versions: dict[str, int] = {}


def _iso(event: RecordedEvent) -> str:
    """The event's time as Nova writes it: ``2026-11-21T12:00:00Z``."""
    return event.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(event: RecordedEvent) -> float:
    return event.recorded_at.timestamp()


class ComputeProjection(Projection[ComputeState]):
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
                action=action,
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
        for found in reversed(server.actions):
            if found.action == action:
                when = _iso(event)
                found.updated_at = when
                if result == "Error":
                    found.message = "Error"
                for step in found.events:
                    if step.finish_time is None:
                        step.finish_time, step.result = when, result
                        step.host, step.details = host, details
                return

    # -- flavors -------------------------------------------------------------------

    @handles("FlavorCreated")
    def _flavor_created(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorCreated) -> Any:
        s.flavors[d.flavor_id] = Flavor(
            id=d.flavor_id, name=d.name, vcpus=d.vcpus, ram_mb=d.ram_mb, disk_gb=d.disk_gb,
            ephemeral_gb=d.ephemeral_gb, swap_mb=d.swap_mb, rxtx_factor=d.rxtx_factor,
            is_public=d.is_public, description=d.description, created_position=e.position,
        )  # fmt: skip
        return s

    @handles("FlavorUpdated")
    def _flavor_updated(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorUpdated) -> Any:
        if d.flavor_id in s.flavors:
            s.flavors[d.flavor_id].description = d.description
        return s

    @handles("FlavorDeleted")
    def _flavor_deleted(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorDeleted) -> Any:
        s.flavors.pop(d.flavor_id, None)
        return s

    @handles("FlavorExtraSpecsChanged")
    def _specs(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorExtraSpecsChanged) -> Any:
        if d.flavor_id in s.flavors:
            s.flavors[d.flavor_id].extra_specs = dict(d.extra_specs)
        return s

    @handles("FlavorAccessAdded")
    def _access_added(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorAccessAdded) -> Any:
        flavor = s.flavors.get(d.flavor_id)
        if flavor is not None and d.project_id not in flavor.projects:
            flavor.projects = [*flavor.projects, d.project_id]
        return s

    @handles("FlavorAccessRemoved")
    def _access_removed(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorAccessRemoved) -> Any:
        flavor = s.flavors.get(d.flavor_id)
        if flavor is not None:
            flavor.projects = [p for p in flavor.projects if p != d.project_id]
        return s

    # -- hosts ---------------------------------------------------------------------

    @handles("ComputeHostRegistered")
    def _registered(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeHostRegistered) -> Any:
        old = s.hosts.get(d.host)
        host = Host(
            host=d.host, hypervisor_type=d.hypervisor_type,
            hypervisor_version=d.hypervisor_version, hypervisor_uri=d.hypervisor_uri,
            availability_zone=d.availability_zone, capacity=d.capacity, reserved=d.reserved,
            cpu_allocation_ratio=d.cpu_allocation_ratio,
            ram_allocation_ratio=d.ram_allocation_ratio,
            disk_allocation_ratio=d.disk_allocation_ratio, architecture=d.architecture,
            heartbeat_interval=d.heartbeat_interval, last_seen=_epoch(e), updated_at=_iso(e),
        )  # fmt: skip
        if old is not None:
            # A restarted agent keeps its claims and the operator's switch.
            host.claims, host.enabled, host.disabled_reason = (
                old.claims, old.enabled, old.disabled_reason,
            )  # fmt: skip
            host.used_vcpus, host.used_memory_mb, host.used_disk_gb = (
                old.used_vcpus, old.used_memory_mb, old.used_disk_gb,
            )  # fmt: skip
        s.hosts[d.host] = host
        return s

    @handles("ComputeHostHeartbeat")
    def _heartbeat(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeHostHeartbeat) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.last_seen, host.stopped, host.updated_at = _epoch(e), False, _iso(e)
        return s

    @handles("ComputeHostStopped")
    def _stopped(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeHostStopped) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.stopped, host.updated_at = True, _iso(e)
        return s

    @handles("ComputeServiceDisabled")
    def _disabled(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeServiceDisabled) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.enabled, host.disabled_reason, host.updated_at = False, d.reason or None, _iso(e)
        return s

    @handles("ComputeServiceEnabled")
    def _enabled(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeServiceEnabled) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.enabled, host.disabled_reason, host.updated_at = True, None, _iso(e)
        return s

    @handles("HostResourcesClaimed")
    def _claimed(self, s: ComputeState, e: RecordedEvent, d: ev.HostResourcesClaimed) -> Any:
        host = s.hosts.get(d.host)
        if host is not None and d.server_id not in host.claims:
            host.claims[d.server_id] = d.amounts
            host.used_vcpus += d.amounts.vcpus
            host.used_memory_mb += d.amounts.memory_mb
            host.used_disk_gb += d.amounts.disk_gb
        return s

    @handles("HostResourcesReleased")
    def _released(self, s: ComputeState, e: RecordedEvent, d: ev.HostResourcesReleased) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            amounts = host.claims.pop(d.server_id, None)
            if amounts is not None:
                host.used_vcpus -= amounts.vcpus
                host.used_memory_mb -= amounts.memory_mb
                host.used_disk_gb -= amounts.disk_gb
        return s

    # -- quota ---------------------------------------------------------------------

    @handles("ComputeQuotaConsumed")
    def _consumed(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeQuotaConsumed) -> Any:
        usage = s.usage.setdefault(d.project_id, Usage())
        if d.server_id not in usage.servers:
            usage.servers[d.server_id] = (d.cores, d.ram_mb)
            usage.instances += d.instances
            usage.cores += d.cores
            usage.ram_mb += d.ram_mb
        return s

    @handles("ComputeQuotaReleased")
    def _quota_released(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeQuotaReleased) -> Any:
        usage = s.usage.get(d.project_id)
        if usage is not None:
            held = usage.servers.pop(d.server_id, None)
            if held is not None:
                usage.instances -= 1
                usage.cores -= held[0]
                usage.ram_mb -= held[1]
        return s

    @handles("ComputeQuotaSetUpdated")
    def _quota_set(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeQuotaSetUpdated) -> Any:
        s.quota_sets.setdefault(d.project_id, {}).update(d.limits)
        return s

    @handles("ComputeQuotaSetDeleted")
    def _quota_unset(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeQuotaSetDeleted) -> Any:
        s.quota_sets.pop(d.project_id, None)
        return s

    # -- keypairs, server groups ---------------------------------------------------

    @handles("KeypairCreated")
    def _keypair(self, s: ComputeState, e: RecordedEvent, d: ev.KeypairCreated) -> Any:
        s.keypairs.setdefault(d.user_id, {})[d.name] = Keypair(
            user_id=d.user_id, name=d.name, public_key=d.public_key, fingerprint=d.fingerprint,
            key_type=d.key_type, created_at=d.created_at or _iso(e),
        )  # fmt: skip
        return s

    @handles("KeypairDeleted")
    def _keypair_deleted(self, s: ComputeState, e: RecordedEvent, d: ev.KeypairDeleted) -> Any:
        s.keypairs.get(d.user_id, {}).pop(d.name, None)
        return s

    @handles("ServerGroupCreated")
    def _group(self, s: ComputeState, e: RecordedEvent, d: ev.ServerGroupCreated) -> Any:
        s.server_groups[d.group_id] = ServerGroup(
            id=d.group_id, project_id=d.project_id, user_id=d.user_id, name=d.name,
            policy=d.policy, rules=dict(d.rules),
        )  # fmt: skip
        return s

    @handles("ServerGroupDeleted")
    def _group_deleted(self, s: ComputeState, e: RecordedEvent, d: ev.ServerGroupDeleted) -> Any:
        s.server_groups.pop(d.group_id, None)
        return s

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
        server.vm_state, server.task_state, server.host = "error", None, None
        server.fault = Fault(d.fault_code, d.fault_message, d.fault_details, _iso(e))
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
            self._touch(server, e)
        return s

    @handles("ServerMetadataChanged")
    def _metadata(self, s: ComputeState, e: RecordedEvent, d: ev.ServerMetadataChanged) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None:
            server.metadata = dict(d.metadata)
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
        return s

    @handles("ServerActionCompleted")
    def _action_done(self, s: ComputeState, e: RecordedEvent, d: ev.ServerActionCompleted) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        server.vm_state, server.power_state = d.vm_state, d.power_state
        if server.task_state != "deleting":
            server.task_state = None
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
        server.fault = Fault(500, d.reason, "", _iso(e))
        self._finish_action(server, e, d.action, "Error", host=d.host, details=d.reason)
        self._touch(server, e)
        self._transition(s, server, e)
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
