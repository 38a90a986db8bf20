"""The agent's resize steps: a new guest with the new flavor, and back on a revert.

A resize on this host (Nova's ``allow_resize_to_same_host``):

1. ``resize_migrating`` is appended before any side effect (so a restarted
   agent sees it began). The guest is shut down (cleanly, then forced) and its
   disk set aside as ``disk.resize-orig``: from then on that file is the old
   disk, whatever else an interrupted attempt left;
2. ``resize_migrated``: the old disk is copied to ``disk`` (a qcow2 overlay:
   only the guest's own writes are copied) and grown to the new flavor's root
   disk with ``qemu-img resize``, never shrunk;
3. ``resize_finish``: a new guest definition with the new flavor's vCPUs and
   memory, the server's NICs (its ports stay bound to this host), its volumes
   and its config drive, started (or left off, if the server was stopped): VERIFY_RESIZE.

Confirm removes the old disk; revert removes the new guest and disk, puts the
old disk back and defines the old guest again. Each outcome is appended with
the host's claim and the project's quota settled, in one append. A step the
agent died in is done again from the start when it restarts: the set-aside
old disk makes that safe. A resize that fails puts the old guest back and
appends :class:`ServerResizeFailed`; a revert that fails leaves the server in
ERROR (Nova's behaviour).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import msgspec

from cairn.agents.compute import config_drive, disk, volume_disks
from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import GuestDefinition, GuestNotFound, RootDisk
from cairn.agents.compute.guest_plan import guest_name, plan_guest
from cairn.agents.compute.nics import plug
from cairn.agents.compute.resize_view import MigrationView
from cairn.agents.compute.server_view import ServerView
from cairn.agents.compute.steps import (
    OBSERVED,
    RUNNING,
    SHUTDOWN,
    OutcomeConflict,
    append_outcome,
    caused_by,
    failure_reason,
    load,
    on_server,
)
from cairn.errors import CairnError
from cairn.events import ANY_VERSION, DomainEvent, RecordedEvent, registry
from cairn.events import compute as ev
from cairn.events import compute_migration as mev
from cairn.events.compute import host_stream, quota_stream, server_stream
from cairn.logs import get_logger
from cairn.store.port import StreamWrite, WrongExpectedVersion

log = get_logger(__name__)

#: where the old disk waits for the confirm (or the revert)
ORIGINAL = "disk.resize-orig"
#: re-decisions of a progress append before the step gives up
_TRIES = 10


class Superseded(CairnError):
    """The server's stream no longer waits for this step (a delete came first)."""


def _paths(ctx: HostContext, server_id: str) -> tuple[Path, Path]:
    instance = ctx.config.paths.instance(server_id)
    return instance / "disk", instance / ORIGINAL


def _settle(
    host: str, view: ServerView, migration: MigrationView, kept: str, cause: RecordedEvent | None
) -> list[StreamWrite]:
    """The claim and quota of the resize, settled (they only give back: any version)."""
    request = migration.request
    flavor = request.new_flavor if kept == "new" else request.old_flavor
    meta = caused_by(cause)
    events: list[tuple[str, DomainEvent]] = [
        (
            host_stream(host),
            mev.HostClaimResizeSettled(
                host=host, server_id=view.server_id, kept=kept, migration_id=request.migration_id
            ),
        )
    ]
    if view.project_id is not None:
        counted = mev.ComputeQuotaResized(
            project_id=view.project_id,
            server_id=view.server_id,
            cores=flavor.vcpus,
            ram_mb=flavor.ram_mb,
        )
        events.append((quota_stream(view.project_id), counted))
    return [StreamWrite(s, [registry.new(e, meta)], ANY_VERSION) for s, e in events]


async def _definition(
    ctx: HostContext, view: ServerView, flavor: ev.FlavorSnapshot
) -> GuestDefinition:
    """The server's guest with ``flavor``, on the disk already in its directory."""
    assert view.created is not None
    created = msgspec.structs.replace(view.created, flavor=flavor, networks=view.nics)
    planned = await plan_guest(ctx.host, ctx.config.paths, ctx.images, created)
    root = planned.root_disk
    if root is not None:
        # The disk is the server's own now (set aside, copied, grown): used as it is.
        root = RootDisk(path=root.path)
    plugged = await plug(ctx.ports, ctx.host, created, bridge_wait=ctx.config.bridge_wait)
    volumes = []
    if view.volumes and ctx.volumes is not None:
        # The server's volumes go with it: the same files, the same targets.
        for entry in view.volumes:
            info = await ctx.volumes.initialize_connection(entry["volume_id"], ctx.host)
            volumes.append(volume_disks.disk_of(info, entry))
    definition = dataclasses.replace(
        planned, root_disk=root, nics=plugged.nics, volumes=tuple(volumes)
    )
    if created.config_drive:
        instance = config_drive.for_request(created, plugged.ports, ctx.config.availability_zone)
        drive = await config_drive.build(ctx.config.paths.instance(view.server_id), instance)
        definition = dataclasses.replace(definition, config_drive=drive)
    return definition


