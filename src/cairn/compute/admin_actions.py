"""Deciders of the actions only admins take on a server: Nova's ``os-resetState``.

A reset writes the server's ``vm_state`` (``active`` or ``error``) and ends
its task, nothing else: no agent acts on it (Nova's reset is a database write
too). It is how an operator gets a server out of a state the system could
not resolve, or marks one as broken so that its owner deletes it.

A reset during a resize ends the resize there (its migration ``error``, the
agent no longer works on it) and settles the host's claim and the project's
quota in the same append, to the flavor the server shows: the new one from
VERIFY_RESIZE on, the old one before. Without that the second claim stayed
held until the server was deleted.
"""

from __future__ import annotations

from cairn.compute import resizes
from cairn.compute.decide import Writes, write
from cairn.compute.servers import server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute_state import ComputeState, Server

RESET_STATES = ("active", "error")


def reset_state(state: ComputeState, meta: Metadata, server: Server, vm_state: str) -> Writes:
    event = ev.ServerStateReset(server_id=server.id, vm_state=vm_state)
    writes = [write(state, server_stream(server.id), [event], meta)]
    migration = resizes.migration_of(state, server)
    if migration is not None and migration.status not in resizes.SETTLED:
        kept = "new" if migration.status in resizes.RESIZED else "old"
        writes.extend(resizes.settle(server, migration, kept, meta))
    return writes
