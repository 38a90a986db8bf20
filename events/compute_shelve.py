"""Shelving events: a server's guest set aside as an image, and brought back.

How a shelve flows (Nova's, on the server's stream):

1. API: the image ``<name>-shelved`` is made (queued) as the caller, then
   ``ServerActionRequested(action="shelve", image_id=..., offload=...)``:
   task state ``shelving``.
2. Agent: the guest is powered off, :class:`ServerShelveProgressed`
   (``shelving_image_pending_upload``, then ``shelving_image_uploading``) while
   its disk is copied and uploaded, then :class:`ServerShelved` (SHELVED, the
   guest off but still defined on its host) with the action's completion, or,
   when offloading at once, with ``shelving_offloading`` and then
   :class:`ServerShelveOffloaded` + ``HostResourcesReleased`` + the completion.
3. ``shelveOffload`` later (an admin, or the control plane's offloader after
   ``shelved_offload_time``): the same :class:`ServerShelveOffloaded`.
4. ``unshelve`` of a SHELVED server is an action of its host (the guest powers
   on); of a SHELVED_OFFLOADED one it is :class:`ServerUnshelveRequested`: the
   scheduler claims a host again (``ServerScheduled``), whose agent boots the
   guest from the shelved image and appends :class:`ServerUnshelved`, or
   :class:`ServerUnshelveFailed` with the claim's release.

Rescue needs no events of its own: ``rescue`` and ``unrescue`` are actions
that end in vm_state ``rescued`` and ``active``.
"""

from __future__ import annotations

from cairn.events.registry import DomainEvent, registry


@registry.event
class ServerShelveProgressed(DomainEvent, frozen=True):
    """The shelve of the server moved on to ``task_state`` (Nova's names)."""

    server_id: str
    host: str
    task_state: str


@registry.event
class ServerShelved(DomainEvent, frozen=True):
    """The guest is off and its disk is the image ``image_id``: SHELVED."""

    server_id: str
    host: str
    image_id: str


@registry.event
class ServerShelveOffloaded(DomainEvent, frozen=True):
    """The guest and its files left ``host`` (its ports were unbound from it):
    SHELVED_OFFLOADED, on no host. Appended with the host's claim release."""

    server_id: str
    host: str


@registry.event
class ServerUnshelveRequested(DomainEvent, frozen=True):
    """Unshelve an offloaded server: back to the scheduler (task ``unshelving``).

    ``set_zone``: the request named an availability zone (2.77) or unpinned it
    with ``null`` (2.91), and ``availability_zone`` is the server's zone from now
    on; ``requested_host``: an admin's host (2.91)."""

    server_id: str
    set_zone: bool = False
    availability_zone: str | None = None
    requested_host: str | None = None


@registry.event
class ServerUnshelved(DomainEvent, frozen=True):
    """The offloaded server runs again on ``host``, booted from its shelved image
    (which is deleted): ACTIVE."""

    server_id: str
    host: str
    launched_at: str
    instance_name: str
    console_log: str = ""
    addresses: dict[str, list[dict[str, str | int]]] = {}


@registry.event
class ServerUnshelveFailed(DomainEvent, frozen=True):
    """The guest could not be booted on ``host``; nothing is left there, the
    server is SHELVED_OFFLOADED again with this fault. Appended with the host's
    claim release."""

    server_id: str
    host: str
    reason: str
