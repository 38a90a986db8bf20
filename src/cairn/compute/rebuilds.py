"""The rebuild decider: a server's guest made again from another (or the same) image.

Nova rebuilds active, stopped and errored servers with no task in flight, and
not while locked (for its owner). What the request changes (image, name,
metadata, key, user data, description) is recorded with the request; the agent
of the server's host replaces the guest.
"""

from __future__ import annotations

import msgspec

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Conflict
from cairn.compute.servers import server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server

ALLOWED = ("active", "stopped", "error")


def check(server: Server, *, is_admin: bool) -> str:
    """The server's host, or the refusal of a rebuild now."""
    if server.locked and not is_admin:
        raise Conflict(f"Instance {server.id} is locked")
    if server.task_state is not None:
        raise Conflict(
            f"Cannot 'rebuild' instance {server.id} while it is in task_state {server.task_state}"
        )
    if server.vm_state not in ALLOWED:
        raise Conflict(
            f"Cannot 'rebuild' instance {server.id} while it is in vm_state {server.vm_state}"
        )
    if server.host is None:
        raise Conflict(f"Instance {server.id} is not on a host; it cannot 'rebuild'.")
    return server.host


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
