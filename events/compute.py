"""Compute events (Nova v2.1): hosts and their claims, servers and their actions.

This module is the contract between the control plane (API, quota and
scheduler, in ``cairn.compute`` and ``cairn.api.compute``) and the compute
agents (``agents/compute``). The control plane appends requests and
decisions; an agent appends what really happened on its hypervisor.

Streams:

- ``computehost-<host>``: one compute host. Its agent registers it and reports
  its capacity; the scheduler appends every claim on it *with the version it
  saw*, so two concurrent boots can never both take the last free resources.
  Claims are released by whoever ends the server's life on that host.
- ``server-<server id>``: one server, from the boot request to its deletion.
- ``computequota-<project id>``: the project's compute usage. A boot request
  is appended together with its :class:`ComputeQuotaConsumed`, with the
  version the quota check saw, so concurrent boots never exceed a quota.
  Further compute streams (flavors, keypairs, quota sets, server groups,
  services) are the control plane's own and live in this module too:
- ``computeflavors-catalog``: every flavor, its extra specs and access list (one
  stream, so a flavor name or id is claimed race-free).
- ``keypairs-<user id>``: one user's keypairs (names are unique per user).
- ``computequotaset-<project id>`` and ``computequotaset-default``: quota limits
  set by an admin for one project, and the defaults for every project.
- ``servergroup-<group id>``: one server group.
- ``computeaggregates-catalog``: every host aggregate (one stream, so names
  and the integer ids Nova gives aggregates are claimed race-free).

How work flows (``request id`` and ``user``/``project`` travel in each event's
metadata; ``causation_id`` links a result to the request it answers):

1. API: :class:`ServerCreateRequested` (server stream, new) +
   :class:`ComputeQuotaConsumed` (quota stream, expected version): BUILD/scheduling.
2. Scheduler: :class:`HostResourcesClaimed` (host stream, expected version) +
   :class:`ServerScheduled` (server stream): BUILD/spawning, on ``host``.
   Or :class:`ServerScheduleFailed`: ERROR with a NoValidHost fault.
3. Agent of ``host``: :class:`ServerSpawned` (ACTIVE) or :class:`ServerSpawnFailed`
   (with :class:`HostResourcesReleased`); the scheduler then claims another
   host (``attempt`` + 1) up to its retry limit, or fails the server (ERROR).
4. API: :class:`ServerActionRequested` (start, stop, reboot, ...) sets the task
   state; the agent answers :class:`ServerActionCompleted` or
   :class:`ServerActionFailed`. A guest changing state by itself (it powered
   off) is :class:`ServerPowerStateChanged`.
5. API: :class:`ServerDeleteRequested`; the agent destroys the guest and appends
   :class:`ServerDeleted` + :class:`HostResourcesReleased` +
   :class:`ComputeQuotaReleased` in one append. A server on no host (never
   scheduled, or failed) is deleted by the API directly, with its quota release.
"""

from __future__ import annotations

from cairn.events.envelope import stream_name
from cairn.events.registry import DomainEvent, registry

# -- values carried in events ---------------------------------------------------------


class FlavorSnapshot(DomainEvent, frozen=True):
    """The flavor as it was when the server was requested (Nova embeds it too:
    a flavor changed or deleted later does not change existing servers)."""

    flavor_id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    extra_specs: dict[str, str] = {}


class ImageSnapshot(DomainEvent, frozen=True):
    """What the boot needs of its image, read from the image service at request time."""

    image_id: str
    name: str = ""
    disk_format: str = ""
    min_disk_gb: int = 0
    min_ram_mb: int = 0
    #: The image's properties (``kernel_id``, ``ramdisk_id``, ``os_command_line``,
    #: ``architecture``, ``hypervisor_type``, ...).
    properties: dict[str, str] = {}


class ResourceAmounts(DomainEvent, frozen=True):
    """An amount of each resource class a claim or a quota counts."""

    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0


