"""Server deciders: boot requests (with their quota), updates, actions, deletes.

A boot request is one atomic append: each new ``server-<id>`` stream (which
must not exist) and the project's ``computequota-<project>`` stream at the
version the quota check saw. Two concurrent boots that both fit alone but not
together cannot both be stored: the second append finds the quota stream moved
on, and is decided again against the usage that now includes the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cairn.compute import quota
from cairn.compute.decide import Writes, append_any, new_stream, write
from cairn.compute.errors import (
    ComputeError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    QuotaExceeded,
)
from cairn.events import NO_STREAM, Metadata, NewEvent, registry
from cairn.events import compute as ev
from cairn.events.compute import host_stream as host_stream
from cairn.events.compute import server_stream as server_stream
from cairn.projections.compute import ComputeState, Server, Usage
from cairn.store.port import StreamWrite


@dataclass(frozen=True, slots=True)
class BootRequest:
    """A validated ``POST /servers``; ids and times are made before deciding."""

    server_ids: list[str]
    project_id: str
    user_id: str
    name: str
    flavor: ev.FlavorSnapshot
    image: ev.ImageSnapshot
    created_at: str
    reservation_id: str
    min_count: int = 1
    description: str | None = None
    key_name: str | None = None
    public_key: str | None = None
    user_data: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    availability_zone: str | None = None
    networks: list[dict[str, str]] = field(default_factory=list)
    scheduler_hints: dict[str, list[str]] = field(default_factory=dict)
    requested_host: str | None = None
    config_drive: bool = False
    #: each server's NICs, as the network port made them (default: ``networks``)
    server_networks: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    security_groups: list[str] = field(default_factory=list)
    access_ip_v4: str = ""
    access_ip_v6: str = ""
    tags: list[str] = field(default_factory=list)
    #: the volumes the server boots with (volume entries; at most one server per request)
    block_devices: list[dict[str, str]] = field(default_factory=list)


def find(state: ComputeState, server_id: str, project_id: str | None = None) -> Server:
    """The live server ``server_id``; when ``project_id`` is given (a non-admin
    caller), only if that project owns it."""
    server = state.servers.get(server_id)
    if (
        server is None
        or server.deleted
        or (project_id is not None and server.project_id != project_id)
    ):
        raise NotFound(f"Instance {server_id} could not be found.")
    return server


def create(state: ComputeState, meta: Metadata, req: BootRequest) -> tuple[Writes, list[str]]:
    """The writes of a boot request and the ids of the servers it creates: as many
    as the quota allows between ``min_count`` and ``len(server_ids)``."""
    writes, outcomes = create_many(state, [(meta, req)])
    if isinstance(outcomes[0], ComputeError):
        raise outcomes[0]
    return writes, outcomes[0]


Outcome = list[str] | ComputeError


def create_many(
    state: ComputeState,
    requests: Sequence[tuple[Metadata, BootRequest]],
    created: list[Server] | None = None,
) -> tuple[Writes, list[Outcome]]:
    """Several boot requests decided in order as one append: each is checked against
    the quota the ones before it consumed. Each outcome is the ids created, or the
    error that refused that request (which then writes nothing). The new servers,
    as the state will hold them, are added to ``created`` (for the scheduler)."""
    writes: Writes = []
    consumed: dict[str, list[NewEvent]] = {}
    pending: dict[str, Usage] = {}
    outcomes: list[Outcome] = []
    for meta, req in requests:
        try:
            ids = _admit(state, req, pending.get(req.project_id))
        except ComputeError as refused:
            outcomes.append(refused)
            continue
        outcomes.append(ids)
        flavor = req.flavor
        extra = pending.setdefault(req.project_id, Usage())
        extra.instances += len(ids)
        extra.cores += len(ids) * flavor.vcpus
        extra.ram_mb += len(ids) * flavor.ram_mb
        for index, server_id in enumerate(ids):
            name = req.name if len(req.server_ids) == 1 else f"{req.name}-{index + 1}"
            requested = ev.ServerCreateRequested(
                server_id=server_id, project_id=req.project_id, user_id=req.user_id, name=name,
                flavor=flavor, image=req.image, created_at=req.created_at,
                description=req.description, key_name=req.key_name, public_key=req.public_key,
                user_data=req.user_data, metadata=req.metadata,
                availability_zone=req.availability_zone,
                networks=req.server_networks.get(server_id, req.networks),
                security_groups=req.security_groups,
                scheduler_hints=req.scheduler_hints, reservation_id=req.reservation_id,
                launch_index=index, requested_host=req.requested_host,
                config_drive=req.config_drive, access_ip_v4=req.access_ip_v4,
                access_ip_v6=req.access_ip_v6, tags=list(req.tags),
                block_devices=[dict(b) for b in req.block_devices],
            )  # fmt: skip
            writes.append(new_stream(server_stream(server_id), [requested], meta))
            if created is not None:
                created.append(as_server(requested))
            used = ev.ComputeQuotaConsumed(
                project_id=req.project_id, server_id=server_id, instances=1,
                cores=flavor.vcpus, ram_mb=flavor.ram_mb,
            )  # fmt: skip
            consumed.setdefault(req.project_id, []).append(registry.new(used, meta))
    for project_id, events in consumed.items():
        stream = quota.quota_stream(project_id)
        writes.append(StreamWrite(stream, events, state.versions.get(stream, NO_STREAM)))
    return writes, outcomes


def as_server(d: ev.ServerCreateRequested) -> Server:
    """The server a boot request creates, as the projection will fold it."""
    return Server(
        id=d.server_id, project_id=d.project_id, user_id=d.user_id, name=d.name,
        flavor=d.flavor, image=d.image, created_at=d.created_at, updated_at=d.created_at,
        metadata=dict(d.metadata), availability_zone=d.availability_zone,
        scheduler_hints=dict(d.scheduler_hints), requested_host=d.requested_host,
        launch_index=d.launch_index, reservation_id=d.reservation_id,
        access_ip_v4=d.access_ip_v4, access_ip_v6=d.access_ip_v6, tags=list(d.tags),
    )  # fmt: skip


def _admit(state: ComputeState, req: BootRequest, pending: Usage | None) -> list[str]:
    """The ids of ``req`` the quota admits (after ``pending``), or the refusal."""
    flavor = req.flavor
    limits = quota.limits(state, req.project_id)
    if limits["metadata_items"] != quota.UNLIMITED and len(req.metadata) > limits["metadata_items"]:
        raise QuotaExceeded(
            "Quota exceeded for metadata_items: Maximum number of metadata items exceeds "
            f"{limits['metadata_items']}",
            ("metadata_items",),
        )
    groups = []
    for group_id in req.scheduler_hints.get("group", []):
        group = state.server_groups.get(group_id)
        if group is None or group.project_id != req.project_id:
            raise Invalid(f"Invalid server group {group_id}")
        groups.append(group)
    room = quota.headroom(state, req.project_id, flavor.vcpus, flavor.ram_mb, pending)
    count = min(len(req.server_ids), room)
    if count < req.min_count:
        quota.check_servers(
            state, req.project_id, req.min_count, flavor.vcpus, flavor.ram_mb, pending
        )
        raise QuotaExceeded("Quota exceeded for instances", ("instances",))  # pragma: no cover
    members = limits["server_group_members"]
    # The servers admitted join the group, not only min_count of them.
    if members != quota.UNLIMITED and any(len(g.members) + count > members for g in groups):
        raise QuotaExceeded("Quota exceeded, too many servers in group", ("server_group_members",))
    return req.server_ids[:count]


def _not_locked(server: Server, is_admin: bool) -> None:
    if server.locked and not is_admin:
        raise Conflict(f"Instance {server.id} is locked")


def ready_for(verb: str, server: Server, allowed: tuple[str, ...], *, is_admin: bool) -> str:
    """The host of a server that may be asked to ``verb`` now: not locked (for its
    owner), no task under way, in one of the ``allowed`` vm_states, on a host.
    Nova's 409s otherwise."""
    _not_locked(server, is_admin)
    if server.task_state is not None:
        raise Conflict(
            f"Cannot '{verb}' instance {server.id} while it is in task_state {server.task_state}"
        )
    if server.vm_state not in allowed:
        raise Conflict(
            f"Cannot '{verb}' instance {server.id} while it is in vm_state {server.vm_state}"
        )
    if server.host is None:
        raise Conflict(f"Instance {server.id} is not on a host; it cannot '{verb}'.")
    return server.host


