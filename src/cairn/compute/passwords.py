"""``changePassword``: a new administrator password for a running guest.

Nova asks the guest's agent (qemu-ga, through libvirt) to set it, only while the
server is ACTIVE with no task under way and not locked for its owner; a
hypervisor that cannot do it is a 409 ("not supported"), as is a guest whose
agent does not answer. The password goes to the host's agent sealed
(:mod:`cairn.sealing`): the log never holds it.
"""

from __future__ import annotations

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Conflict
from cairn.compute.servers import ready_for, server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server

ACTION = "changePassword"
#: the host capability the guest's agent is reached with
CAPABILITY = "set-password"


def change(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    sealed_password: str,
    *,
    is_admin: bool,
) -> Writes:
    host = ready_for(ACTION, server, ("active",), is_admin=is_admin)
    registered = state.hosts.get(host)
    if registered is None or CAPABILITY not in registered.capabilities:
        raise Conflict("Set admin password is not supported by this hypervisor.")
    event = ev.ServerActionRequested(
        server_id=server.id, host=host, action=ACTION, sealed_password=sealed_password
    )
    return [write(state, server_stream(server.id), [event], meta)]