# -- compute hosts ---------------------------------------------------------------------


@registry.event
class ComputeHostRegistered(DomainEvent, frozen=True):
    """An agent started (or restarted) on ``host`` and reports what it offers.

    Capacity is the hypervisor's; what may be allocated is capacity times the
    allocation ratio, minus ``reserved``."""

    host: str
    hypervisor_type: str
    hypervisor_version: int
    hypervisor_uri: str
    availability_zone: str
    capacity: ResourceAmounts
    reserved: ResourceAmounts = ResourceAmounts()
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    architecture: str = "x86_64"
    #: The agent's heartbeat period (seconds): the host is "down" once it has
    #: been silent (no registration or heartbeat) for three of them.
    heartbeat_interval: float = 30.0
    #: What its hypervisor driver can do beyond the basics (``hot-plug``, ...).
    capabilities: list[str] = []
    #: The host's own address (the source address of its default route), and
    #: when the host booted (epoch seconds; 0: not known): Nova's ``host_ip``
    #: and the start of its ``uptime``.
    host_ip: str = ""
    booted_at: float = 0.0
    #: Where this host's serial consoles are served (a ``ws://`` URL a token is
    #: added to; empty: none), as Nova's ``[serial_console] base_url``.
    serial_console_url: str = ""


@registry.event
class ComputeHostHeartbeat(DomainEvent, frozen=True):
    """The agent of ``host`` is alive (appended every ``heartbeat_interval``)."""

    host: str
    #: The host's 1, 5 and 15 minute load averages when it beat (empty: not known).
    load_average: list[float] = []


@registry.event
class ComputeHostStopped(DomainEvent, frozen=True):
    """The agent of ``host`` shut down cleanly: the host is down until it registers again."""

    host: str


@registry.event
class ComputeServiceDisabled(DomainEvent, frozen=True):
    """An operator disabled the host's compute service: the scheduler skips it."""

    host: str
    reason: str = ""


@registry.event
class ComputeServiceEnabled(DomainEvent, frozen=True):
    host: str


@registry.event
class ComputeServiceForcedDown(DomainEvent, frozen=True):
    """An operator marked the host's compute service down (or lifted it): Nova's
    ``forced_down``, for a host known to be dead before its heartbeats say so.
    A forced-down host is down for the scheduler, deletes and the sweeper."""

    host: str
    forced_down: bool


@registry.event
class HostResourcesClaimed(DomainEvent, frozen=True):
    """``server_id`` takes ``amounts`` on ``host``; appended with the host stream's
    version the scheduler decided on."""

    host: str
    server_id: str
    amounts: ResourceAmounts


@registry.event
class HostResourcesReleased(DomainEvent, frozen=True):
    """``server_id`` gives back what it claimed on ``host`` (idempotent: releasing
    what holds no claim changes nothing)."""

    host: str
    server_id: str


# -- project usage ---------------------------------------------------------------------


@registry.event
class ComputeQuotaConsumed(DomainEvent, frozen=True):
    project_id: str
    server_id: str
    instances: int
    cores: int
    ram_mb: int


@registry.event
class ComputeQuotaReleased(DomainEvent, frozen=True):
    """What ``server_id`` consumed is free again (idempotent per server)."""

    project_id: str
    server_id: str


# -- servers -------------------------------------------------------------------------------