def update(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    name: str,
    description: str | None,
    access_ips: tuple[str, str] | None = None,
) -> Writes:
    v4, v6 = access_ips or (server.access_ip_v4, server.access_ip_v6)
    before = (server.name, server.description, server.access_ip_v4, server.access_ip_v6)
    if (name, description, v4, v6) == before:
        return []
    event = ev.ServerUpdated(
        server_id=server.id, name=name, description=description, access_ip_v4=v4, access_ip_v6=v6
    )
    return [write(state, server_stream(server.id), [event], meta)]


def set_metadata(
    state: ComputeState, meta: Metadata, server: Server, metadata: dict[str, str]
) -> Writes:
    limit = quota.limits(state, server.project_id)["metadata_items"]
    if limit != quota.UNLIMITED and len(metadata) > limit:
        raise QuotaExceeded(
            f"Quota exceeded for metadata_items: Maximum number of metadata items exceeds {limit}",
            ("metadata_items",),
        )
    if metadata == server.metadata:
        return []
    event = ev.ServerMetadataChanged(server_id=server.id, metadata=metadata)
    return [write(state, server_stream(server.id), [event], meta)]


#: action -> the vm states it may start from (Nova's check_instance_state)
ALLOWED_STATES: dict[str, tuple[str, ...]] = {
    "start": ("stopped",),
    "stop": ("active", "error"),
    "reboot": ("active", "stopped", "paused", "suspended", "error"),
    "pause": ("active",),
    "unpause": ("paused",),
    "suspend": ("active",),
    "resume": ("suspended",),
    "trigger_crash_dump": ("active", "paused", "error"),
    # a delete while deleted servers are kept: the guest is stopped, the server kept
    "soft_delete": ("active", "stopped", "paused", "suspended", "error"),
    "restore": ("soft-delete",),
}


