"""Shelve deciders: ``shelve``, ``shelveOffload``, ``unshelve``, and the offloader.

Nova's rules. A server is shelved from ACTIVE, SHUTOFF, PAUSED or SUSPENDED
with no task in flight (and not while locked, for its owner): the image is
made first, as the caller (as ``createImage`` does), then the server's host is
asked to power the guest off and upload its disk. ``shelveOffload`` takes a
SHELVED server off its host; ``unshelve`` powers a SHELVED server on where it
is, and sends a SHELVED_OFFLOADED one back to the scheduler. Naming a zone
(2.77) or a host (2.91) is only for an offloaded server (409 otherwise); an
unknown zone or host is a 400.

``shelved_offload_time`` (:class:`~cairn.compute.config.ComputeConfig`): 0
offloads in the same agent step as the shelve (the request says ``offload``);
-1 never; N seconds: :func:`offload_due` finds the servers SHELVED that long,
and the compute service's loop asks for their offload (harmless twice: the
decider refuses a server no longer SHELVED or already offloading).

Quota is not touched: a shelved server, offloaded or not, still counts in its
project's instances, cores and RAM (Nova's default counting, from the
instances themselves), so an unshelve cannot exceed a quota.
"""

from __future__ import annotations

from collections.abc import Callable

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Conflict, Invalid
from cairn.compute.servers import _not_locked, ready_for, server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.events import compute_shelve as shelve_ev
from cairn.projections.compute import ComputeState, Server

ALLOWED = ("active", "stopped", "paused", "suspended")
OFFLOADER = Metadata(user_id="cairn-offloader", request_id="cairn-shelve-offload")
#: Nova's shelved_offload_time values that are not a number of seconds
AT_ONCE, NEVER = 0.0, -1.0


def check(server: Server, *, is_admin: bool) -> str:
    """The server's host, or the refusal of a shelve now."""
    return ready_for("shelve", server, ALLOWED, is_admin=is_admin)


def shelve(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    image_id: str,
    *,
    is_admin: bool,
    offload: bool,
) -> Writes:
    host = check(server, is_admin=is_admin)
    event = ev.ServerActionRequested(
        server_id=server.id, host=host, action="shelve", image_id=image_id, offload=offload
    )
    return [write(state, server_stream(server.id), [event], meta)]


def offload(state: ComputeState, meta: Metadata, server: Server, *, is_admin: bool) -> Writes:
    host = ready_for("shelveOffload", server, ("shelved",), is_admin=is_admin)
    event = ev.ServerActionRequested(server_id=server.id, host=host, action="shelveOffload")
    return [write(state, server_stream(server.id), [event], meta)]


#: ``unshelve``'s placement arguments: (zone given, the zone) and the host
Placement = tuple[tuple[bool, str | None], str | None]


def unshelve(
    state: ComputeState,
    meta: Metadata,
    server: Server,
    placement: Placement,
    *,
    is_admin: bool,
) -> Writes:
    (set_zone, zone), host = placement
    _not_locked(server, is_admin)
    if server.task_state is not None:
        raise Conflict(
            f"Cannot 'unshelve' instance {server.id} while it is in task_state {server.task_state}"
        )
    if server.vm_state not in ("shelved", "shelved_offloaded"):
        raise Conflict(
            f"Cannot 'unshelve' instance {server.id} while it is in vm_state {server.vm_state}"
        )
    if server.vm_state == "shelved":
        if set_zone or host is not None:
            raise Conflict(
                "The unshelve action failed: Specifying an availability zone or a host when "
                f"unshelving server {server.id} with status SHELVED is not supported. The "
                "server status must be SHELVED_OFFLOADED."
            )
        assert server.host is not None  # a SHELVED server is on its host
        event = ev.ServerActionRequested(
            server_id=server.id,
            host=server.host,
            action="unshelve",
            image_id=server.shelved_image_id,
        )
        return [write(state, server_stream(server.id), [event], meta)]
    if set_zone and zone is not None and zone not in _zones(state):
        raise Invalid("The requested availability zone is not available")
    if host is not None:
        found = state.hosts.get(host)
        if found is None:
            raise Invalid(f"Compute host {host} could not be found.")
        wanted = zone if set_zone else server.availability_zone
        if wanted and found.availability_zone != wanted:
            raise Invalid(
                f"Host {host} is not in the availability zone {wanted}: the server cannot "
                "be unshelved there."
            )
    requested = shelve_ev.ServerUnshelveRequested(
        server_id=server.id, set_zone=set_zone, availability_zone=zone, requested_host=host
    )
    return [write(state, server_stream(server.id), [requested], meta)]


def _zones(state: ComputeState) -> set[str]:
    return {host.availability_zone for host in state.hosts.values()}


def offload_due(state: ComputeState, interval: float, now: float) -> list[str]:
    """The servers SHELVED at least ``interval`` seconds, with nothing in flight."""
    return [
        s.id
        for s in state.servers.values()
        if s.vm_state == "shelved"
        and not s.deleted
        and s.task_state is None
        and s.host is not None
        and now - s.shelved_at >= interval
    ]


def offload_later(server_id: str) -> Callable[[ComputeState], Writes]:
    """The offloader's decision for ``server_id`` (nothing if no longer due)."""

    def decide(state: ComputeState) -> Writes:
        server = state.servers.get(server_id)
        if server is None or server.deleted or server.vm_state != "shelved":
            return []
        if server.task_state is not None or server.host is None:
            return []
        return offload(state, OFFLOADER, server, is_admin=True)

    return decide
