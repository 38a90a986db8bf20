"""The agent's volume steps: hot-plug a volume into a guest, and unplug it.

An ``attach_volume`` action asks the volume service how this host reaches the
volume (``os-initialize_connection`` with this host's connector: for the file
backend, the file's path and format), plugs it into the guest as a virtio disk
whose serial is the volume id (live and in the definition, so it stays through
reboots and power cycles), and appends in one append
:class:`~cairn.events.compute_volumes.ServerVolumeAttached` with the action's
completion on the server's stream and
:class:`~cairn.events.volume.VolumeAttached` on the volume's (``in-use``). A
``detach_volume`` unplugs the disk (the guest lets go of the PCI device),
terminates the connection, and appends
:class:`~cairn.events.compute_volumes.ServerVolumeDetached` with
:class:`~cairn.events.volume.VolumeDetached` (``available``).

Both are idempotent, so an agent killed half-way simply does the action again
when it restarts (the action is still pending in the stream): a disk already
plugged is found by its serial, one already gone is not looked for. A failed
attach unplugs what it plugged and gives the reservation back
(:class:`~cairn.events.volume.VolumeUnreserved`); a failed detach rolls the
volume back to ``in-use`` (:class:`~cairn.events.volume.VolumeDetachRolledBack`).
"""

from __future__ import annotations

import asyncio
import contextlib

from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import VolumeDisk
from cairn.agents.compute.guest_plan import guest_name
from cairn.agents.compute.server_view import ServerView
from cairn.agents.compute.steps import OBSERVED, _quietly, end_action, failure_reason
from cairn.agents.compute.volume_disks import attached_events, disk_of
from cairn.agents.compute.volumes_cinder import VolumeGone, VolumeServiceError
from cairn.events import DomainEvent
from cairn.events import compute_volumes as cv
from cairn.events import volume as vev
from cairn.logs import get_logger
from cairn.projections.volume import volume_stream

log = get_logger(__name__)

ACTIONS = frozenset({"attach_volume", "detach_volume"})


async def plug(ctx: HostContext, name: str, entry: dict[str, str]) -> VolumeDisk:
    """Reach the volume of ``entry`` and plug it into the guest ``name``."""
    if ctx.volumes is None:
        raise VolumeServiceError("this host reaches no block storage service")
    info = await ctx.volumes.initialize_connection(entry["volume_id"], ctx.host)
    disk = disk_of(info, entry)
    await ctx.driver.attach_disk(name, disk)
    return disk


async def run(ctx: HostContext, view: ServerView) -> None:
    """Do the requested volume action: its outcome and completion, or ServerActionFailed."""
    assert view.action is not None
    request = view.action
    entry = request.volume
    volume_id = entry.get("volume_id", "")
    name = guest_name(ctx.host, view.server_id)
    attaching = request.action == "attach_volume"
    try:
        async with asyncio.timeout(ctx.config.action_timeout):
            if attaching:
                disk = await plug(ctx, name, entry)
                outcome, on_volume = attached_events(ctx, view.server_id, entry, disk)
            else:
                await ctx.driver.detach_disk(name, volume_id, timeout=ctx.config.action_timeout / 2)
                await _terminate(ctx, volume_id)
                outcome = cv.ServerVolumeDetached(
                    server_id=view.server_id,
                    host=ctx.host,
                    volume_id=volume_id,
                    attachment_id=entry.get("attachment_id", ""),
                )
                on_volume = (
                    volume_stream(volume_id),
                    vev.VolumeDetached(
                        volume_id=volume_id, attachment_id=entry.get("attachment_id", "")
                    ),
                )
            state = await ctx.driver.state(name)
    except Exception as exc:
        reason = failure_reason(exc, request.action, ctx.config.action_timeout)
        undo: DomainEvent
        if attaching:
            await _quietly(ctx.driver.detach_disk(name, volume_id, timeout=10.0))
            undo = vev.VolumeUnreserved(volume_id=volume_id)
        else:
            undo = vev.VolumeDetachRolledBack(volume_id=volume_id)
        await end_action(
            ctx,
            view,
            failed=f"{reason} (volume {volume_id})",
            also=[(volume_stream(volume_id), undo)],
        )
        return
    done = OBSERVED.get(state, (view.vm_state, 0))
    await end_action(ctx, view, done=done, with_events=[outcome], also=[on_volume])
    log.info(
        "compute.volume_done",
        host=ctx.host,
        server_id=view.server_id,
        action=request.action,
        volume_id=volume_id,
    )


async def _terminate(ctx: HostContext, volume_id: str) -> None:
    """Tell the volume service this host no longer uses the volume (a volume gone
    meanwhile has no connection left to end)."""
    if ctx.volumes is None:
        return
    with contextlib.suppress(VolumeGone):
        await ctx.volumes.terminate_connection(volume_id, ctx.host)
