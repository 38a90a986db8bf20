"""The rebuild decider: a server's guest made again from another (or the same) image.

Nova rebuilds active, stopped and errored servers with no task in flight, and
not while locked (for its owner). What the request changes (image, name,
metadata, key, user data, description) is recorded with the request; the agent
of the server's host replaces the guest.
"""

from __future__ import annotations

import msgspec

from cairn.compute.decide import Writes, write
from cairn.compute.servers import ready_for, server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server

ALLOWED = ("active", "stopped", "error")


def check(server: Server, *, is_admin: bool) -> str:
    """The server's host, or the refusal of a rebuild now."""
    return ready_for("rebuild", server, ALLOWED, is_admin=is_admin)


def rebuild(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    request: ev.ServerRebuildRequested,
    *,
    is_admin: bool,
) -> Writes:
    host = check(server, is_admin=is_admin)
    event = msgspec.structs.replace(request, host=host)
    return [write(state, server_stream(server.id), [event], meta)]
