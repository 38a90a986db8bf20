"""Interface deciders: hot-plugging a NIC into a server and unplugging one.

The port is made (or taken) by the network port before the request is
appended, as for a boot; the request is an ``attach_interface`` action for the
server's agent, which binds the port to its host, plugs the NIC into the guest
and appends the outcome. Nova allows both while the server is active, paused
or stopped, with no other task in flight and not locked (for its owner).
"""

from __future__ import annotations

from cairn.compute.decide import Writes, write
from cairn.compute.errors import NotFound
from cairn.compute.servers import ready_for, server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server

#: vm_states in which Nova attaches and detaches interfaces
ALLOWED = ("active", "paused", "stopped")


def check_attach(server: Server, *, is_admin: bool) -> None:
    """Refuse before a port is made for a server that cannot take one now."""
    ready_for("attach_interface", server, ALLOWED, is_admin=is_admin)


def attach(
    state: ComputeState, meta: Metadata, server: Server, nic: dict[str, str], *, is_admin: bool
) -> Writes:
    host = ready_for("attach_interface", server, ALLOWED, is_admin=is_admin)
    event = ev.ServerActionRequested(
        server_id=server.id, host=host, action="attach_interface", nic=nic
    )
    return [write(state, server_stream(server.id), [event], meta)]


def detach(
    state: ComputeState, meta: Metadata, server: Server, port_id: str, *, is_admin: bool
) -> Writes:
    nic = next((n for n in server.networks if n.get("port") == port_id), None)
    if nic is None:
        raise NotFound(f"Port {port_id} is not attached")
    host = ready_for("detach_interface", server, ALLOWED, is_admin=is_admin)
    event = ev.ServerActionRequested(
        server_id=server.id, host=host, action="detach_interface", nic=dict(nic)
    )
    return [write(state, server_stream(server.id), [event], meta)]
