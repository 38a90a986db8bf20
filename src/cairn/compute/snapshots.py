"""The snapshot decider: ``createImage`` asks the server's agent to upload its disk.

The image is created (queued, no data) in the image service before the request
is appended, as Nova does, so the API can answer with its id at once; the agent
of the server's host copies the guest's disk into it and ends the action. Nova
snapshots active, stopped, paused and suspended servers, with no other task in
flight, and not while locked (for its owner).
"""

from __future__ import annotations

from cairn.compute.decide import Writes, write
from cairn.compute.servers import ready_for, server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server

ALLOWED = ("active", "stopped", "paused", "suspended")


def check(server: Server, *, is_admin: bool) -> str:
    """The server's host, or the refusal of a snapshot now."""
    return ready_for("createImage", server, ALLOWED, is_admin=is_admin)


def snapshot(
    state: ComputeState, meta: Metadata, server: Server, image_id: str, *, is_admin: bool
) -> Writes:
    host = check(server, is_admin=is_admin)
    event = ev.ServerActionRequested(
        server_id=server.id, host=host, action="createImage", image_id=image_id
    )
    return [write(state, server_stream(server.id), [event], meta)]