async def _shut_down(ctx: HostContext, name: str) -> None:
    with contextlib.suppress(GuestNotFound):  # an earlier attempt removed it already
        await ctx.driver.power_off(name, timeout=ctx.config.clean_shutdown_timeout)


async def _old_disk_aside(ctx: HostContext, server_id: str) -> None:
    """Make ``disk.resize-orig`` the old disk, then remove the guest (which may own
    ``disk``: it is never removed while it is the only copy)."""
    current, original = _paths(ctx, server_id)

    def aside() -> None:
        if original.exists():
            current.unlink(missing_ok=True)  # a copy an interrupted attempt made
        elif current.exists():
            os.replace(current, original)

    await asyncio.to_thread(aside)
    await ctx.driver.destroy(guest_name(ctx.host, server_id))


async def _grown_copy(ctx: HostContext, server_id: str, size_gb: int) -> None:
    current, original = _paths(ctx, server_id)
    if not await asyncio.to_thread(original.exists):
        return  # a guest without a root disk
    partial = current.with_name("disk.resize-partial")
    try:
        await asyncio.to_thread(shutil.copyfile, original, partial)
        if size_gb:
            await disk.grow(partial, size_gb=size_gb)
        await asyncio.to_thread(os.replace, partial, current)
    finally:
        await asyncio.to_thread(partial.unlink, True)


async def _old_guest_back(ctx: HostContext, view: ServerView, migration: MigrationView) -> None:
    """The guest as it was before the resize: old disk, old flavor, old power state."""
    request = migration.request
    name = guest_name(ctx.host, view.server_id)
    definition = await _definition(ctx, view, request.old_flavor)
    await _shut_down(ctx, name)
    await _old_disk_aside(ctx, view.server_id)
    current, original = _paths(ctx, view.server_id)
    if await asyncio.to_thread(original.exists):
        await asyncio.to_thread(os.replace, original, current)
    await ctx.driver.spawn(definition)
    if request.vm_state == "stopped":
        await ctx.driver.power_off(name, timeout=0)


async def _progress(
    ctx: HostContext,
    view: ServerView,
    pending: Callable[[ServerView], bool],
    task_state: str,
) -> ServerView:
    """Append the resize's progress at the stream's version; the view after it."""
    assert view.migration is not None
    event = mev.ServerResizeProgressed(
        server_id=view.server_id,
        host=ctx.host,
        migration_id=view.migration.request.migration_id,
        task_state=task_state,
    )
    for _ in range(_TRIES):
        if not pending(view):
            raise Superseded(f"server {view.server_id} no longer waits for its resize")
        try:
            result = await ctx.store.append(on_server(view, [event], view.migration.event))
        except WrongExpectedVersion:
            view = await load(ctx, view.server_id)
            continue
        return dataclasses.replace(view, version=result.versions[server_stream(view.server_id)])
    raise OutcomeConflict(f"server {view.server_id}: its stream kept changing")


# -- the steps ------------------------------------------------------------------------------


