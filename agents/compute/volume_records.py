"""What a server's end means for its volumes: detached with the server's
deletion (in the same append as :class:`~cairn.events.compute.ServerDeleted`),
and deleted afterwards when they were to go with it (``delete_on_termination``).

The deletion is the volume service's decision (quota, snapshots): the agent asks
it over HTTP once the detach is in the log, retrying while the volume service's
read model has not yet seen the detach (Cinder refuses to delete a volume in
use). A volume whose deletion kept failing is left ``available`` and logged: it
is the user's to delete, never lost in ``in-use``.

A server whose guest never spawned has none of its boot's volumes attached
(the failed spawn gave their reservations back), yet the volumes the boot made
or was given are still its block device mappings, as Nova keeps them for an
ERROR server: its deletion deletes those marked ``delete_on_termination``
(:func:`~cairn.events.compute_volumes.unattached_boot_volumes`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cairn.agents.compute.context import HostContext
from cairn.agents.compute.server_view import ServerView
from cairn.agents.compute.volumes_cinder import VolumeGone, VolumeServiceError
from cairn.events import DomainEvent
from cairn.events import compute_volumes as cv
from cairn.events import volume as vev
from cairn.logs import get_logger
from cairn.projections.volume import volume_stream

log = get_logger(__name__)

#: How long a deletion waits for the volume service to see the detach.
DELETE_PATIENCE = 20.0


@dataclass
class Records:
    on_server: list[DomainEvent] = field(default_factory=list)
    #: (stream, event) on the volumes' own streams
    elsewhere: list[tuple[str, DomainEvent]] = field(default_factory=list)


def detached_on_delete(host: str, view: ServerView) -> Records:
    """The events that detach every volume of a server being deleted."""
    records = Records()
    for entry in view.volumes:
        volume_id, attachment_id = entry["volume_id"], entry.get("attachment_id", "")
        records.on_server.append(
            cv.ServerVolumeDetached(
                server_id=view.server_id,
                host=host,
                volume_id=volume_id,
                attachment_id=attachment_id,
            )
        )
        records.elsewhere.append(
            (
                volume_stream(volume_id),
                vev.VolumeDetached(volume_id=volume_id, attachment_id=attachment_id),
            )
        )
    return records


async def delete_on_termination(ctx: HostContext, view: ServerView) -> None:
    """Delete the volumes of a deleted server that were to go with it."""
    boot = [] if view.created is None else view.created.block_devices
    entries = [*view.volumes, *cv.unattached_boot_volumes(boot, view.volumes, spawned=view.spawned)]
    doomed = [e["volume_id"] for e in entries if e.get("delete_on_termination") == "true"]
    if not doomed or ctx.volumes is None:
        return
    for volume_id in doomed:
        await _delete(ctx, view.server_id, volume_id)


async def _delete(ctx: HostContext, server_id: str, volume_id: str) -> None:
    assert ctx.volumes is not None
    deadline = asyncio.get_running_loop().time() + DELETE_PATIENCE
    while True:
        try:
            await ctx.volumes.delete(volume_id)
            log.info("compute.volume_deleted", server_id=server_id, volume_id=volume_id)
            return
        except VolumeGone:
            return
        except VolumeServiceError as exc:
            if asyncio.get_running_loop().time() > deadline:
                log.warning(
                    "compute.volume_delete_failed",
                    server_id=server_id,
                    volume_id=volume_id,
                    error=str(exc),
                )
                return
        await asyncio.sleep(0.5)
