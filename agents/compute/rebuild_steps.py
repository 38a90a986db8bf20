"""The agent's rebuild step: the server's guest and disk replaced by fresh ones.

The old guest and its files go (as at delete), and a new guest is planned from
the boot request as the rebuild changed it (the new image, name, key, user
data, metadata), with the NICs the server has now (hot-plugged ones included:
its ports stay bound to this host) and a new config drive if it had one; a
server that was stopped is stopped again once rebuilt, as Nova leaves it. The
host's claim does not change: the flavor is the same. A rebuild that fails
leaves the server in ERROR with the reason (Nova's behaviour); deleting it
then cleans up whatever is left.
"""

from __future__ import annotations

import asyncio
import dataclasses

import msgspec

from cairn.agents.compute import config_drive, volume_disks
from cairn.agents.compute.context import HostContext
from cairn.agents.compute.guest_plan import guest_name, plan_guest
from cairn.agents.compute.nics import plug
from cairn.agents.compute.server_view import ServerView, rebuilt
from cairn.agents.compute.steps import (
    RUNNING,
    SHUTDOWN,
    append_outcome,
    failure_reason,
    on_server,
    remove_guest,
)
from cairn.events import compute as ev
from cairn.logs import get_logger

log = get_logger(__name__)


async def run(ctx: HostContext, view: ServerView) -> None:
    """Rebuild the guest: ServerRebuilt, or ServerErrored with the reason."""
    assert view.rebuild is not None
    assert view.created is not None
    request, cause = view.rebuild, view.rebuild_event
    request_id = None if cause is None else cause.id

    def pending(v: ServerView) -> bool:
        return v.rebuild_event is not None and v.rebuild_event.id == request_id

    host, name = ctx.host, guest_name(ctx.host, view.server_id)
    created = msgspec.structs.replace(rebuilt(view.created, request), networks=view.nics)
    stopped = view.vm_state == "stopped"
    log.info("compute.rebuild_started", host=host, server_id=view.server_id)
    try:
        async with asyncio.timeout(ctx.config.spawn_timeout):
            await remove_guest(ctx, view.server_id)
            definition = await plan_guest(host, ctx.config.paths, ctx.images, created)
            plugged = await plug(ctx.ports, host, created, bridge_wait=ctx.config.bridge_wait)
            # The volumes the server has are the new guest's too.
            volumes = await volume_disks.reach_all(ctx, view.volumes)
            definition = dataclasses.replace(definition, nics=plugged.nics, volumes=volumes)
            if created.config_drive:
                instance = config_drive.for_request(
                    created,
                    plugged.ports,
                    ctx.config.availability_zone,
                    admin_password=ctx.open_secret(request.sealed_admin_password),
                )
                drive = await config_drive.build(
                    ctx.config.paths.instance(view.server_id), instance
                )
                definition = dataclasses.replace(definition, config_drive=drive)
            await ctx.driver.spawn(definition)
            if stopped:
                await ctx.driver.power_off(name, timeout=0)
    except Exception as exc:
        reason = failure_reason(exc, "rebuild", ctx.config.spawn_timeout)
        log.warning("compute.rebuild_failed", host=host, server_id=view.server_id, reason=reason)
        errored = ev.ServerErrored(
            server_id=view.server_id, fault_code=500, fault_message=f"Rebuild failed: {reason}"
        )
        await append_outcome(ctx, view, pending, lambda v: [on_server(v, [errored], cause)])
        return
    done = ev.ServerRebuilt(
        server_id=view.server_id,
        host=host,
        vm_state="stopped" if stopped else "active",
        power_state=SHUTDOWN if stopped else RUNNING,
        console_log=str(definition.console_log),
    )
    await append_outcome(ctx, view, pending, lambda v: [on_server(v, [done], cause)])
    log.info("compute.rebuilt", host=host, server_id=view.server_id, image=created.image.image_id)