async def resize(ctx: HostContext, view: ServerView) -> None:
    """Carry out the resize: ServerResized, or ServerResizeFailed with the old guest back."""
    migration = view.migration
    assert migration is not None
    assert view.created is not None
    request, cause = migration.request, migration.event
    host, name = ctx.host, guest_name(ctx.host, view.server_id)

    def pending(v: ServerView) -> bool:
        return (
            not v.deleted
            and v.delete is None
            and v.migration is not None
            and v.migration.event.id == cause.id
            and not v.migration.resized
        )

    log.info("compute.resize_started", host=host, server_id=view.server_id)
    try:
        view = await _progress(ctx, view, pending, "resize_migrating")
    except Superseded:
        return
    stopped = request.vm_state == "stopped"
    try:
        async with asyncio.timeout(ctx.config.spawn_timeout):
            definition = await _definition(ctx, view, request.new_flavor)
            await _shut_down(ctx, name)
            await _old_disk_aside(ctx, view.server_id)
            view = await _progress(ctx, view, pending, "resize_migrated")
            await _grown_copy(ctx, view.server_id, request.new_flavor.disk_gb)
            view = await _progress(ctx, view, pending, "resize_finish")
            await ctx.driver.spawn(definition)
            if stopped:
                await ctx.driver.power_off(name, timeout=0)
    except Superseded:
        return  # a delete came: it removes whatever is here
    except Exception as exc:
        reason = failure_reason(exc, "resize", ctx.config.spawn_timeout)
        log.warning("compute.resize_failed", host=host, server_id=view.server_id, reason=reason)
        vm_state, power = ("stopped", SHUTDOWN) if stopped else ("active", RUNNING)
        try:
            async with asyncio.timeout(ctx.config.spawn_timeout):
                await _old_guest_back(ctx, view, migration)
        except Exception as again:
            reason = f"{reason}; the old guest could not be put back: {again}"
            vm_state, power = "error", 0
        failed = mev.ServerResizeFailed(
            server_id=view.server_id,
            host=host,
            migration_id=request.migration_id,
            reason=f"Resize failed: {reason}",
            vm_state=vm_state,
            power_state=power,
        )
        await append_outcome(
            ctx,
            view,
            pending,
            lambda v: [on_server(v, [failed], cause), *_settle(host, v, migration, "old", cause)],
        )
        return
    done = mev.ServerResized(
        server_id=view.server_id,
        host=host,
        migration_id=request.migration_id,
        power_state=SHUTDOWN if stopped else RUNNING,
    )
    await append_outcome(ctx, view, pending, lambda v: [on_server(v, [done], cause)])
    log.info("compute.resized", host=host, server_id=view.server_id, flavor=request.new_flavor.name)


async def confirm(ctx: HostContext, view: ServerView) -> None:
    """Drop the old disk: ServerResizeConfirmed, with the old claim released."""
    migration = view.migration
    assert migration is not None
    assert migration.confirm_event is not None
    cause = migration.confirm_event

    def pending(v: ServerView) -> bool:
        return (
            v.migration is not None
            and v.migration.confirm_event is not None
            and v.migration.confirm_event.id == cause.id
        )

    _, original = _paths(ctx, view.server_id)
    await asyncio.to_thread(original.unlink, True)
    try:
        state = await ctx.driver.state(guest_name(ctx.host, view.server_id))
        vm_state, power = OBSERVED.get(state, ("active", RUNNING))
    except GuestNotFound:
        vm_state, power = "error", 0
    done = mev.ServerResizeConfirmed(
        server_id=view.server_id,
        host=ctx.host,
        migration_id=migration.request.migration_id,
        vm_state=vm_state,
        power_state=power,
    )
    await append_outcome(
        ctx,
        view,
        pending,
        lambda v: [on_server(v, [done], cause), *_settle(ctx.host, v, migration, "new", cause)],
    )
    log.info("compute.resize_confirmed", host=ctx.host, server_id=view.server_id)


async def revert(ctx: HostContext, view: ServerView) -> None:
    """The old guest back: ServerResizeReverted, with the new claim released."""
    migration = view.migration
    assert migration is not None
    assert migration.revert_event is not None
    cause, request = migration.revert_event, migration.request

    def pending(v: ServerView) -> bool:
        return (
            not v.deleted
            and v.delete is None
            and v.migration is not None
            and v.migration.revert_event is not None
            and v.migration.revert_event.id == cause.id
        )

    outcome: DomainEvent
    try:
        async with asyncio.timeout(ctx.config.spawn_timeout):
            await _old_guest_back(ctx, view, migration)
    except Exception as exc:
        reason = failure_reason(exc, "revert", ctx.config.spawn_timeout)
        log.warning("compute.revert_failed", host=ctx.host, server_id=view.server_id, reason=reason)
        outcome = mev.ServerResizeFailed(
            server_id=view.server_id,
            host=ctx.host,
            migration_id=request.migration_id,
            reason=f"Revert failed: {reason}",
            vm_state="error",
            power_state=0,
        )
    else:
        stopped = request.vm_state == "stopped"
        outcome = mev.ServerResizeReverted(
            server_id=view.server_id,
            host=ctx.host,
            migration_id=request.migration_id,
            vm_state="stopped" if stopped else "active",
            power_state=SHUTDOWN if stopped else RUNNING,
        )
    await append_outcome(
        ctx,
        view,
        pending,
        lambda v: [on_server(v, [outcome], cause), *_settle(ctx.host, v, migration, "old", cause)],
    )
    log.info("compute.resize_reverted", host=ctx.host, server_id=view.server_id)