@registry.event
class ServerCreateRequested(DomainEvent, frozen=True):
    server_id: str
    project_id: str
    user_id: str
    name: str
    flavor: FlavorSnapshot
    image: ImageSnapshot
    created_at: str
    description: str | None = None
    key_name: str | None = None
    #: The key's public key, so the agent needs no keypair lookup.
    public_key: str | None = None
    user_data: str | None = None
    metadata: dict[str, str] = {}
    availability_zone: str | None = None
    #: ``[]`` is ``networks: none``; ``[{"auto": ...}]`` or per-network dicts otherwise.
    networks: list[dict[str, str]] = []
    scheduler_hints: dict[str, list[str]] = {}
    reservation_id: str = ""
    launch_index: int = 0
    #: An admin's ``host`` / ``availability_zone=zone:host`` placement, if any.
    requested_host: str | None = None
    #: The security groups asked for (names), applied to the ports the boot made.
    security_groups: list[str] = []
    #: A config drive: the instance's metadata on a read-only disk (``config_drive``).
    config_drive: bool = False
    #: The addresses the user says the server is reached at (Nova's ``accessIPv4``
    #: and ``accessIPv6``: recorded and shown, never configured), and its tags (2.52+).
    access_ip_v4: str = ""
    access_ip_v6: str = ""
    tags: list[str] = []
    #: The volumes the server boots with (volume entries,
    #: :mod:`cairn.events.compute_volumes`): made or given by the API, attached by
    #: the agent at spawn; the one with ``boot_index`` "0" is the root disk (the
    #: server is then volume-backed: ``image.image_id`` is "").
    block_devices: list[dict[str, str]] = []


@registry.event
class ServerScheduled(DomainEvent, frozen=True):
    """The scheduler placed the server on ``host`` (its ``attempt``-th try, from 1)."""

    server_id: str
    host: str
    attempt: int = 1


@registry.event
class ServerScheduleFailed(DomainEvent, frozen=True):
    """No host could take the server (after ``attempts`` tries): ERROR, with this fault."""

    server_id: str
    attempts: int
    fault_code: int = 500
    fault_message: str = "No valid host was found. "
    fault_details: str = ""


@registry.event
class ServerSpawnStarted(DomainEvent, frozen=True):
    """The agent of ``host`` began building the guest (task state ``spawning``)."""

    server_id: str
    host: str


@registry.event
class ServerSpawned(DomainEvent, frozen=True):
    """The guest runs: ACTIVE."""

    server_id: str
    host: str
    launched_at: str
    #: The hypervisor's name for the guest (libvirt domain name).
    instance_name: str
    #: Where the agent writes the guest's serial console.
    console_log: str = ""
    #: network name -> [{"addr": ..., "version": 4, "OS-EXT-IPS:type": "fixed", ...}]
    addresses: dict[str, list[dict[str, str | int]]] = {}


@registry.event
class ServerSpawnFailed(DomainEvent, frozen=True):
    """The spawn on ``host`` failed and left nothing behind there; appended
    together with the :class:`HostResourcesReleased` of that host."""

    server_id: str
    host: str
    attempt: int
    reason: str
    #: False when no other host could do better (the image is unusable, say).
    retryable: bool = True


@registry.event
class ServerUpdated(DomainEvent, frozen=True):
    """The server's name, description and access addresses after the change."""

    server_id: str
    name: str
    description: str | None = None
    access_ip_v4: str = ""
    access_ip_v6: str = ""


@registry.event
class ServerMetadataChanged(DomainEvent, frozen=True):
    """The server's whole metadata after the change."""

    server_id: str
    metadata: dict[str, str]


@registry.event
class ServerLocked(DomainEvent, frozen=True):
    server_id: str
    locked_by: str  # "owner" or "admin", as Nova reports it
    reason: str | None = None


@registry.event
class ServerStateReset(DomainEvent, frozen=True):
    """An admin set the server's ``vm_state`` by hand (Nova's ``os-resetState``:
    ``active`` or ``error``), ending whatever task it was in."""

    server_id: str
    vm_state: str


@registry.event
class ServerUnlocked(DomainEvent, frozen=True):
    server_id: str


