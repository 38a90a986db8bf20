"""Interface deciders: hot-plugging a NIC into a server and unplugging one.

The port is made (or taken) by the network port before the request is
appended, as for a boot; the request is an ``attach_interface`` action for the
server's agent, which binds the port to its host, plugs the NIC into the guest
and appends the outcome. Nova allows both while the server is active, paused
or stopped, with no other task in flight and not locked (for its owner).
"""

from __future__ import annotations

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Conflict, NotFound
from cairn.compute.servers import server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server

#: vm_states in which Nova attaches and detaches interfaces
ALLOWED = ("active", "paused", "stopped")


def _check(server: Server, verb: str, *, is_admin: bool) -> str:
    if server.locked and not is_admin:
        raise Conflict(f"Instance {server.id} is locked")
    if server.task_state is not None:
        raise Conflict(
            f"Cannot '{verb}' instance {server.id} while it is in task_state {server.task_state}"
        )
    if server.vm_state not in ALLOWED:
        raise Conflict(
            f"Cannot '{verb}' instance {server.id} while it is in vm_state {server.vm_state}"
        )
    if server.host is None:
        raise Conflict(f"Instance {server.id} is not on a host; it cannot '{verb}'.")
    return server.host


def check_attach(server: Server, *, is_admin: bool) -> None:
    """Refuse before a port is made for a server that cannot take one now."""
    _check(server, "attach_interface", is_admin=is_admin)


def attach(
    state: ComputeState, meta: Metadata, server: Server, nic: dict[str, str], *, is_admin: bool
) -> Writes:
    host = _check(server, "attach_interface", is_admin=is_admin)
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
    host = _check(server, "detach_interface", is_admin=is_admin)
    event = ev.ServerActionRequested(
        server_id=server.id, host=host, action="detach_interface", nic=dict(nic)
    )
    return [write(state, server_stream(server.id), [event], meta)]