def action(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    name: str,
    *,
    is_admin: bool,
    reboot_type: str | None = None,
) -> Writes:
    _not_locked(server, is_admin)
    allowed = ALLOWED_STATES[name]
    if name == "reboot" and reboot_type == "SOFT":
        allowed = ("active",)
    if server.task_state is not None and not (
        name == "reboot"
        and reboot_type == "HARD"
        and server.task_state in ("rebooting", "rebooting_hard")
    ):
        raise Conflict(
            f"Cannot '{name}' instance {server.id} while it is in task_state {server.task_state}"
        )
    if server.vm_state not in allowed:
        raise Conflict(
            f"Cannot '{name}' instance {server.id} while it is in vm_state {server.vm_state}"
        )
    if server.host is None:
        raise Conflict(f"Instance {server.id} is not on a host; it cannot '{name}'.")
    event = ev.ServerActionRequested(
        server_id=server.id, host=server.host, action=name, reboot_type=reboot_type
    )
    return [write(state, server_stream(server.id), [event], meta)]


def lock(
    state: ComputeState, meta: Metadata, server: Server, *, is_admin: bool, reason: str | None
) -> Writes:
    if server.locked:
        return []
    event = ev.ServerLocked(
        server_id=server.id,
        locked_by="admin" if is_admin and meta.project_id != server.project_id else "owner",
        reason=reason,
    )
    return [write(state, server_stream(server.id), [event], meta)]


def unlock(state: ComputeState, meta: Metadata, server: Server, *, is_admin: bool) -> Writes:
    if not server.locked:
        return []
    if server.locked_by == "admin" and not is_admin:
        raise Forbidden("Unlocking a server an admin locked needs an admin.")
    return [write(state, server_stream(server.id), [ev.ServerUnlocked(server_id=server.id)], meta)]


def local_delete(state: ComputeState, meta: Metadata, server: Server, deleted_at: str) -> Writes:
    """Delete a server no agent holds: the server, its claim (if any) and its quota
    in one append."""
    # The quota and host streams are shared with concurrent boots; a release only
    # gives back, so it goes in at any version: only the server's is checked.
    deleted = ev.ServerDeleted(server_id=server.id, deleted_at=deleted_at)
    released = ev.ComputeQuotaReleased(project_id=server.project_id, server_id=server.id)
    writes = [
        write(state, server_stream(server.id), [deleted], meta),
        append_any(quota.quota_stream(server.project_id), [released], meta),
    ]
    for host in state.hosts.values():
        if server.id in host.claims:
            freed = ev.HostResourcesReleased(host=host.host, server_id=server.id)
            writes.append(append_any(host_stream(host.host), [freed], meta))
    return writes


def delete(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    *,
    is_admin: bool,
    force: bool,
    now: float,
    deleted_at: str,
) -> Writes:
    """Ask the server's agent to destroy it; delete it here at once when no agent
    can: it is on no host, or its host is down (Nova's "local delete")."""
    _not_locked(server, is_admin)
    host = state.hosts.get(server.host) if server.host else None
    if host is None or not host.is_up(now):
        return local_delete(state, meta, server, deleted_at)
    if server.task_state == "deleting" and not force:
        return []
    event = ev.ServerDeleteRequested(server_id=server.id, host=server.host, force=force)
    return [write(state, server_stream(server.id), [event], meta)]