@registry.event
class ServerActionRequested(DomainEvent, frozen=True):
    """An action for the agent of ``host``.

    ``action`` is one of ``start``, ``stop``, ``reboot`` (``reboot_type``
    ``SOFT`` or ``HARD``), ``pause``, ``unpause``, ``suspend``, ``resume``, or
    ``attach_interface`` / ``detach_interface`` with ``nic``, the NIC entry
    (``{"uuid": network, "port": port, "created": "true"|"false"}``, as in a
    boot's ``networks``) to hot-plug or unplug, or ``createImage`` with
    ``image_id``, the queued image the guest's disk is uploaded to, or
    ``attach_volume`` / ``detach_volume`` with ``volume``, the volume entry
    (:mod:`cairn.events.compute_volumes`). Shelving and rescue
    (:mod:`cairn.events.compute_shelve`): ``shelve`` (``image_id`` the shelved
    image; ``offload``: offload at once), ``shelveOffload``, ``unshelve``
    (``image_id`` the shelved image, deleted once the guest runs), ``rescue``
    (``image_id`` the rescue image; ``sealed_password`` for the rescue guest's
    config drive) and ``unrescue``; ``changePassword`` with ``sealed_password``,
    the password the guest's agent sets for its administrator.

    A password is never in the log as written: ``sealed_password`` is sealed
    (:mod:`cairn.sealing`, ``<data-dir>/guest-secret-keys``) for the host's agent."""

    server_id: str
    host: str
    action: str
    reboot_type: str | None = None
    nic: dict[str, str] = {}
    image_id: str | None = None
    volume: dict[str, str] = {}
    offload: bool = False
    sealed_password: str | None = None


@registry.event
class ServerActionCompleted(DomainEvent, frozen=True):
    """The agent did ``action``; the server is now ``vm_state`` / ``power_state``
    (Nova's names: ``active``, ``stopped``, ``paused``, ``suspended``; power
    state codes 1 running, 3 paused, 4 shutdown, 7 suspended)."""

    server_id: str
    host: str
    action: str
    vm_state: str
    power_state: int


@registry.event
class ServerActionFailed(DomainEvent, frozen=True):
    """The agent could not do ``action``; the server keeps its vm_state, loses its
    task state, and records the fault."""

    server_id: str
    host: str
    action: str
    reason: str


@registry.event
class ServerInterfaceAttached(DomainEvent, frozen=True):
    """The agent hot-plugged ``nic`` (its entry gains ``mac``) into the guest;
    ``addresses`` are the port's, in the server's shape. Appended with the
    ``attach_interface`` action's :class:`ServerActionCompleted`."""

    server_id: str
    host: str
    nic: dict[str, str]
    addresses: dict[str, list[dict[str, str | int]]] = {}


@registry.event
class ServerInterfaceDetached(DomainEvent, frozen=True):
    """The guest no longer has the NIC of ``port_id`` (its MAC was ``mac``); the
    port is the networking service's to let go. Appended with the
    ``detach_interface`` action's :class:`ServerActionCompleted`."""

    server_id: str
    host: str
    port_id: str
    mac: str = ""


@registry.event
class ServerPowerStateChanged(DomainEvent, frozen=True):
    """The guest changed state by itself (it powered off, crashed), or the agent
    found it so when reconciling."""

    server_id: str
    host: str
    vm_state: str
    power_state: int


@registry.event
class ServerDeleteRequested(DomainEvent, frozen=True):
    """Deleting: task state ``deleting``; the agent of ``host`` destroys the guest."""

    server_id: str
    host: str | None
    force: bool = False


@registry.event
class ServerDeleted(DomainEvent, frozen=True):
    """The server is gone; appended with the releases of its claim and quota."""

    server_id: str
    deleted_at: str


@registry.event
class ServerErrored(DomainEvent, frozen=True):
    """The server is in ERROR with this fault (an operation's deadline passed, its
    guest vanished, ...)."""

    server_id: str
    fault_code: int
    fault_message: str
    fault_details: str = ""


