"""Volume attachment deciders: asking a server's agent to hot-plug a volume, or
to unplug one (Nova's ``os-volume_attachments``).

The volume service has reserved the volume for the server (or begun its
detach) before these run (:mod:`cairn.api.compute.volume_attachments`); the
request is an ``attach_volume`` / ``detach_volume`` action for the server's
agent, so the one-action-at-a-time rule, the task state, the deadline sweeper
and the instance actions apply as for any action. Nova attaches and detaches
while the server is active, paused or stopped, with no task under way and not
locked (for its owner).
"""

from __future__ import annotations

import string

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Invalid, NotFound
from cairn.compute.servers import ready_for, server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server

#: vm_states in which volumes are attached and detached here
ALLOWED = ("active", "paused", "stopped")


def attached(server: Server, volume_id: str) -> dict[str, str]:
    """The server's entry for ``volume_id``, or Nova's 404."""
    entry = next((v for v in server.volumes if v.get("volume_id") == volume_id), None)
    if entry is None:
        raise NotFound(f"Volume {volume_id} is not attached to instance {server.id}.")
    return entry


def check_attach(server: Server, volume_id: str, *, is_admin: bool) -> None:
    """Refuse before the volume is reserved: a server that cannot take it now
    (409), or one that has it already (400, as Nova)."""
    ready_for("attach_volume", server, ALLOWED, is_admin=is_admin)
    if any(v.get("volume_id") == volume_id for v in server.volumes):
        raise Invalid(f"Invalid volume: volume {volume_id} already attached")


def device_for(server: Server, requested: str | None) -> str:
    """The device the volume gets: the one asked for if free, else the next free
    virtio name after the root disk, the config drive and the volumes (as Nova's
    libvirt driver picks them; a guest names its disks in arrival order anyway)."""
    taken = {"vda"} | ({"vdb"} if server.config_drive else set())
    taken |= {v.get("device", "").removeprefix("/dev/") for v in server.volumes}
    if requested:
        name = requested.removeprefix("/dev/")
        if name not in taken and name.startswith("vd") and len(name) == 3:
            return f"/dev/{name}"
    for letter in string.ascii_lowercase[1:]:
        if f"vd{letter}" not in taken:
            return f"/dev/vd{letter}"
    raise Invalid("Invalid volume: the server has no free device name left.")


def attach(
    state: ComputeState, meta: Metadata, server: Server, entry: dict[str, str], *, is_admin: bool
) -> Writes:
    check_attach(server, entry["volume_id"], is_admin=is_admin)
    host = ready_for("attach_volume", server, ALLOWED, is_admin=is_admin)
    event = ev.ServerActionRequested(
        server_id=server.id, host=host, action="attach_volume", volume=entry
    )
    return [write(state, server_stream(server.id), [event], meta)]


def check_detach(server: Server, volume_id: str, *, is_admin: bool) -> dict[str, str]:
    entry = attached(server, volume_id)
    if entry.get("boot_index") == "0":
        raise Invalid(f"Invalid volume: can't detach root device volume {volume_id}")
    ready_for("detach_volume", server, ALLOWED, is_admin=is_admin)
    return entry


def detach(
    state: ComputeState, meta: Metadata, server: Server, volume_id: str, *, is_admin: bool
) -> Writes:
    entry = check_detach(server, volume_id, is_admin=is_admin)
    host = ready_for("detach_volume", server, ALLOWED, is_admin=is_admin)
    event = ev.ServerActionRequested(
        server_id=server.id, host=host, action="detach_volume", volume=dict(entry)
    )
    return [write(state, server_stream(server.id), [event], meta)]
