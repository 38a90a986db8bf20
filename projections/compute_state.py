"""The compute read model's state: the values the compute projection folds into.

Server states follow Nova's names: ``vm_state`` (building, active, stopped,
paused, suspended, error, deleted), ``task_state`` (scheduling, spawning,
powering-off, ..., deleting, or ``None``) and ``power_state`` codes (0 no state,
1 running, 3 paused, 4 shutdown, 7 suspended).
"""

from __future__ import annotations

import msgspec

from cairn.events import RecordedEvent
from cairn.events import compute as ev

FLAVOR_STREAM = "computeflavors-catalog"
AGGREGATE_STREAM = "computeaggregates-catalog"
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
    "soft_delete": "soft-deleting",
    "restore": "restoring",
    "createImage": "image_snapshot",
    "shelve": "shelving",
    "shelveOffload": "shelving_offloading",
    "unshelve": "unshelving",
    "rescue": "rescuing",
    "unrescue": "unrescuing",
    "changePassword": "updating_password",
}
#: instance action names of resizes and migrations (os-instance-actions)
RESIZE_ACTIONS = ("resize", "migrate", "confirmResize", "revertResize")
#: what os-instance-actions calls an action, where Nova's name is not the action's own
#: (a soft delete is Nova's ``delete``)
INSTANCE_ACTION_NAMES: dict[str, str] = {"soft_delete": "delete"}
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
    "attach_interface": "compute_attach_interface",
    "detach_interface": "compute_detach_interface",
    "attach_volume": "compute_attach_volume",
    "detach_volume": "compute_detach_volume",
    "createImage": "compute_snapshot_instance",
    "rebuild": "compute_rebuild_instance",
    "trigger_crash_dump": "compute_trigger_crash_dump",
    "soft_delete": "compute_soft_delete_instance",
    "restore": "compute_restore_instance",
    "shelve": "compute_shelve_instance",
    "shelveOffload": "compute_shelve_offload_instance",
    "unshelve": "compute_unshelve_instance",
    "rescue": "compute_rescue_instance",
    "unrescue": "compute_unrescue_instance",
    "changePassword": "compute_set_admin_password",
    "resize": "compute_prep_resize",
    "migrate": "compute_prep_resize",
    "confirmResize": "compute_confirm_resize",
    "revertResize": "compute_revert_resize",
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
    #: what the host's hypervisor driver can do beyond the basics (``hot-plug``, ...)
    capabilities: list[str] = []
    #: server id -> what it holds on this host
    claims: dict[str, ev.ResourceAmounts] = {}
    used_vcpus: int = 0
    used_memory_mb: int = 0
    used_disk_gb: int = 0
    updated_at: str = ""
    #: the zone the agent registered with; ``availability_zone`` is the host's
    #: zone in effect: its aggregate's, where one names a zone (Nova's rule)
    agent_zone: str = ""
    #: what the agent last said of the host itself (see ComputeHostRegistered)
    host_ip: str = ""
    booted_at: float = 0.0
    #: where the host's serial consoles are served ("" : nowhere)
    serial_console_url: str = ""
    load_average: list[float] = []
    #: an operator's "this host is down" (Nova's forced_down)
    forced_down: bool = False
    #: server id -> the claim it held before a resize on this host, kept (and
    #: counted in the usage) until the resize is confirmed or reverted
    resize_held: dict[str, ev.ResourceAmounts] = {}

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
        return (
            not self.stopped
            and not self.forced_down
            and now - self.last_seen <= 3 * self.heartbeat_interval
        )


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
    #: the server's NICs now: the boot's, then hot-plugged ones added and unplugged ones removed
    networks: list[dict[str, str]] = []
    #: NICs the server let go of while it lives (unplugged, or a failed hot-plug),
    #: in order: the port reaper releases their ports
    dropped_nics: list[dict[str, str]] = []
    #: the NIC an ``attach_interface`` action in flight plugs
    pending_nic: dict[str, str] = {}
    #: the volume entry an ``attach_volume`` / ``detach_volume`` action in flight is about
    pending_volume: dict[str, str] = {}
    #: the volumes in the server, in the order they were attached (volume entries,
    #: :mod:`cairn.events.compute_volumes`)
    volumes: list[dict[str, str]] = []
    #: the volumes the boot asked for (its ``block_devices`` entries), attached or not
    boot_volumes: list[dict[str, str]] = []
    #: the security groups (names) the boot asked for
    security_groups: list[str] = []
    config_drive: bool = False
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
    #: epoch seconds the server became SOFT_DELETED (the reclaimer's clock)
    soft_deleted_at: float = 0.0
    deleted: bool = False
    #: the position of the event that last changed the server
    position: int = 0
    actions: list[InstanceAction] = []
    #: Nova's server tags (2.26+), in the order they were given
    tags: list[str] = []
    #: what the user says the server is reached at (``accessIPv4``/``accessIPv6``)
    access_ip_v4: str = ""
    access_ip_v6: str = ""
    #: the image a shelved server's disk is in, and since when it is SHELVED
    #: (epoch seconds: the offloader's clock)
    shelved_image_id: str | None = None
    shelved_at: float = 0.0
    #: the resize or migration under way or waiting to be confirmed, if any
    migration_id: str | None = None

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


class Aggregate(msgspec.Struct):
    id: int
    uuid: str
    name: str
    created_at: str
    updated_at: str | None = None
    hosts: list[str] = []
    #: Nova keeps the aggregate's zone in its metadata, as ``availability_zone``
    metadata: dict[str, str] = {}

    @property
    def availability_zone(self) -> str | None:
        return self.metadata.get("availability_zone")


class Migration(msgspec.Struct):
    """One resize or cold migration (Nova's migration record)."""

    uuid: str
    #: Nova's integer id: the global position of the request
    id: int
    server_id: str
    project_id: str
    user_id: str | None
    #: ``resize`` or ``migration``
    migration_type: str
    source_host: str
    dest_host: str
    old_flavor: ev.FlavorSnapshot
    new_flavor: ev.FlavorSnapshot
    #: Nova's statuses: pre-migrating, migrating, post-migrating, finished,
    #: confirming, confirmed, reverting, reverted, error
    status: str
    created_at: str
    updated_at: str
    #: epoch seconds the resize reached VERIFY_RESIZE (the auto-confirm's clock)
    finished_at: float = 0.0
    #: the vm_state the server returns to (``active`` or ``stopped``)
    vm_state: str = "active"
    position: int = 0


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
    #: aggregate id (as text) -> host aggregate
    aggregates: dict[str, Aggregate] = {}
    #: the last aggregate id given (ids are never reused, as Nova's)
    last_aggregate_id: int = 0
    #: stream -> version, for every stream this projection folded
    versions: dict[str, int] = {}
    #: migration uuid -> resize or cold migration, in request order
    migrations: dict[str, Migration] = {}


def iso(event: RecordedEvent) -> str:
    """The event's time as Nova writes it: ``2026-11-21T12:00:00Z``."""
    return event.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(event: RecordedEvent) -> float:
    return event.recorded_at.timestamp()


def server_hostname(server: Server) -> str:
    """Nova's sanitized hostname from the display name (what the API shows as
    ``OS-EXT-SRV-ATTR:hostname`` and the metadata service tells the guest)."""
    return hostname_of(server.name, server.id)


def hostname_of(name: str, server_id: str) -> str:
    """The hostname rule of :func:`server_hostname`, for a name and id (the compute
    agent's config drive has the boot request, not the read model)."""
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower())
    return cleaned.strip("-")[:63] or f"server-{server_id}"