@registry.event
class ServerRebuildRequested(DomainEvent, frozen=True):
    """Rebuild: the agent of ``host`` replaces the guest and its disk with a fresh
    one from ``image``, keeping the server's id, NICs and addresses; what the
    rebuild changed (``name``, ``metadata``, the key, the user data) applies at
    once, and the guest boots with it. A stopped server stays stopped."""

    server_id: str
    host: str
    image: ImageSnapshot
    name: str
    metadata: dict[str, str] = {}
    key_name: str | None = None
    public_key: str | None = None
    user_data: str | None = None
    description: str | None = None
    #: ``adminPass``, sealed for the host's agent (:mod:`cairn.sealing`); it reaches
    #: the guest through its config drive
    sealed_admin_password: str | None = None


@registry.event
class ServerRebuilt(DomainEvent, frozen=True):
    """The guest was rebuilt from the request's image on ``host``."""

    server_id: str
    host: str
    vm_state: str
    power_state: int
    console_log: str = ""


# -- flavors (control plane only) -------------------------------------------------------


@registry.event
class FlavorCreated(DomainEvent, frozen=True):
    flavor_id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None


@registry.event
class FlavorUpdated(DomainEvent, frozen=True):
    """The flavor's description after the change (the only mutable attribute)."""

    flavor_id: str
    description: str | None = None


@registry.event
class FlavorDeleted(DomainEvent, frozen=True):
    flavor_id: str


@registry.event
class FlavorExtraSpecsChanged(DomainEvent, frozen=True):
    """The flavor's whole set of extra specs after the change."""

    flavor_id: str
    extra_specs: dict[str, str]


@registry.event
class FlavorAccessAdded(DomainEvent, frozen=True):
    flavor_id: str
    project_id: str


@registry.event
class FlavorAccessRemoved(DomainEvent, frozen=True):
    flavor_id: str
    project_id: str


# -- keypairs ---------------------------------------------------------------------------


@registry.event
class KeypairCreated(DomainEvent, frozen=True):
    """A public key (imported, or generated: the private half went to the caller once
    and is in no event)."""

    user_id: str
    name: str
    public_key: str
    fingerprint: str
    key_type: str = "ssh"
    created_at: str = ""


@registry.event
class KeypairDeleted(DomainEvent, frozen=True):
    user_id: str
    name: str


# -- quota sets -------------------------------------------------------------------------


@registry.event
class ComputeQuotaSetUpdated(DomainEvent, frozen=True):
    """An admin set limits (resource -> limit, -1 unlimited) for ``project_id``, or
    for every project when ``project_id`` is ``"default"``; resources not named
    keep their previous limit."""

    project_id: str
    limits: dict[str, int]


@registry.event
class ComputeQuotaSetDeleted(DomainEvent, frozen=True):
    """``project_id``'s own limits are gone: the defaults apply again."""

    project_id: str


# -- server groups ----------------------------------------------------------------------


@registry.event
class ServerGroupCreated(DomainEvent, frozen=True):
    group_id: str
    project_id: str
    user_id: str
    name: str
    #: affinity, anti-affinity, soft-affinity or soft-anti-affinity
    policy: str
    rules: dict[str, int] = {}


@registry.event
class ServerGroupDeleted(DomainEvent, frozen=True):
    group_id: str


# -- host aggregates --------------------------------------------------------------------


@registry.event
class AggregateCreated(DomainEvent, frozen=True):
    """A host aggregate: Nova's integer id, a uuid (shown from 2.41), and its
    metadata, where ``availability_zone`` names the zone its hosts are in."""

    aggregate_id: int
    uuid: str
    name: str
    metadata: dict[str, str] = {}


@registry.event
class AggregateUpdated(DomainEvent, frozen=True):
    """The aggregate's name and its whole metadata after a change (a rename, a new
    zone, ``set_metadata``)."""

    aggregate_id: int
    name: str
    metadata: dict[str, str] = {}


@registry.event
class AggregateHostAdded(DomainEvent, frozen=True):
    aggregate_id: int
    host: str


@registry.event
class AggregateHostRemoved(DomainEvent, frozen=True):
    aggregate_id: int
    host: str


@registry.event
class AggregateDeleted(DomainEvent, frozen=True):
    aggregate_id: int


