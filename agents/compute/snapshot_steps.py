"""The agent's snapshot step: a server's disk uploaded into the image ``createImage`` made.

A running guest is paused while ``qemu-img convert`` copies its disk (its
backing chain folded in, so the image stands alone), then resumed: the copy is
consistent as a power cut is, and the guest loses a moment, not its state.
A stopped, paused or suspended guest is copied as it is. The copy goes up to
the image service, and the action completes; if anything fails, the queued
image is deleted (as Nova does) and the action fails with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from cairn.agents.compute import disk
from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import GuestState
from cairn.agents.compute.guest_plan import guest_name
from cairn.agents.compute.server_view import ServerView
from cairn.agents.compute.steps import OBSERVED, end_action, failure_reason
from cairn.errors import CairnError
from cairn.logs import get_logger

log = get_logger(__name__)

ACTIONS = frozenset({"createImage"})


class SnapshotError(CairnError):
    """The server has nothing to snapshot."""


async def run(ctx: HostContext, view: ServerView) -> None:
    """Upload the server's disk into the action's image: ServerActionCompleted, or
    ServerActionFailed with the image deleted."""
    assert view.action is not None
    image_id = view.action.image_id or ""
    name = guest_name(ctx.host, view.server_id)
    started = time.monotonic()
    try:
        async with asyncio.timeout(ctx.config.snapshot_timeout):
            await _snapshot(ctx, view.server_id, name, image_id, running=view.vm_state == "active")
            state = await ctx.driver.state(name)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await ctx.images.source.delete(image_id)
        reason = failure_reason(exc, "snapshot", ctx.config.snapshot_timeout)
        await end_action(ctx, view, failed=reason)
        return
    await end_action(ctx, view, done=OBSERVED.get(state, (view.vm_state, 0)))
    log.info(
        "compute.snapshot_done",
        host=ctx.host,
        server_id=view.server_id,
        image_id=image_id,
        seconds=round(time.monotonic() - started, 2),
    )


async def _snapshot(
    ctx: HostContext, server_id: str, name: str, image_id: str, *, running: bool
) -> None:
    """Copy and upload the disk; ``running``: the log says the guest runs, so it is
    paused for the copy and runs again afterwards, also when an agent that died
    mid-copy left it paused."""
    instance = ctx.config.paths.instance(server_id)
    source = instance / "disk"
    if not await asyncio.to_thread(source.exists):
        raise SnapshotError(f"server {server_id} has no disk on {ctx.host} to snapshot")
    copy = instance / f"snapshot-{image_id}.qcow2"
    try:
        if running and await ctx.driver.state(name) is GuestState.RUNNING:
            await ctx.driver.pause(name)
        try:
            await disk.convert(source, copy)
        finally:
            if running and await ctx.driver.state(name) is GuestState.PAUSED:
                await ctx.driver.unpause(name)
        await ctx.images.source.upload(image_id, copy)
    finally:
        await asyncio.to_thread(copy.unlink, True)
