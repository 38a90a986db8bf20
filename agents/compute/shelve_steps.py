"""The agent's shelving steps: shelve, offload, unshelve (Nova's order of things).

**Shelve** powers the guest off (a clean shutdown, forced after the timeout),
copies its disk with its backing chain folded in (``shelving_image_pending_upload``),
uploads the copy into the image the API made (``shelving_image_uploading``) and
appends :class:`ServerShelved`: SHELVED, the guest off but still defined here.
A failure deletes the image, starts a guest that ran again, and fails the
action. With ``offload`` the step goes on (``shelving_offloading``) to:

**Offload**: the guest and the server's directory are removed, its ports
unbound from this host (they stay the server's), and
:class:`ServerShelveOffloaded` is appended with the release of the host's
claim: SHELVED_OFFLOADED.

**Unshelve** of a SHELVED server powers the guest on; of an offloaded one
(scheduled here again) boots a new guest from the shelved image as a spawn
does (the image's data backs the new overlay; NICs bound to this host; a new
config drive), and appends :class:`ServerUnshelved`, or
:class:`ServerUnshelveFailed` with the claim's release. The shelved image is
deleted once the guest runs and before the outcome is appended: the host's
image cache keeps the data the overlay stands on, so a retry after a crash
between the two boots from the cache.

Each step is decided on the stream: an agent killed anywhere in it finds the
action (or the unshelve) still pending when it starts again and does what is
left: the snapshot again if :class:`ServerShelved` is not in the log (the image
service put the cut upload back to queued), only the offload if it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import msgspec

from cairn.agents.compute import config_drive, disk
from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import GuestState
from cairn.agents.compute.guest_plan import guest_name, plan_guest
from cairn.agents.compute.nics import plug, unplug_all
from cairn.agents.compute.server_view import MAX_SPAWN_STARTS, ServerView
from cairn.agents.compute.steps import (
    MAX_CONFLICTS,
    RUNNING,
    SHUTDOWN,
    OutcomeConflict,
    append_outcome,
    end_action,
    failure_reason,
    load,
    now,
    on_server,
    release_claim,
    remove_guest,
    server_stream,
)
from cairn.errors import CairnError
from cairn.events import DomainEvent
from cairn.events import compute as ev
from cairn.events import compute_shelve as shelve_ev
from cairn.logs import get_logger
from cairn.store.port import WrongExpectedVersion

log = get_logger(__name__)

ACTIONS = frozenset({"shelve", "shelveOffload", "unshelve"})


class ShelveError(CairnError):
    """The server has nothing to shelve."""


async def run(ctx: HostContext, view: ServerView) -> None:
    """Do the shelving action the stream waits for."""
    assert view.action is not None
    match view.action.action:
        case "shelve":
            await _shelve(ctx, view)
        case "shelveOffload":
            await _offload(ctx, view)
        case "unshelve":
            await _power_on(ctx, view)


async def _advance(
    ctx: HostContext, view: ServerView, events: list[DomainEvent]
) -> ServerView | None:
    """Append ``events`` (the action's progress) while the stream still waits for
    the action; the view after them, or None when it no longer does."""
    cause = view.action_event
    request_id = None if cause is None else cause.id
    for _ in range(MAX_CONFLICTS):
        if view.action_event is None or view.action_event.id != request_id:
            return None
        try:
            result = await ctx.store.append(on_server(view, events, cause))
        except WrongExpectedVersion:
            view = await load(ctx, view.server_id)
            continue
        del result
        return await load(ctx, view.server_id)
    raise OutcomeConflict(f"server {view.server_id}: its stream kept changing")


def _progress(view: ServerView, task_state: str, host: str) -> shelve_ev.ServerShelveProgressed:
    return shelve_ev.ServerShelveProgressed(
        server_id=view.server_id, host=host, task_state=task_state
    )


async def _shelve(ctx: HostContext, view: ServerView) -> None:
    assert view.action is not None
    request = view.action
    image_id = request.image_id or ""
    host, name = ctx.host, guest_name(ctx.host, view.server_id)
    if view.shelved_image_id != image_id:  # the snapshot is not in the log yet
        ran = view.vm_state == "active"
        try:
            async with asyncio.timeout(ctx.config.snapshot_timeout):
                await ctx.driver.power_off(name, timeout=ctx.config.clean_shutdown_timeout)
                after = await _advance(
                    ctx, view, [_progress(view, "shelving_image_pending_upload", host)]
                )
                if after is None:
                    return
                view = await _upload(ctx, after, image_id)
        except _Dropped:
            return
        except Exception as exc:
            with contextlib.suppress(Exception):
                await ctx.images.source.delete(image_id)
            if ran:
                with contextlib.suppress(Exception):
                    await ctx.driver.power_on(name)
            reason = failure_reason(exc, "shelve", ctx.config.snapshot_timeout)
            await end_action(ctx, view, failed=reason)
            return
        shelved = shelve_ev.ServerShelved(server_id=view.server_id, host=host, image_id=image_id)
        if not request.offload:
            await end_action(ctx, view, done=("shelved", SHUTDOWN), with_events=[shelved])
            log.info("compute.shelved", host=host, server_id=view.server_id, image_id=image_id)
            return
        after = await _advance(ctx, view, [shelved, _progress(view, "shelving_offloading", host)])
        if after is None:
            return
        view = after
    await _offload(ctx, view)


class _Dropped(Exception):
    """The stream stopped waiting for the action mid-way (nothing to report)."""


async def _upload(ctx: HostContext, view: ServerView, image_id: str) -> ServerView:
    """Copy the (powered off) guest's disk and upload it into ``image_id``."""
    instance = ctx.config.paths.instance(view.server_id)
    source = instance / "disk"
    if not await asyncio.to_thread(source.exists):
        raise ShelveError(f"server {view.server_id} has no disk on {ctx.host} to shelve")
    copy = instance / f"shelve-{image_id}.qcow2"
    try:
        await disk.convert(source, copy)
        after = await _advance(ctx, view, [_progress(view, "shelving_image_uploading", ctx.host)])
        if after is None:
            raise _Dropped()
        await ctx.images.source.upload(image_id, copy)
        return after
    finally:
        await asyncio.to_thread(copy.unlink, True)


async def _offload(ctx: HostContext, view: ServerView) -> None:
    """Take the shelved server off this host: SHELVED_OFFLOADED, its claim released."""
    assert view.action is not None
    host, cause = ctx.host, view.action_event
    request_id = None if cause is None else cause.id
    try:
        async with asyncio.timeout(ctx.config.delete_timeout):
            await remove_guest(ctx, view.server_id)
            await unplug_all(ctx.ports, view.nics)
    except Exception as exc:
        await end_action(
            ctx, view, failed=failure_reason(exc, "offload", ctx.config.delete_timeout)
        )
        return
    offloaded = shelve_ev.ServerShelveOffloaded(server_id=view.server_id, host=host)
    completed = ev.ServerActionCompleted(
        server_id=view.server_id,
        host=host,
        action=view.action.action,
        vm_state="shelved_offloaded",
        power_state=SHUTDOWN,
    )

    def pending(v: ServerView) -> bool:
        return v.action_event is not None and v.action_event.id == request_id

    if await append_outcome(
        ctx,
        view,
        pending,
        lambda v: [on_server(v, [offloaded, completed], cause), release_claim(host, v, cause)],
    ):
        log.info("compute.shelve_offloaded", host=host, server_id=view.server_id)


async def _power_on(ctx: HostContext, view: ServerView) -> None:
    """Unshelve a SHELVED server: its guest, still here, runs again."""
    assert view.action is not None
    name = guest_name(ctx.host, view.server_id)
    try:
        async with asyncio.timeout(ctx.config.action_timeout):
            if await ctx.driver.state(name) is not GuestState.RUNNING:
                await ctx.driver.power_on(name)
            await _delete_image(ctx, view.action.image_id)
    except Exception as exc:
        reason = failure_reason(exc, "unshelve", ctx.config.action_timeout)
        await end_action(ctx, view, failed=reason)
        return
    await end_action(ctx, view, done=("active", RUNNING))


async def _delete_image(ctx: HostContext, image_id: str | None) -> None:
    if image_id:
        await ctx.images.source.delete(image_id)


# -- unshelve of an offloaded server --------------------------------------------------------


async def unshelve(ctx: HostContext, view: ServerView) -> None:
    """Boot the offloaded server's guest here from its shelved image:
    ServerUnshelved, or ServerUnshelveFailed with the claim released."""
    boot = view.created
    assert boot is not None
    host, attempt, cause = ctx.host, view.attempt, view.scheduled_event
    image_id = view.shelved_image_id

    def pending(v: ServerView) -> bool:
        return v.unshelving and v.host == host and v.attempt == attempt and not v.deleted

    async def fail(reason: str) -> None:
        log.warning("compute.unshelve_failed", host=host, server_id=view.server_id, reason=reason)
        with contextlib.suppress(Exception):
            await remove_guest(ctx, view.server_id)
        failed = shelve_ev.ServerUnshelveFailed(server_id=view.server_id, host=host, reason=reason)
        await append_outcome(
            ctx,
            view,
            pending,
            lambda v: [on_server(v, [failed], cause), release_claim(host, v, cause)],
        )

    if view.spawn_starts >= MAX_SPAWN_STARTS:
        starts = view.spawn_starts
        await fail(f"the compute agent of {host} stopped during this unshelve {starts} times")
        return
    if image_id is None:
        await fail("the server has no shelved image to unshelve from")
        return
    leftovers = view.spawn_starts > 0
    started = ev.ServerSpawnStarted(server_id=view.server_id, host=host)
    try:
        result = await ctx.store.append(on_server(view, [started], cause))
    except WrongExpectedVersion:
        return  # the stream moved: the caller decides again
    view = dataclasses.replace(
        view,
        version=result.versions[server_stream(view.server_id)],
        spawn_starts=view.spawn_starts + 1,
    )
    # The boot request as the shelve left it: its image's properties (a kernel
    # to boot, say) over the shelved image's data, and the NICs it has now.
    created = msgspec.structs.replace(
        boot, image=msgspec.structs.replace(boot.image, image_id=image_id), networks=view.nics
    )
    try:
        async with asyncio.timeout(ctx.config.spawn_timeout):
            if leftovers:
                await remove_guest(ctx, view.server_id)
            definition = await plan_guest(host, ctx.config.paths, ctx.images, created)
            plugged = await plug(ctx.ports, host, created, bridge_wait=ctx.config.bridge_wait)
            definition = dataclasses.replace(definition, nics=plugged.nics)
            if created.config_drive:
                instance = config_drive.for_request(
                    created, plugged.ports, ctx.config.availability_zone
                )
                drive = await config_drive.build(
                    ctx.config.paths.instance(view.server_id), instance
                )
                definition = dataclasses.replace(definition, config_drive=drive)
            await ctx.driver.spawn(definition)
            await _delete_image(ctx, image_id)
    except Exception as exc:
        await fail(failure_reason(exc, "unshelve", ctx.config.spawn_timeout))
        return
    unshelved = shelve_ev.ServerUnshelved(
        server_id=view.server_id,
        host=host,
        launched_at=now(),
        instance_name=definition.name,
        console_log=str(definition.console_log),
        addresses=plugged.addresses,
    )
    if await append_outcome(ctx, view, pending, lambda v: [on_server(v, [unshelved], cause)]):
        log.info("compute.unshelved", host=host, server_id=view.server_id)