# -- server tags ------------------------------------------------------------------------


@registry.event
class ServerTagsChanged(DomainEvent, frozen=True):
    """The server's whole tag list after a change (Nova's tags, 2.26+)."""

    server_id: str
    tags: list[str] = []


@registry.event
class ServerConsoleOutputRequested(DomainEvent, frozen=True):
    """Someone asked for the server's console output; the agent of ``host`` (which
    owns the guest) answers with :class:`ServerConsoleOutputCaptured` on the same
    stream (``serverconsole-<id>``, apart from the server's own)."""

    server_id: str
    host: str
    request_id: str
    #: the last lines wanted (None: all the agent keeps, up to its cap)
    length: int | None = None


@registry.event
class ServerConsoleOutputCaptured(DomainEvent, frozen=True):
    """The agent's answer to the request ``request_id``. ``same_as`` is the stream
    version of an earlier answer with exactly this output (not repeated, so a
    client polling an idle console adds a few bytes to the log, not 100 KiB);
    ``error`` says why there is none (the hypervisor cannot, the guest is gone)."""

    server_id: str
    request_id: str
    output: str = ""
    same_as: int | None = None
    error: str | None = None


@registry.event
class ServerConsoleTokenIssued(DomainEvent, frozen=True):
    """Someone may open the server's console on ``host`` until ``expires_at``
    (epoch seconds), with the token whose SHA-256 is ``token_sha256``.

    On ``consoletoken-<sha256>`` (:func:`console_token_stream`), so the console
    proxy finds it from the token alone; the token itself is never stored (whoever
    reads the log cannot open consoles with it)."""

    server_id: str
    project_id: str
    host: str
    protocol: str
    console_type: str
    token_sha256: str
    expires_at: float
    #: the URL the token was issued for (where the proxy listens)
    url: str = ""


# -- stream names: the one definition the control plane and the agents share ------


def server_stream(server_id: str) -> str:
    return stream_name("server", server_id)


def host_stream(host: str) -> str:
    return stream_name("computehost", host)


def quota_stream(project_id: str) -> str:
    return stream_name("computequota", project_id)


def console_stream(server_id: str) -> str:
    return stream_name("serverconsole", server_id)


def console_token_stream(token_sha256: str) -> str:
    return stream_name("consoletoken", token_sha256)


# -- server diagnostics -----------------------------------------------------------------


class DiskStats(DomainEvent, frozen=True):
    """One disk of a guest, as its hypervisor counts it since the guest started."""

    name: str
    read_requests: int = 0
    read_bytes: int = 0
    write_requests: int = 0
    write_bytes: int = 0
    errors: int = 0


class NicStats(DomainEvent, frozen=True):
    name: str
    mac_address: str = ""
    rx_bytes: int = 0
    rx_packets: int = 0
    rx_errors: int = 0
    rx_drop: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    tx_drop: int = 0


class GuestStats(DomainEvent, frozen=True):
    """What a hypervisor says of a running guest (Nova's server diagnostics)."""

    state: str
    hypervisor: str
    #: nanoseconds of CPU time, per vCPU
    cpu_times: list[int] = []
    memory_max_kib: int = 0
    memory_used_kib: int = 0
    disks: list[DiskStats] = []
    nics: list[NicStats] = []


@registry.event
class ServerDiagnosticsRequested(DomainEvent, frozen=True):
    """An admin asked for the server's diagnostics; the agent of ``host`` answers
    with :class:`ServerDiagnosticsCaptured` on ``serverdiagnostics-<id>``."""

    server_id: str
    host: str
    request_id: str


@registry.event
class ServerDiagnosticsCaptured(DomainEvent, frozen=True):
    """The agent's answer to ``request_id``: the guest's statistics, or why there are none."""

    server_id: str
    request_id: str
    stats: GuestStats | None = None
    error: str | None = None


def diagnostics_stream(server_id: str) -> str:
    return stream_name("serverdiagnostics", server_id)
