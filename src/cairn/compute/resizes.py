"""Resize, cold migrate, confirm and revert deciders (Nova's ``resize``, ``migrate``,
``confirmResize``, ``revertResize``).

With one compute host a resize stays on the server's host, as Nova's
``allow_resize_to_same_host``. The request is one atomic append, decided on
the log (``events/compute_migration.py``):

- the server's stream: :class:`ServerResizeRequested`, at its version;
- the host's stream, at the version the check saw: :class:`HostClaimResized`,
  the new flavor's claim beside the old one, which the host keeps until the
  resize is settled (Nova's destination and source allocations). Both must fit:
  a host that cannot take the new flavor with the old one still held is
  Nova's NoValidHost, recorded in the same append as the resize's failure;
- the project's quota stream: :class:`ComputeQuotaResized`, cores and RAM
  counted for the larger of the two flavors (Nova checks a resize up against
  the quota and gives the difference back on a revert, or on the confirm of a
  resize down). A resize up goes in at the quota stream's version, so two
  resizes racing for the last cores cannot both land; one that only gives
  back goes in at any version.

Confirm and revert are requests for the agent, which drops the old disk (or
puts it back) and settles the claim and quota with its outcome.
"""

from __future__ import annotations

import msgspec

from cairn.compute import quota
from cairn.compute.decide import Writes, append_any, write
from cairn.compute.errors import Conflict, Invalid, QuotaExceeded
from cairn.compute.filters import (
    Candidate,
    Context,
    availability_zone_filter,
    compute_filter,
    image_properties_filter,
    resources_filter,
)
from cairn.compute.servers import ready_for, server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.events import compute_migration as mev
from cairn.events.compute import host_stream
from cairn.projections.compute import ComputeState, Flavor, Server
from cairn.projections.compute_state import Migration

#: vm_states a server may be resized or migrated from (Nova's check_instance_state)
ALLOWED = ("active", "stopped")
NO_VALID_HOST = "No valid host was found. "
#: task states of a resize (and its revert) in flight
RESIZE_TASKS = frozenset(
    {"resize_prep", "resize_migrating", "resize_migrated", "resize_finish", "resize_reverting"}
)
#: migration statuses of a resize whose claim and quota are settled
SETTLED = frozenset({"confirmed", "reverted", "error"})
#: migration statuses from VERIFY_RESIZE on (the server shows the new flavor)
RESIZED = frozenset({"finished", "confirming", "reverting"})
#: who confirms a resize when its resize_confirm_window has passed
AUTO_CONFIRMER = Metadata(user_id="cairn-resize-confirmer", request_id="cairn-auto-confirm")


def amounts_of(flavor: ev.FlavorSnapshot) -> ev.ResourceAmounts:
    """What a server of ``flavor`` claims on its host (as the scheduler counts it)."""
    return ev.ResourceAmounts(
        vcpus=flavor.vcpus,
        memory_mb=flavor.ram_mb,
        disk_gb=flavor.disk_gb + flavor.ephemeral_gb + (flavor.swap_mb + 1023) // 1024,
    )


def check_flavor(server: Server, flavor: Flavor) -> None:
    """Nova's refusals of the flavor a resize asks for (all 400s)."""
    old = server.flavor
    if flavor.id == old.flavor_id:
        raise Invalid("When resizing, instances must change flavor!")
    if old.disk_gb and not flavor.disk_gb:
        raise Invalid(
            "Server disk was unable to be resized because: "
            "Resize to zero disk flavor is not allowed."
        )
    if flavor.disk_gb < old.disk_gb:
        raise Invalid(
            "Server disk was unable to be resized because: "
            "Resize to a smaller root disk is not allowed."
        )


def _fits(
    state: ComputeState, server: Server, host_name: str, new: ev.FlavorSnapshot, now: float
) -> bool:
    """Whether ``host_name`` is up and enabled and can take ``new`` beside what it
    holds (the server's old claim included)."""
    host = state.hosts.get(host_name)
    if host is None:
        return False
    candidate = Candidate.of(host)
    shaped = msgspec.structs.replace(server, flavor=new)
    ctx = Context(state, now)
    return compute_filter(candidate, shaped, ctx) and resources_filter(candidate, shaped, ctx)


