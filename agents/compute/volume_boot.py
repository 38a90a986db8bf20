"""The volumes a boot asked for (``block_device_mapping_v2`` with
``destination_type: volume``), made ready for the guest's first start.

The compute API made each volume (from an image, a snapshot, or blank) or took
the one given, and put its entry in the boot request (``block_devices``,
:mod:`cairn.events.compute_volumes`). At spawn the agent waits for each volume
to be ``available`` (a volume from an image takes its conversion's time),
reserves it (unless the API did: ``attaching``), asks the volume service for its
connection info, and puts it in the guest's definition: the boot volume
(``boot_index`` 0) as the root disk, the others after it. The spawn's outcome
records every attach on the server's and the volumes' streams in the same
append as :class:`~cairn.events.compute.ServerSpawned`; a failed spawn gives the
reservations back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import RootDisk, VolumeDisk
from cairn.agents.compute.volume_disks import attached_events, disk_of
from cairn.agents.compute.volumes_cinder import VolumeServiceError
from cairn.events import DomainEvent
from cairn.events import compute as ev
from cairn.events import volume as vev
from cairn.projections.volume import volume_stream

#: How often a spawn looks at a volume that is still being made.
POLL = 0.5


@dataclass
class BootVolumes:
    root: RootDisk | None = None
    others: tuple[VolumeDisk, ...] = ()
    #: what the spawn's outcome records: on the server, and on the volumes' streams
    on_server: list[DomainEvent] = field(default_factory=list)
    elsewhere: list[tuple[str, DomainEvent]] = field(default_factory=list)


def undo(request: ev.ServerCreateRequested) -> list[tuple[str, DomainEvent]]:
    """The volumes' reservations given back after a failed spawn."""
    return [
        (volume_stream(e["volume_id"]), vev.VolumeUnreserved(volume_id=e["volume_id"]))
        for e in request.block_devices
    ]


async def prepare(ctx: HostContext, request: ev.ServerCreateRequested) -> BootVolumes:
    found = BootVolumes()
    if not request.block_devices:
        return found
    if ctx.volumes is None:
        raise VolumeServiceError("this host reaches no block storage service")
    others: list[VolumeDisk] = []
    for entry in request.block_devices:
        volume_id = entry["volume_id"]
        await _reserve(ctx, volume_id)
        info = await ctx.volumes.initialize_connection(volume_id, ctx.host)
        disk = disk_of(info, entry)
        if entry.get("boot_index") == "0":
            found.root = RootDisk(path=disk.path, format=disk.format)
        else:
            others.append(disk)
        on_server, elsewhere = attached_events(ctx, request.server_id, entry, disk)
        found.on_server.append(on_server)
        found.elsewhere.append(elsewhere)
    found.others = tuple(others)
    return found


async def _reserve(ctx: HostContext, volume_id: str) -> None:
    """Wait for the volume to be made, and reserve it for this server."""
    assert ctx.volumes is not None
    while True:
        status = str((await ctx.volumes.show(volume_id)).get("status"))
        if status in ("attaching", "reserved"):
            return  # reserved already (by the API, or by an earlier attempt)
        if status == "available":
            await ctx.volumes.reserve(volume_id)
            return
        if status in ("error", "error_deleting", "deleting", "in-use"):
            raise VolumeServiceError(f"volume {volume_id} is {status}: the server cannot use it")
        await asyncio.sleep(POLL)
