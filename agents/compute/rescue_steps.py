"""The agent's rescue steps: a guest booted from a rescue image, the server's disk beside it.

**Rescue** shuts the guest down (clean, forced after the timeout), forgets its
definition but keeps its files, and starts a guest of the same name from the
rescue image (a new overlay ``disk.rescue``, or a blank one for an image of a
kernel only), with the server's own disk as its second disk, the server's NICs
and, if it has one, a config drive carrying the request's ``adminPass``: as
Nova's libvirt driver. The server is RESCUE.

**Unrescue** forgets the rescue guest, removes its disk, and starts the
server's guest again on its own disk, untouched: ACTIVE.

Both are idempotent: an agent killed in the middle finds the action still
requested and does it again from the top (whichever guest is defined is
forgotten first; the server's disk is never written by the steps).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import msgspec

from cairn.agents.compute import config_drive, disk
from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import GuestDefinition, GuestNotFound, RootDisk
from cairn.agents.compute.guest_plan import guest_name, plan_guest
from cairn.agents.compute.nics import plug
from cairn.agents.compute.server_view import ServerView
from cairn.agents.compute.steps import RUNNING, end_action, failure_reason
from cairn.errors import CairnError
from cairn.events import compute as ev
from cairn.logs import get_logger

log = get_logger(__name__)

ACTIONS = frozenset({"rescue", "unrescue"})
RESCUE_DISK = "disk.rescue"


class RescueError(CairnError):
    """The server has no disk of its own to rescue."""


async def run(ctx: HostContext, view: ServerView) -> None:
    """Rescue or unrescue: ServerActionCompleted, or ServerActionFailed."""
    assert view.action is not None
    action = view.action.action
    try:
        async with asyncio.timeout(ctx.config.spawn_timeout):
            if action == "rescue":
                await _rescue(ctx, view)
            else:
                await _unrescue(ctx, view)
    except Exception as exc:
        await end_action(ctx, view, failed=failure_reason(exc, action, ctx.config.spawn_timeout))
        return
    done = ("rescued", RUNNING) if action == "rescue" else ("active", RUNNING)
    await end_action(ctx, view, done=done)
    log.info("compute.action_done", host=ctx.host, server_id=view.server_id, action=action)


async def _rescue(ctx: HostContext, view: ServerView) -> None:
    assert view.action is not None
    assert view.created is not None
    request = view.action
    name = guest_name(ctx.host, view.server_id)
    instance = ctx.config.paths.instance(view.server_id)
    own, spare = instance / "disk", instance / RESCUE_DISK
    if not await asyncio.to_thread(own.exists):
        raise RescueError(f"server {view.server_id} has no disk on {ctx.host} to rescue")
    with contextlib.suppress(GuestNotFound):
        await ctx.driver.power_off(name, timeout=ctx.config.clean_shutdown_timeout)
    await ctx.driver.forget(name)
    await asyncio.to_thread(spare.unlink, True)
    image_id = request.image_id or view.created.image.image_id
    # The server's own image keeps the properties it was booted with; another
    # rescue image brings its own (its kernel, say).
    image = (
        view.created.image
        if image_id == view.created.image.image_id
        else ev.ImageSnapshot(image_id=image_id)
    )
    created = msgspec.structs.replace(view.created, image=image, networks=view.nics)
    password = ctx.open_secret(request.sealed_password)
    definition = await _guest(ctx, view, created, admin_password=password)
    root = definition.root_disk
    if root is not None and root.backing is not None:
        rescue_root = dataclasses.replace(root, path=spare)
    else:
        # an image with no data: a blank disk of the flavor's size, never the server's own
        await disk.create(spare, size_gb=max(created.flavor.disk_gb, 1))
        rescue_root = RootDisk(path=spare)
    await ctx.driver.spawn(
        dataclasses.replace(definition, root_disk=rescue_root, data_disks=(own,))
    )


async def _unrescue(ctx: HostContext, view: ServerView) -> None:
    assert view.created is not None
    name = guest_name(ctx.host, view.server_id)
    instance = ctx.config.paths.instance(view.server_id)
    await ctx.driver.forget(name)
    await asyncio.to_thread((instance / RESCUE_DISK).unlink, True)
    created = msgspec.structs.replace(view.created, networks=view.nics)
    definition = await _guest(ctx, view, created, admin_password=None)
    # The server's own disk as the rescue left it: no new overlay over it.
    own = RootDisk(path=instance / "disk")
    await ctx.driver.spawn(dataclasses.replace(definition, root_disk=own))


async def _guest(
    ctx: HostContext,
    view: ServerView,
    created: ev.ServerCreateRequested,
    *,
    admin_password: str | None,
) -> GuestDefinition:
    """The guest ``created`` describes, with the server's NICs and config drive."""
    definition = await plan_guest(ctx.host, ctx.config.paths, ctx.images, created)
    plugged = await plug(ctx.ports, ctx.host, created, bridge_wait=ctx.config.bridge_wait)
    definition = dataclasses.replace(definition, nics=plugged.nics)
    if created.config_drive:
        instance = config_drive.for_request(
            created, plugged.ports, ctx.config.availability_zone, admin_password=admin_password
        )
        drive = await config_drive.build(ctx.config.paths.instance(view.server_id), instance)
        definition = dataclasses.replace(definition, config_drive=drive)
    return definition