def _quota(
    state: ComputeState, server: Server, old: ev.FlavorSnapshot, new: ev.FlavorSnapshot
) -> tuple[mev.ComputeQuotaResized, bool]:
    """The quota the server counts during the resize, and whether it grows."""
    cores, ram_mb = max(old.vcpus, new.vcpus), max(old.ram_mb, new.ram_mb)
    grows = cores > old.vcpus or ram_mb > old.ram_mb
    if grows:
        limits = quota.limits(state, server.project_id)
        used = quota.usage(state, server.project_id)
        for resource, have, extra in (
            ("cores", used.cores, cores - old.vcpus),
            ("ram", used.ram_mb, ram_mb - old.ram_mb),
        ):
            limit = limits[resource]
            if extra and limit != quota.UNLIMITED and have + extra > limit:
                raise QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {extra}, but already used "
                    f"{have} of {limit} {resource}",
                    (resource,),
                )
    event = mev.ComputeQuotaResized(
        project_id=server.project_id, server_id=server.id, cores=cores, ram_mb=ram_mb
    )
    return event, grows


def resize(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    flavor: Flavor,
    migration_id: str,
    *,
    is_admin: bool,
    now: float,
) -> Writes:
    host = ready_for("resize", server, ALLOWED, is_admin=is_admin)
    check_flavor(server, flavor)
    new = flavor.snapshot()
    return _request(state, meta, server, host, new, migration_id, "resize", now=now)


def migrate(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    migration_id: str,
    *,
    is_admin: bool,
    now: float,
    host: str | None = None,
) -> Writes:
    """A cold migration: the same flavor on another host. Nova never migrates to the
    server's own host (libvirt cannot), so with no other host that fits the
    request fails with NoValidHost, as Nova's conductor ends it."""
    source = ready_for("migrate", server, ALLOWED, is_admin=is_admin)
    if host is not None:
        if host not in state.hosts:
            raise Invalid(f"Compute host {host} could not be found.")
        if host == source:
            raise Invalid("The source host and the destination host are the same.")
    ctx = Context(state, now)
    shaped = msgspec.structs.replace(server, requested_host=host)
    others = [
        name
        for name, candidate in ((n, Candidate.of(h)) for n, h in state.hosts.items())
        if name != source
        and (host is None or name == host)
        and all(
            f(candidate, shaped, ctx)
            for f in (
                compute_filter,
                availability_zone_filter,
                resources_filter,
                image_properties_filter,
            )
        )
    ]
    if others:
        # ADR 27: moving a guest's disk between hosts is not built; refusing is
        # better than accepting a migration nothing would carry out.
        raise Invalid(
            "Cold migration to another host is not supported by this cloud yet "
            f"(host {others[0]} could take the server)."
        )
    return _request(
        state,
        meta,
        server,
        source,
        server.flavor,
        migration_id,
        "migration",
        now=now,
        no_host=True,
    )


def _request(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    host: str,
    new: ev.FlavorSnapshot,
    migration_id: str,
    migration_type: str,
    *,
    now: float,
    no_host: bool = False,
) -> Writes:
    """The request's append; ``no_host``: nothing may take it (NoValidHost)."""
    old, dest = server.flavor, host
    requested = mev.ServerResizeRequested(
        server_id=server.id,
        host=host,
        dest_host=dest,
        migration_id=migration_id,
        migration_type=migration_type,
        old_flavor=old,
        new_flavor=new,
        vm_state=server.vm_state,
    )
    power = server.power_state
    # The quota first, as Nova's API checks it before the scheduler looks for a
    # host: a flavor over the quota is a 403 even when no host could take it.
    counted, grows = _quota(state, server, old, new)
    if no_host or not _fits(state, server, dest, new, now):
        # Nova's NoValidHost: accepted (202), then failed with the fault; the
        # server stays as it was and nothing is claimed.
        failed = mev.ServerResizeFailed(
            server_id=server.id,
            host=host,
            migration_id=migration_id,
            reason=NO_VALID_HOST,
            vm_state=server.vm_state,
            power_state=power,
        )
        return [write(state, server_stream(server.id), [requested, failed], meta)]
    claim = mev.HostClaimResized(
        host=dest, server_id=server.id, amounts=amounts_of(new), migration_id=migration_id
    )
    stream = quota.quota_stream(server.project_id)
    return [
        write(state, server_stream(server.id), [requested], meta),
        write(state, host_stream(dest), [claim], meta),
        write(state, stream, [counted], meta) if grows else append_any(stream, [counted], meta),
    ]


