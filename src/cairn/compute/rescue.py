"""Rescue deciders: a server booted from a rescue image, its own disk beside it.

Nova's rules: ``rescue`` from ACTIVE, SHUTOFF or ERROR, ``unrescue`` from
RESCUE, no task in flight, not locked (for the owner); a volume-backed server
(no image to boot its rescue from, no disk of its own on the host) cannot be
rescued. The rescue image is the one asked for, else the server's own image.
"""

from __future__ import annotations

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Invalid
from cairn.compute.servers import ready_for, server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server

RESCUABLE = ("active", "stopped", "error")


def check(server: Server, *, is_admin: bool) -> str:
    """The server's host, or the refusal of a rescue now."""
    host = ready_for("rescue", server, RESCUABLE, is_admin=is_admin)
    if not server.image.image_id:
        raise Invalid(
            f"Instance {server.id} cannot be rescued: Cannot rescue a volume-backed instance"
        )
    return host


def rescue(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    image_id: str | None,
    sealed_password: str | None,
    *,
    is_admin: bool,
) -> Writes:
    host = check(server, is_admin=is_admin)
    event = ev.ServerActionRequested(
        server_id=server.id,
        host=host,
        action="rescue",
        image_id=image_id or server.image.image_id,
        sealed_password=sealed_password,
    )
    return [write(state, server_stream(server.id), [event], meta)]


def unrescue(state: ComputeState, meta: Metadata, server: Server, *, is_admin: bool) -> Writes:
    host = ready_for("unrescue", server, ("rescued",), is_admin=is_admin)
    event = ev.ServerActionRequested(server_id=server.id, host=host, action="unrescue")
    return [write(state, server_stream(server.id), [event], meta)]
