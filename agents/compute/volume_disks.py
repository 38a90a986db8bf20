"""Volumes as guest disks: Cinder's connection info read as a disk, and the
records of an attach (on the server's and the volume's streams)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import VolumeDisk
from cairn.agents.compute.volumes_cinder import VolumeServiceError
from cairn.events import DomainEvent
from cairn.events import compute_volumes as cv
from cairn.events import volume as vev
from cairn.projections.volume import volume_stream


def disk_of(info: dict[str, Any], entry: dict[str, str]) -> VolumeDisk:
    """The guest disk that Cinder's connection info ``info`` describes."""
    kind = info.get("driver_volume_type")
    data = info.get("data") or {}
    if kind != "file" or not data.get("device_path"):
        raise VolumeServiceError(
            f"volume {entry['volume_id']}: this host cannot reach a {kind!r} volume"
        )
    return VolumeDisk(
        path=Path(data["device_path"]),
        serial=entry["volume_id"],
        target=entry["device"].removeprefix("/dev/"),
        format=str(data.get("format") or "raw"),
        readonly=data.get("access_mode") == "ro",
    )


async def reach_all(ctx: HostContext, entries: list[dict[str, str]]) -> tuple[VolumeDisk, ...]:
    """The disks of volumes the server has already (a rebuilt guest gets them again)."""
    if not entries or ctx.volumes is None:
        return ()
    disks = []
    for entry in entries:
        if entry.get("boot_index") == "0":
            continue
        info = await ctx.volumes.initialize_connection(entry["volume_id"], ctx.host)
        disks.append(disk_of(info, entry))
    return tuple(disks)


def attached_events(
    ctx: HostContext, server_id: str, entry: dict[str, str], disk: VolumeDisk
) -> tuple[DomainEvent, tuple[str, DomainEvent]]:
    """The server's and the volume's records of an attach that happened."""
    volume_id = entry["volume_id"]
    on_volume = vev.VolumeAttached(
        volume_id=volume_id,
        attachment_id=entry["attachment_id"],
        server_id=server_id,
        host_name=ctx.host,
        mountpoint=entry["device"],
        mode="ro" if disk.readonly else "rw",
    )
    return (
        cv.ServerVolumeAttached(server_id=server_id, host=ctx.host, volume=dict(entry)),
        (volume_stream(volume_id), on_volume),
    )