def migration_of(state: ComputeState, server: Server) -> Migration | None:
    return state.migrations.get(server.migration_id) if server.migration_id else None


def _resized(verb: str, server: Server, state: ComputeState, *, is_admin: bool) -> Migration:
    """The finished migration of a server in VERIFY_RESIZE, or Nova's refusal."""
    if server.locked and not is_admin:
        raise Conflict(f"Instance {server.id} is locked")
    if server.vm_state != "resized":
        raise Conflict(
            f"Cannot '{verb}' instance {server.id} while it is in vm_state {server.vm_state}"
        )
    if server.task_state is not None:
        raise Conflict(
            f"Cannot '{verb}' instance {server.id} while it is in task_state {server.task_state}"
        )
    migration = migration_of(state, server)
    if migration is None or migration.status != "finished":
        raise Invalid("Instance has not been resized.")
    return migration


def confirm(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    *,
    is_admin: bool,
    automatic: bool = False,
) -> Writes:
    migration = _resized("confirmResize", server, state, is_admin=is_admin)
    event = mev.ServerResizeConfirmRequested(
        server_id=server.id,
        host=migration.dest_host,
        migration_id=migration.uuid,
        automatic=automatic,
    )
    return [write(state, server_stream(server.id), [event], meta)]


def revert(state: ComputeState, meta: Metadata, server: Server, *, is_admin: bool) -> Writes:
    migration = _resized("revertResize", server, state, is_admin=is_admin)
    event = mev.ServerResizeRevertRequested(
        server_id=server.id, host=migration.dest_host, migration_id=migration.uuid
    )
    return [write(state, server_stream(server.id), [event], meta)]


# -- auto-confirm (Nova's resize_confirm_window) ------------------------------------------


def due(state: ComputeState, window: float, now: float) -> list[str]:
    """Servers in VERIFY_RESIZE for longer than ``window`` seconds, not yet confirming."""
    found = []
    for server in state.servers.values():
        migration = migration_of(state, server)
        if (
            migration is not None
            and not server.deleted
            and server.vm_state == "resized"
            and server.task_state is None
            and migration.status == "finished"
            and now - migration.finished_at >= window
        ):
            found.append(server.id)
    return found


def auto_confirm(state: ComputeState, server_id: str) -> Writes:
    """The confirm of a resize whose window passed (nothing when it moved on)."""
    server = state.servers.get(server_id)
    if server is None or server.deleted:
        return []
    migration = migration_of(state, server)
    if server.vm_state != "resized" or migration is None or migration.status != "finished":
        return []
    meta = msgspec.structs.replace(AUTO_CONFIRMER, project_id=server.project_id)
    return confirm(state, meta, server, is_admin=True, automatic=True)


def expire(state: ComputeState, meta: Metadata, server: Server, reason: str) -> Writes:
    """End a resize (or a revert) whose agent never answered, as the deadline
    sweeper does: the resize fails with the old flavor, claim and quota."""
    migration = migration_of(state, server)
    if migration is None:
        return []
    failed = mev.ServerResizeFailed(
        server_id=server.id,
        host=migration.source_host,
        migration_id=migration.uuid,
        reason=reason,
        vm_state="error",
        power_state=server.power_state,
    )
    return [
        write(state, server_stream(server.id), [failed], meta),
        *settle(server, migration, "old", meta),
    ]


def settle(server: Server, migration: Migration, kept: str, meta: Metadata) -> Writes:
    """The claim and quota of a resize that is over (``kept``: ``new`` or ``old``);
    both only give back, so they go in at any version."""
    flavor = migration.new_flavor if kept == "new" else migration.old_flavor
    settled = mev.HostClaimResizeSettled(
        host=migration.dest_host, server_id=server.id, kept=kept, migration_id=migration.uuid
    )
    counted = mev.ComputeQuotaResized(
        project_id=server.project_id,
        server_id=server.id,
        cores=flavor.vcpus,
        ram_mb=flavor.ram_mb,
    )
    return [
        append_any(host_stream(migration.dest_host), [settled], meta),
        append_any(quota.quota_stream(server.project_id), [counted], meta),
    ]
